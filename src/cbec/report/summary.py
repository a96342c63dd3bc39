"""The short summary printed on the terminal at the end of a run (Snakefile ``onsuccess``):
the headline estimate with its confidence interval, the warnings the steps logged, and where
the report is. Read from the run's files only; never raises (a summary must not fail a run).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scipy import stats

from cbec.tables import labels as L

__all__ = ["headline", "result_warnings", "run_summary", "warnings_of_run"]

_WARNING = re.compile(r"^\S+ \S+ (WARNING|ERROR) ([^:]+): (.*)$")


def headline(est: Mapping[str, Any], column: str, coef: str) -> str | None:
    """ "Table 2 (2): platform 0.093 (95% CI 0.073 to 0.113; wild bootstrap 0.074 to 0.113)"."""
    col = next((c for c in est.get("columns", []) if c.get("label") == column), None)
    c = (col or {}).get("coef", {}).get(coef)
    if not c or c.get("b") is None or c.get("se") is None:
        return None
    b, se = float(c["b"]), float(c["se"])
    g = (col.get("stats") or {}).get("n_clusters")
    q = float(stats.t.ppf(0.975, int(g) - 1)) if g and int(g) > 1 else 1.96
    num = "".join(ch for ch in str(est.get("table", "")) if ch.isdigit())
    line = (
        f"Table {num} {column}: effect of {L.var_label(coef, 'en', 'label').lower()} on "
        f"{L.var_label(str(col.get('depvar', '')), 'en', 'label').lower()} {b:.3f} "
        f"(95% CI {b - q * se:.3f} to {b + q * se:.3f}"
    )
    wild = (col.get("stats") or {}).get("wild_ci")
    if isinstance(wild, list) and len(wild) == 2 and None not in wild:
        line += f"; wild cluster bootstrap {wild[0]:.3f} to {wild[1]:.3f}"
    return line + ")"


#: log names (prefixes) of the steps that check the run against the synthetic truth; their
#: warnings concern the validation, not the paper's results (the scorecard, which runs on
#: any data, logs none)
VALIDATION_STEPS = ("oracle_table", "bias_budget", "validate_")


def _is_validation(step: str) -> bool:
    return step.startswith(VALIDATION_STEPS)


def warnings_of_run(log_dir: Path) -> list[str]:
    """The WARNING / ERROR lines of the steps' logs as "step: message"; messages of one step
    that differ only in their numbers are shown once, with how often they occurred. A message
    a validation step (:data:`VALIDATION_STEPS`, e.g. the oracle tables re-estimating a
    table's specification on the truth) repeats word for word from a step of the pipeline is
    left out; its other messages are labelled "validation only"."""
    groups: dict[tuple[str, str], list[str]] = {}
    for path in sorted(log_dir.glob("*.log")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            m = _WARNING.match(line)
            if m:
                msg = m[3] + (" (error)" if m[1] == "ERROR" else "")
                groups.setdefault((path.stem, re.sub(r"\d+", "#", msg)), []).append(msg)
    pipeline = {m for (step, _), msgs in groups.items() if not _is_validation(step) for m in msgs}
    out = []
    for (step, _), msgs in groups.items():
        msgs = list(dict.fromkeys(msgs))
        if _is_validation(step):
            msgs = [m for m in msgs if m not in pipeline]
            step = f"{step} (validation only)"
        if msgs:
            more = f" (and {len(msgs) - 1} similar)" if len(msgs) > 1 else ""
            out.append(f"{step}: {msgs[0]}{more}")
    return out


#: first-stage F below which an instrument counts as weak (Stock-Yogo rule of thumb)
WEAK_F = 10.0


def result_warnings(root: Path) -> list[str]:
    """Warnings read from the results: weak first stages (Kleibergen-Paap Wald F below
    :data:`WEAK_F`), columns not estimated, measures estimated on a fallback pool or failed."""
    out: list[str] = []
    for path in sorted((root / "results" / "estimates").glob("*.json")):
        est = json.loads(path.read_text(encoding="utf-8"))
        for col in est.get("columns") or []:
            st, lab = col.get("stats") or {}, f"{path.stem} {col.get('label', '')}"
            f = st.get("kp_wald_f")
            if col.get("estimator") == "first_stage" and f is not None and f < WEAK_F:
                out.append(f"{lab}: weak instrument (Kleibergen-Paap Wald F {f:.2f} < {WEAK_F:g})")
            if st.get("not_estimated"):
                out.append(f"{lab}: not estimated ({st['not_estimated']})")
    diag = root / "results" / "measures" / "diagnostics.csv"
    if diag.is_file():
        import polars as pl

        d = pl.read_csv(diag, infer_schema_length=None)
        if {"fallback", "measure", "ind2"} <= set(d.columns):
            for (measure,), g in d.filter(pl.col("fallback") != "none").group_by(
                ["measure"], maintain_order=True
            ):
                inds = ", ".join(sorted(map(str, g["ind2"].to_list())))
                out.append(f"{measure}: industries estimated on a fallback pool or failed: {inds}")
    return out


def run_summary(
    root: Path, table: str = "table2", column: str = "(2)", coef: str = "platform", limit: int = 12
) -> str:
    """The end-of-run summary of the workflow rooted at ``root``."""
    lines = ["", "Run summary", "-----------"]
    try:
        path = root / "results" / "estimates" / f"{table}.json"
        if path.is_file():
            head = headline(json.loads(path.read_text(encoding="utf-8")), column, coef)
            lines.append(head or f"{table} {column}: no estimate of {coef}")
        else:
            lines.append(f"{table}: not built in this run")
        warns = result_warnings(root) + warnings_of_run(root / "results" / "logs")
        lines.append(f"Warnings raised during the run: {len(warns)}")
        lines += [f"  - {w}" for w in warns[:limit]]
        if len(warns) > limit:
            lines.append(f"  ... and {len(warns) - limit} more in results/logs/")
        report = root / "results" / "report.html"
        if report.is_file():
            lines.append("Report: results/report.html (open it in a browser; works offline)")
        lines.append("Tables: results/tables/ (tex, md, html, docx; all in tables.xlsx)")
    except Exception as err:  # noqa: BLE001 - the summary never fails a finished run
        lines.append(f"(summary incomplete: {type(err).__name__})")
    return "\n".join(lines) + "\n"

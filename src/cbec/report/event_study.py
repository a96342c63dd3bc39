"""Table 8: the effect of joining the platform on CU by years relative to joining.

Runs the heterogeneity-robust event-study estimators of :mod:`cbec.estimation.staggered`
(dynamic TWFE, Sun-Abraham, did2s) and the static TWFE benchmark on the analysis sample and
returns the estimates JSON (DESIGN.md column format: one column per estimator, coefficients
``rel_-5`` .. ``rel_5`` and ``att``; ``stats`` with the joint pre-trend test) plus a tidy
``path`` list for the event-study figure.

Cohort: the adoption year column (``join_year``). Firms joining after the last sample year
are never observed treated; by default (``late_cohorts="never"``) they are coded as never
treated, so that their pre-joining years do not enter the lead coefficients as if the
adoption were within the panel (``"keep"`` keeps them as cohorts).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time as time_mod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from cbec.estimation import staggered as st

__all__ = ["ESTIMATORS", "event_study_estimates", "prepare_cohort", "run_table8"]

# estimator key -> (header, function)
ESTIMATORS: dict[str, tuple[str, Callable[..., st.EventStudyResult]]] = {
    "twfe": ("Dynamic TWFE", st.dynamic_twfe),
    "sun_abraham": ("Sun-Abraham", st.sun_abraham),
    "did2s": ("did2s (Gardner)", st.did2s),
}
FALLBACK_FE = ["firm_id", "year"]

log = logging.getLogger("cbec.report.event_study")


def prepare_cohort(
    sample: pl.DataFrame,
    cohort: str = "join_year",
    time: str = "year",
    late_cohorts: str = "never",
) -> pl.DataFrame:
    """Add the column ``cohort_es``: the adoption year, null for never-treated firms and (with
    ``late_cohorts="never"``) for firms joining after the sample's last year."""
    if cohort not in sample.columns:
        raise KeyError(f"cohort column {cohort!r} not in the analysis sample")
    g = pl.col(cohort).cast(pl.Int64)
    if late_cohorts == "never":
        last = int(sample[time].max())
        g = pl.when(g <= last).then(g).otherwise(None)
    elif late_cohorts != "keep":
        raise ValueError(f"late_cohorts must be 'never' or 'keep', got {late_cohorts!r}")
    return sample.with_columns(g.alias("cohort_es"))


def _coef(b: float | None, se: float | None, dfd: int) -> dict[str, float | None]:
    from scipy import stats

    if b is None or se is None or not se > 0:
        return {"b": b, "se": se, "t": None, "p": None}
    t = b / se
    return {"b": b, "se": se, "t": t, "p": float(2 * stats.t.sf(abs(t), max(dfd, 1)))}


def _canonical_note(note: str) -> str:
    """Sort ``{2010: -3, 2009: -2}``-style mappings inside a note (their order comes from a
    parallel group-by and would make the JSON differ between identical runs)."""

    def sort_map(m: re.Match[str]) -> str:
        pairs = re.findall(r"(-?\d+): (-?\d+)", m.group(0))
        return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(pairs, key=lambda p: int(p[0]))) + "}"

    return re.sub(r"\{-?\d+: -?\d+(?:, -?\d+: -?\d+)*\}", sort_map, note)


def _rel_name(b: int) -> str:
    return f"rel_{b}"


def _run_one(
    key: str,
    fn: Callable[..., st.EventStudyResult],
    data: pl.DataFrame,
    kw: dict[str, Any],
    fe: Sequence[str],
) -> tuple[st.EventStudyResult | None, list[str]]:
    """Fit with the paper's FE; if the estimator rejects them, retry with firm + year FE."""
    try:
        return fn(data, fe=list(fe), **kw), []
    except Exception as err:  # noqa: BLE001 - report which FE the estimator accepted
        msg = f"{key}: did not accept the paper's fixed effects ({type(err).__name__}: {err})"
        try:
            res = fn(data, fe=FALLBACK_FE, **kw)
        except Exception as err2:  # noqa: BLE001
            return None, [msg + f"; failed with firm + year FE too ({type(err2).__name__})"]
        return res, [msg + "; estimated with firm + year FE instead"]


def event_study_estimates(
    sample: pl.DataFrame,
    spec: Mapping[str, Any],
    name: str = "table8",
) -> dict[str, Any]:
    """Estimates JSON of the event-study table.

    ``spec`` keys: depvar, cohort, unit, time, fixed_effects, cluster, window [lo, hi], ref,
    late_cohorts, controls (list of names, may be empty), estimators (subset of ESTIMATORS).
    """
    y = spec.get("depvar", "cu")
    unit, time = spec.get("unit", "firm_id"), spec.get("time", "year")
    fe = list(spec.get("fixed_effects", st.PAPER_FE))
    cluster = spec.get("cluster", "firm_id")
    window = tuple(spec.get("window", st.DEFAULT_WINDOW))
    ref = int(spec.get("ref", -1))
    controls = list(spec.get("controls") or [])
    d = prepare_cohort(
        sample, spec.get("cohort", "join_year"), time, spec.get("late_cohorts", "never")
    )
    kw = dict(y=y, unit=unit, time=time, cohort="cohort_es", cluster=cluster)
    kw_es = dict(kw, window=window, ref=ref, controls=controls or None)
    columns, path, notes = [], [], []
    n_late = d.filter(
        pl.col(spec.get("cohort", "join_year")).is_not_null() & pl.col("cohort_es").is_null()
    )[unit].n_unique()
    if n_late:
        notes.append(f"{n_late} firms joining after {int(d[time].max())} coded as never treated")
    for i, key in enumerate(spec.get("estimators", list(ESTIMATORS))):
        header, fn = ESTIMATORS[key]
        t0 = time_mod.perf_counter()
        log.info("%s: %s on %d firm-years ...", name, key, d.height)
        res, msgs = _run_one(key, fn, d, kw_es, fe)
        notes += msgs
        if res is None:
            log.warning("%s: %s not estimated: %s", name, key, msgs)
            continue
        log.info(
            "%s: %s done in %.1f s: ATT %.4f (s.e. %.4f), pre-trend p %.3f",
            name,
            key,
            time_mod.perf_counter() - t0,
            res.att["estimate"],
            res.att["se"],
            res.pretrend["p_value"],
        )
        dfd = max(res.n_clusters - 1, 1)
        coef = {}
        for row in res.path.iter_rows(named=True):
            if row["is_reference"]:
                continue
            coef[_rel_name(row["rel_time"])] = _coef(row["estimate"], row["se"], dfd)
        coef["att"] = _coef(res.att["estimate"], res.att["se"], dfd)
        notes += [f"{key}: {_canonical_note(n)}" for n in res.notes]
        columns.append(
            {
                "label": f"({i + 1})",
                "header": header,
                "depvar": y,
                "estimator": key,
                "fixed_effects": res.fixed_effects,
                "vcov": res.vcov,
                "coef": coef,
                "nobs": res.nobs,
                "stats": {
                    "pretrend_f": res.pretrend["f_stat"],
                    "pretrend_p": res.pretrend["p_value"],
                    "n_clusters": res.n_clusters,
                },
                "att": res.att,
                "pretrend": res.pretrend,
            }
        )
        path += res.tidy().with_columns(pl.col("rel_time")).to_dicts()
    # static TWFE benchmark
    try:
        s = st.static_twfe(d, fe=fe, controls=controls or None, **kw)
        fe_used = fe
    except Exception as err:  # noqa: BLE001
        notes.append(
            f"static_twfe: did not accept the paper's fixed effects ({err}); firm + year FE"
        )
        s = st.static_twfe(d, fe=FALLBACK_FE, controls=controls or None, **kw)
        fe_used = FALLBACK_FE
    columns.append(
        {
            "label": f"({len(columns) + 1})",
            "header": "Static TWFE",
            "depvar": y,
            "estimator": "static_twfe",
            "fixed_effects": list(fe_used),
            "vcov": f"CRV1:{cluster}",
            "coef": {"att": _coef(s["estimate"], s["se"], s["n_clusters"] - 1)},
            "nobs": s["nobs"],
            "stats": {"n_clusters": s["n_clusters"]},
        }
    )
    if not any("did not accept" in n for n in notes):
        notes.append("every estimator accepted the paper's fixed effects (" + " + ".join(fe) + ")")
    notes.append(
        "rel_k: effect k years after joining (reference k = "
        f"{ref}; endpoints {window[0]} and {window[1]} pool earlier / later years); att: average "
        "post-joining effect weighted by treated firm-years (static TWFE: the single post dummy); "
        "pretrend_f / pretrend_p: joint F test that all leads are zero"
    )
    return _finite(
        {
            "table": name,
            "title": spec.get(
                "title", "Event study: effect of joining the platform by years since joining"
            ),
            "columns": columns,
            "path": path,
            "window": list(window),
            "ref": ref,
            "notes": notes,
        }
    )


def run_table8(
    sample_path: str | Path,
    outputs: Mapping[str, str],
    spec: Mapping[str, Any],
    style: Mapping[str, Any],
    name: str = "table8",
) -> dict[str, Any]:
    """Estimate, write ``outputs['estimates']``, the tex/md/html table and the event-study
    figure (``outputs['png']``, ``outputs['pdf']``)."""
    from cbec.data.io import write_text_atomic
    from cbec.report.figures import fig_event_study, save_figure
    from cbec.tables.render import write_table

    need = {
        spec.get("depvar", "cu"),
        spec.get("cohort", "join_year"),
        spec.get("unit", "firm_id"),
        spec.get("time", "year"),
        spec.get("cluster", "firm_id"),
        *(spec.get("controls") or []),
        *(p.strip() for f in spec.get("fixed_effects", st.PAPER_FE) for p in f.split("^")),
    }
    sample = pl.read_parquet(sample_path, columns=sorted(need))
    est = _finite(event_study_estimates(sample, spec, name))
    write_text_atomic(
        json.dumps(est, indent=2, ensure_ascii=False, allow_nan=False), outputs["estimates"]
    )
    table_est = dict(est, notes="; ".join(est["notes"]))
    write_table(
        table_est,
        {fmt: Path(outputs[fmt]) for fmt in ("tex", "md", "html")},
        stat=style.get("stat", "t"),
        lang=style.get("lang", "en"),
        coef_order=[k for c in est["columns"] for k in c["coef"]],
        stats_keys=["pretrend_f", "pretrend_p", "n_clusters"],
    )
    fig = fig_event_study(est["path"])
    stem = Path(outputs["png"]).with_suffix("")
    save_figure(fig, stem, ("png", "pdf"), dpi=int(spec.get("dpi", 120)))
    return est


def _finite(obj: Any) -> Any:
    """Recursively replace NaN / inf by None (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj

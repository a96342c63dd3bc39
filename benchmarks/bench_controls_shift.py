"""Which of the paper's controls move Table 2's platform coefficient, in the pipeline and the truth.

    python benchmarks/bench_controls_shift.py RUN_DIR [--md OUT.md] [--json OUT.json]

RUN_DIR: a finished synthetic run (results/, resources/truth/ and the config.yaml the run
used). Table 2 column (2)'s specification (cbec.config.headline_spec) without and with the
controls, on the same rows, twice: on the pipeline's data (measured CU, matched platform
status) and on the oracle sample of the scorecard (cbec.validation.oracle: the true u and
true platform status, the controls as the pipeline builds them). The shift (with minus
without) is split over the controls exactly (cbec.validation.controls_shift: -gamma_k pi_k),
with the one-at-a-time drop and add variants, and set beside the paper's Table 2 (0.091 ->
0.090) and the published control coefficients. Nothing here is fitted: it reads the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from cbec.config import headline_spec
from cbec.validation.controls_shift import controls_shift, shift_sample
from cbec.validation.oracle import oracle_sample
from cbec.validation.paper import load_paper_results


def load(run_dir: Path) -> dict[str, Any]:
    """The pipeline's analysis sample, its oracle version and the run's reference numbers."""
    res, tru = run_dir / "results", run_dir / "resources" / "truth"
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    sample = pl.read_parquet(res / "analysis" / "sample.parquet")
    panel = pl.read_parquet(
        res / "interim" / "asif_panel.parquet", columns=["row_id", "year", "firm_id"]
    )
    fy, firms = pl.read_parquet(tru / "firm_year.parquet"), pl.read_parquet(tru / "firms.parquet")
    oracle, dropped = oracle_sample(sample, panel, fy, firms)
    params = json.loads((tru / "params.json").read_text())
    return {
        "spec": headline_spec(cfg),
        "pipeline": sample,
        "oracle": oracle,
        "rows_without_truth": dropped,
        "seed": params.get("seed"),
        "oracle_twfe": params["calibration"]["utilization"]["oracle_twfe_alibaba"],
        "table2": json.loads((res / "estimates" / "table2.json").read_text()),
        "oracle_tables": json.loads((res / "validation" / "oracle_tables.json").read_text()),
    }


def published(d: dict[str, Any]) -> dict[str, Any]:
    """Table 2 (1) and (2) platform and control coefficients as the run wrote them, and the
    paper's."""
    spec = d["spec"]
    t, ctrl = spec["treatment"], spec["controls"]
    run = d["table2"]["columns"]
    orc = d["oracle_tables"]["tables"]["table2"]["columns"]
    paper = load_paper_results()["table2"]["columns"]
    return {
        "pipeline": [run[i]["coef"][t]["b"] for i in (0, 1)],
        "pipeline_n": [run[i]["nobs"] for i in (0, 1)],
        "oracle": [orc[i]["coef"][t]["b"] for i in (0, 1)],
        "paper": [paper[i]["coef"][t]["b"] for i in (0, 1)],
        "paper_controls": {k: paper[1]["coef"][k]["b"] for k in ctrl if k in paper[1]["coef"]},
        "oracle_twfe": d["oracle_twfe"],
    }


def estimate(d: dict[str, Any]) -> dict[str, Any]:
    """The controls' shift on the pipeline's data and on the oracle sample."""
    spec = d["spec"]
    y, t, ctrl = spec["depvar"], spec["treatment"], list(spec["controls"])
    fe, cl = list(spec["fixed_effects"]), spec["cluster"]
    out = {}
    for key in ("pipeline", "oracle"):
        s = shift_sample(d[key], y, t, ctrl, fe, cl)
        out[key] = controls_shift(s, y, t, ctrl, cl)
    return out


def _f(x: float | None, nd: int = 4) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def report(pub: dict[str, Any], est: dict[str, Any], title: str) -> str:
    """Markdown: the shifts (pipeline, truth, paper) and each control's part of them."""
    p, o = est["pipeline"], est["oracle"]
    pp = pub["paper"]
    md = [
        f"### {title}",
        "",
        "| | Table 2 (1) | Table 2 (2) | shift (2) − (1) | shift / (1) |",
        "|---|---:|---:|---:|---:|",
        f"| paper | {pp[0]:.3f} | {pp[1]:.3f} | {pp[1] - pp[0]:+.3f} | "
        f"{(pp[1] - pp[0]) / pp[0]:+.1%} |",
    ]
    for name, key, tab in (("pipeline", "pipeline", p), ("truth (oracle sample)", "oracle", o)):
        b = pub[key]
        md.append(
            f"| {name}, as in the run's JSON | {b[0]:.4f} | {b[1]:.4f} | {b[1] - b[0]:+.4f} | "
            f"{(b[1] - b[0]) / b[0]:+.1%} |"
        )
        md.append(
            f"| {name}, same rows (N {tab['nobs']:,}) | {tab['without']['b']:.4f} | "
            f"{tab['with']['b']:.4f} | {tab['shift']:+.4f} | "
            f"{tab['shift'] / tab['without']['b']:+.1%} |"
        )
    md += [
        "",
        f"World's oracle TWFE (params.json, no controls, both platforms): "
        f"{_f(pub['oracle_twfe'])}; Table 2 (2) oracle minus it: "
        f"{pub['oracle'][1] - pub['oracle_twfe']:+.4f}.",
        "",
        "Per control (γ: its coefficient in column (2); π: the platform's coefficient in the "
        "regression of the control on the platform with the same fixed effects and rows; "
        "part: −γπ, the parts add up to the shift; drop: column (2) minus column (2) without "
        "that control; add: column (1) with that control alone minus column (1)):",
        "",
        "| control | paper γ | pipeline γ | truth γ | truth π | truth part | share | "
        "truth drop | truth add | pipeline part |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rp, ro in zip(p["controls"], o["controls"], strict=True):
        k = ro["control"]
        share = ro["contribution"] / o["shift"] if o["shift"] else None
        md.append(
            f"| {k} | {_f(pub['paper_controls'].get(k), 3)} | {_f(rp['gamma'])} | "
            f"{_f(ro['gamma'])} | {_f(ro['pi'])} | {ro['contribution']:+.4f} | "
            f"{'–' if share is None else f'{share:.0%}'} | {ro['drop_one']:+.4f} | "
            f"{ro['add_one']:+.4f} | {rp['contribution']:+.4f} |"
        )
    md.append(
        f"| sum | | | | | {o['sum_of_contributions']:+.4f} | | | | "
        f"{p['sum_of_contributions']:+.4f} |"
    )
    return "\n".join(md)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--md", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--title", default="Table 2: the controls' shift of the platform coefficient")
    a = ap.parse_args(argv)
    # the ownership dummies are nearly constant within firms: dropped as collinear (reported)
    warnings.filterwarnings("ignore", message="collinear variables dropped")
    d = load(a.run_dir)
    pub, est = published(d), estimate(d)
    md = report(pub, est, f"{a.title} (seed {d['seed']})")
    print(md)
    if a.md:
        a.md.write_text(md + "\n")
    if a.json:
        a.json.write_text(json.dumps({"published": pub, "estimates": est}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

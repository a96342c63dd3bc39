"""Where the measured YJZ CU attenuates Table 2 column (2): a ladder of outcome variants.

    python benchmarks/bench_cu_attenuation.py RUN_DIR [--md OUT.md] [--json OUT.json]

RUN_DIR: a finished synthetic run (results/, resources/truth/ and the config.yaml the run
used, with any ``--configfile`` merged in; about 15 s on the paper preset). On the analysis sample
with the true platform status (true links), Table 2 column (2) (controls, the table's fixed
effects, clustered by firm; the bias budget's code path) is re-estimated on outcomes that
move one step at a time from the true u to the pipeline's cu (rungs:
:mod:`cbec.validation.cu_ladder`), then with the matched links (the pipeline's estimate).
Two orders: the cap at 1 applied once after the last uncapped rung (main path), and on
every rung. Checks printed: the rebuilt capped CU against results/measures/cu.parquet and
the last rung against results/estimates/table2.json. Nothing here is fitted to the truth:
θ̂ and the normalization are the pipeline's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl
import yaml

from cbec.config import headline_spec
from cbec.validation.bias_budget import attach_truth, first_coef
from cbec.validation.cu_ladder import ALONE, CAPPED, MAIN, add_rungs, ladder, ladder_md


def _with_truth(df: pl.DataFrame, panel: pl.DataFrame, fy: pl.DataFrame) -> pl.DataFrame:
    """``df`` with its true firm, u, platform, ln δ and ln dep_rate."""
    delta = fy.select(pl.col("true_firm").cast(pl.Int64), "year", pl.col("delta").log())
    return (
        attach_truth(df, panel, fy)
        .join(delta.rename({"delta": "ln_delta"}), on=["true_firm", "year"], how="left")
        .with_columns(
            pl.when(pl.col("dep_rate") > 0).then(pl.col("dep_rate").log()).alias("ln_dep"),
            pl.col("ind2").cast(pl.String),
        )
    )


def load(run_dir: Path) -> dict:
    """The sample and the measures' rows of the panel with the truth and the rungs."""
    res, tru = run_dir / "results", run_dir / "resources" / "truth"
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    y = cfg["measures"]["yjz"]
    norm = (y.get("norm_method", "quantile"), y["norm_quantile"], y["norm_value"])
    cap = y.get("cap")  # the measures' cap (None: uncapped)
    noise_path = res / "measures" / "book_noise.json"  # absent in runs before the rule
    noise_var = json.loads(noise_path.read_text())["var"] if noise_path.exists() else None
    params = json.loads((tru / "params.json").read_text())
    theta = float(params["params"]["production"]["dep_theta"])
    diag = pl.read_csv(res / "measures" / "diagnostics.csv", infer_schema_length=None)
    diag = diag.filter((pl.col("measure") == "cu") & pl.col("theta").is_not_null())
    theta_hat = {f"{int(g):02d}": float(t) for g, t in diag.select("ind2", "theta").iter_rows()}
    fy = pl.read_parquet(tru / "firm_year.parquet")
    keys = pl.read_parquet(
        res / "interim" / "asif_panel.parquet", columns=["row_id", "year", "firm_id"]
    )
    rows = pl.read_parquet(
        res / "panel" / "panel.parquet", columns=["firm_id", "year", "ind2", "dep_rate"]
    )
    rows = _with_truth(rows, keys, fy).filter(
        pl.col("ind2").is_in(list(theta_hat)) & pl.col("ln_dep").is_finite()
    )
    sample = _with_truth(pl.read_parquet(res / "analysis" / "sample.parquet"), keys, fy)
    return {
        "sample": add_rungs(sample, rows, theta, theta_hat, norm, cap, noise_var),
        "rows": add_rungs(rows, rows, theta, theta_hat, norm, cap, noise_var),
        "cap": cap,
        "theta": theta,
        "theta_hat": theta_hat,
        "spec": headline_spec(cfg),
        "res": res,
        "params": params,
    }


def estimates(d: dict) -> dict[str, dict]:
    """Table 2 column (2) on every rung (true links) and the pipeline's (matched links)."""
    s, spec = d["sample"], d["spec"]
    ctrl, fe, cl = list(spec["controls"]), list(spec["fixed_effects"]), spec["cluster"]
    known = s.filter(pl.col("true_firm").is_not_null())
    out = {}
    for col in dict.fromkeys(c for _, _, c in MAIN + CAPPED + ALONE):
        out[col] = {
            **first_coef(known, col, ["true_platform", *ctrl], fe, cl),
            "ymean": known[col].mean(),
        }
    out["pipeline"] = {
        **first_coef(s, spec["depvar"], [spec["treatment"], *ctrl], fe, cl),
        "ymean": s[spec["depvar"]].mean(),
    }
    return out


def checks(d: dict, est: dict) -> dict:
    """The rebuilt CU against the measures' cu, the pipeline rung against table2.json, and
    a few descriptive numbers of the rungs."""
    cu = pl.read_parquet(d["res"] / "measures" / "cu.parquet", columns=["firm_id", "year", "cu"])
    r = d["rows"].join(cu, on=["firm_id", "year"], how="left")
    t2 = json.loads((d["res"] / "estimates" / "table2.json").read_text())
    col2 = t2["columns"][1]["coef"]["platform"]["b"]
    s = d["sample"]
    ratio = [d["theta_hat"][g] / d["theta"] for g in sorted(d["theta_hat"])]
    ln_noise = s["ln_dep"] - s["ln_year"]
    return {
        "measures_cap": d["cap"],
        "max_abs_diff_rebuilt_vs_measures_cu": float((r["r_book_measures"] - r["cu"]).abs().max()),
        "rows_compared": int(r["cu"].is_not_null().sum()),
        "table2_col2": col2,
        "pipeline_minus_table2": est["pipeline"]["b"] - col2,
        "theta": d["theta"],
        "theta_hat_over_theta_median": float(sorted(ratio)[len(ratio) // 2]),
        "theta_hat_over_theta_range": [min(ratio), max(ratio)],
        "share_capped_sample": float((s["r_book"] >= 1).mean()),
        "share_capped_treated": float(
            (s.filter(pl.col("true_platform") == 1)["r_book"] >= 1).mean()
        ),
        "share_capped_untreated": float(
            (s.filter(pl.col("true_platform") == 0)["r_book"] >= 1).mean()
        ),
        "share_capped_noise_free": float((s["r_year"] >= 1).mean()),
        "share_capped_treated_noise_free_same_level": float(
            (s.filter(pl.col("true_platform") == 1)["r_level"] >= 1).mean()
        ),
        "sd_ln_book_noise_sample": float(ln_noise.std()),
        "share_ln_book_noise_below_-0.6": float((ln_noise < -0.6).mean()),
    }


def report(d: dict, est: dict, chk: dict, title: str) -> tuple[dict, str]:
    """The ladders (json) and their markdown."""
    main_path = [*MAIN, ("links", "matched links (the pipeline: Table 2 column (2))", "pipeline")]
    lads = {"main": ladder(est, main_path), "capped": ladder(est, CAPPED)}
    md = [
        f"### {title}",
        "",
        ladder_md(lads["main"], f"Main path (the measures' cap: {d['cap']}, after the book rate)"),
        "",
        ladder_md(lads["capped"], "The same rungs, each capped at 1"),
        "",
        _alone_md(est),
        "",
        "Checks: " + ", ".join(f"{k} {_fmt(v)}" for k, v in chk.items()),
    ]
    return {"title": title, "ladders": lads, "checks": chk}, "\n".join(md)


def _alone_md(est: dict) -> str:
    """One ingredient made right at a time, against the oracle and the cu capped at 1."""
    o, cu = est["true_u"]["b"], est["r_book_cap"]["b"]
    out = [
        "**One ingredient made right at a time (true links; diagnostics)**",
        "",
        f"| variant | estimate | / oracle | change from the cu capped at 1 ({cu:.4f}) |",
        "|---|---:|---:|---:|",
    ]
    for _, label, col in ALONE:
        b = est[col]["b"]
        out.append(f"| {label} | {b:.4f} | {b / o:.3f} | {b - cu:+.4f} |")
    return "\n".join(out)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(f"{x:.3f}" for x in v) + "]"
    return str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--title", default="paper preset")
    ap.add_argument("--md", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    d = load(a.run_dir)
    est = estimates(d)
    out, md = report(d, est, checks(d, est), a.title)
    print(md, flush=True)
    if a.md:
        Path(a.md).write_text(md + "\n")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

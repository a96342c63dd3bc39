"""Recovery of the firm-level measures against the synthetic world's truth.

Usage::

    python benchmarks/bench_measures.py RESULTS_DIR RESOURCES_DIR [--json OUT.json]

Reads ``RESULTS_DIR/panel/panel.parquet``, ``RESULTS_DIR/measures/{tfp,cu}.parquet`` and
``diagnostics.csv``, and the truth ``RESOURCES_DIR/truth/{firm_year.parquet,params.json}``
(panel rows map to the truth by ``row_id = year * 10_000_000 + asif_row``). Prints, per
measure: the correlation with the truth (``cu``, ``cu_sfa_*`` with u; ``tfp_*`` with ω) pooled
and within industry (both demeaned by industry), the median per-industry correlation,
the response to platform adoption (firm and year fixed effects; for the CU measures next to
the same regression on the true u), median estimated elasticities against the true ones
(and the share of industries within 0.03), YJZ θ against the planted θ, and the share of
industries that used a fallback pool. Writes the numbers as JSON (default
``RESULTS_DIR/benchmarks/bench_measures.json``).

Issue targets (synthetic paper preset): corr(cu, u) >= 0.8; corr(tfp_lp, ω) and
corr(tfp_op, ω) >= 0.8; elasticities within 0.03 of the truth.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import polars as pl

CU_MEASURES = ["cu", "cu_sfa_cd", "cu_sfa_tl"]
TFP_MEASURES = ["tfp_lp", "tfp_op"]


def load(results: Path, resources: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Panel rows with their measures and true u, ω; the diagnostics; params.json."""
    panel = pl.read_parquet(
        results / "panel" / "panel.parquet",
        columns=["row_id", "firm_id", "year", "ind2", "platform"],
    )
    tfp = pl.read_parquet(results / "measures" / "tfp.parquet")
    cu = pl.read_parquet(results / "measures" / "cu.parquet")
    truth = pl.read_parquet(
        resources / "truth" / "firm_year.parquet", columns=["year", "asif_row", "u", "omega"]
    ).select(
        (pl.col("year").cast(pl.Int64) * 10_000_000 + pl.col("asif_row").cast(pl.Int64)).alias(
            "row_id"
        ),
        "u",
        "omega",
    )
    keys = ["firm_id", "year"]
    df = (
        panel.with_columns(pl.col("firm_id", "year").cast(pl.Int64))
        .join(tfp.with_columns(pl.col(keys).cast(pl.Int64)), on=keys, how="left")
        .join(cu.with_columns(pl.col(keys).cast(pl.Int64)), on=keys, how="left")
        .join(truth, on="row_id", how="left")
    )
    diag = pl.read_csv(
        results / "measures" / "diagnostics.csv", schema_overrides={"ind2": pl.String}
    )
    params = json.loads((resources / "truth" / "params.json").read_text())
    return df, diag, params


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def correlations(df: pl.DataFrame, measure: str, target: str) -> dict[str, float]:
    """Pooled, within-industry and median per-industry correlation of measure with target."""
    d = df.filter(pl.col(measure).is_finite() & pl.col(target).is_finite())
    if d.height == 0:
        return {
            "n": 0,
            "pooled": math.nan,
            "within_industry": math.nan,
            "median_industry": math.nan,
        }
    w = d.with_columns(
        (pl.col(c) - pl.col(c).mean().over("ind2")).alias(f"{c}_w") for c in (measure, target)
    )
    per = [
        _corr(g[measure].to_numpy(), g[target].to_numpy())
        for _, g in d.group_by("ind2")
        if g.height >= 30
    ]
    return {
        "n": d.height,
        "pooled": _corr(d[measure].to_numpy(), d[target].to_numpy()),
        "within_industry": _corr(w[f"{measure}_w"].to_numpy(), w[f"{target}_w"].to_numpy()),
        "median_industry": float(np.nanmedian(per)) if per else math.nan,
    }


def platform_effect(df: pl.DataFrame, y: str) -> float:
    """Coefficient of platform in y ~ platform | firm + year (rows with y finite)."""
    d = df.filter(pl.col(y).is_finite() & pl.col("platform").is_not_null()).select(
        "firm_id", "year", pl.col("platform").cast(pl.Float64), pl.col(y).cast(pl.Float64)
    )
    if d.height < 10 or d["platform"].std() == 0:
        return math.nan
    # two-way within transformation by alternating projections
    yv, xv = d[y].to_numpy().copy(), d["platform"].to_numpy().copy()
    f = d["firm_id"].rank("dense").to_numpy().astype(np.int64) - 1
    t = d["year"].rank("dense").to_numpy().astype(np.int64) - 1
    for _ in range(200):
        prev = xv.copy()
        for g in (f, t):
            cnt = np.bincount(g)
            yv -= (np.bincount(g, yv) / cnt)[g]
            xv -= (np.bincount(g, xv) / cnt)[g]
        if np.max(np.abs(xv - prev)) < 1e-10:
            break
    den = float(xv @ xv)
    return float(xv @ yv / den) if den > 0 else math.nan


def elasticities(diag: pl.DataFrame, measure: str, params: dict) -> dict[str, float]:
    """Median estimated b_l, b_k over industries against the true medians; abs. errors."""
    true_l, true_k = params["elasticities"]["beta_l"], params["elasticities"]["beta_k"]
    d = diag.filter((pl.col("measure") == measure) & pl.col("b_l").is_not_null())
    out: dict[str, float] = {}
    for name, truth in (("b_l", true_l), ("b_k", true_k)):
        est = d[name].to_numpy()
        tru = np.array([truth.get(i, np.nan) for i in d["ind2"].to_list()], dtype=float)
        err = est - tru
        ok = np.isfinite(err)
        out[f"{name}_median"] = float(np.median(est[ok])) if ok.any() else math.nan
        out[f"{name}_true_median"] = float(np.median(tru[ok])) if ok.any() else math.nan
        out[f"{name}_median_error"] = float(np.median(err[ok])) if ok.any() else math.nan
        out[f"{name}_median_abs_error"] = (
            float(np.median(np.abs(err[ok]))) if ok.any() else math.nan
        )
        out[f"{name}_share_within_0.03"] = (
            float(np.mean(np.abs(err[ok]) <= 0.03)) if ok.any() else math.nan
        )
    return out


def fallback_share(diag: pl.DataFrame, measure: str) -> dict[str, float]:
    d = diag.filter((pl.col("measure") == measure) & (pl.col("fallback") != "empty"))
    n = d.height
    counts = d.group_by("fallback").len().to_dicts()
    return {
        "n_industries": n,
        "share_fallback": float((d["fallback"] != "none").mean()) if n else math.nan,
        **{f"n_{c['fallback']}": int(c["len"]) for c in counts},
    }


def summarize(results: Path, resources: Path) -> dict:
    df, diag, params = load(results, resources)
    theta_true = params["params"]["production"]["dep_theta"]
    out: dict = {"results": str(results), "resources": str(resources), "n_rows": df.height}
    u_effect = platform_effect(df.filter(pl.col("cu").is_finite()), "u")
    for m in CU_MEASURES:
        sub = df.filter(pl.col(m).is_finite())
        rec = {
            "corr_u": correlations(df, m, "u"),
            "corr_omega": correlations(df, m, "omega"),
            "platform_effect": platform_effect(df, m),
            "platform_effect_true_u_same_rows": platform_effect(sub, "u"),
            **fallback_share(diag, m),
        }
        if m == "cu":
            th = diag.filter((pl.col("measure") == "cu") & pl.col("theta").is_not_null())["theta"]
            rec["theta_median"] = float(th.median()) if th.len() else math.nan
            rec["theta_true"] = theta_true
        else:
            g = diag.filter((pl.col("measure") == m) & pl.col("gamma").is_not_null())
            rec["gamma_median"] = float(g["gamma"].median()) if g.height else math.nan
            rec["share_wrong_skew"] = float((g["skewness"] > 0).mean()) if g.height else math.nan
        out[m] = rec
    out["platform_effect_true_u_cu_rows"] = u_effect
    for m in TFP_MEASURES:
        out[m] = {
            "corr_omega": correlations(df, m, "omega"),
            "platform_effect": platform_effect(df, m),
            **elasticities(diag, m, params),
            **fallback_share(diag, m),
        }
    out["platform_effect_true_omega"] = platform_effect(df, "omega")
    return out


def _f(x: float) -> str:
    return "   nan" if x is None or not np.isfinite(x) else f"{x:6.3f}"


def report(s: dict) -> str:
    lines = [f"rows {s['n_rows']}  ({s['results']})", ""]
    lines.append(
        "measure     target  corr pooled  within-ind  median-ind  platform (truth)  fallback"
    )
    for m in CU_MEASURES:
        r = s[m]
        c = r["corr_u"]
        lines.append(
            f"{m:11s} u       {_f(c['pooled'])}       {_f(c['within_industry'])}      "
            f"{_f(c['median_industry'])}      {_f(r['platform_effect'])} "
            f"({_f(r['platform_effect_true_u_same_rows'])})  {_f(r['share_fallback'])}"
        )
    for m in TFP_MEASURES:
        r = s[m]
        c = r["corr_omega"]
        lines.append(
            f"{m:11s} omega   {_f(c['pooled'])}       {_f(c['within_industry'])}      "
            f"{_f(c['median_industry'])}      {_f(r['platform_effect'])} "
            f"({_f(s['platform_effect_true_omega'])})  {_f(r['share_fallback'])}"
        )
    lines.append("")
    for m in TFP_MEASURES:
        r = s[m]
        lines.append(
            f"{m}: median b_l {_f(r['b_l_median'])} (true {_f(r['b_l_true_median'])}), "
            f"median |err| {_f(r['b_l_median_abs_error'])}, within 0.03: "
            f"{_f(r['b_l_share_within_0.03'])}; median b_k {_f(r['b_k_median'])} "
            f"(true {_f(r['b_k_true_median'])}), median |err| {_f(r['b_k_median_abs_error'])}, "
            f"within 0.03: {_f(r['b_k_share_within_0.03'])}"
        )
    lines.append(
        f"cu (YJZ): median theta {_f(s['cu']['theta_median'])} (true {s['cu']['theta_true']})"
    )
    for m in ("cu_sfa_cd", "cu_sfa_tl"):
        r = s[m]
        lines.append(
            f"{m}: median gamma {_f(r['gamma_median'])}, share wrong skew "
            f"{_f(r['share_wrong_skew'])}, corr with omega (within) "
            f"{_f(r['corr_omega']['within_industry'])}"
        )
    lines.append("")
    for name, ok in targets(s).items():
        lines.append(f"target {name}: {'PASS' if ok else 'FAIL'}")
    return "\n".join(lines)


def targets(s: dict) -> dict[str, bool]:
    """The issue's recovery targets (correlations within industry: TFP levels carry the
    industry's constant, which omega does not)."""
    out = {"corr(cu, u) >= 0.8": s["cu"]["corr_u"]["within_industry"] >= 0.8}
    for m in TFP_MEASURES:
        out[f"corr({m}, omega) >= 0.8"] = s[m]["corr_omega"]["within_industry"] >= 0.8
        for b in ("b_l", "b_k"):
            out[f"{m} {b}: every industry within 0.03"] = s[m][f"{b}_share_within_0.03"] == 1.0
    for m in ("cu_sfa_cd", "cu_sfa_tl"):
        out[f"{m}: corr with u > 0 and platform effect > 0"] = bool(
            s[m]["corr_u"]["within_industry"] > 0 and s[m]["platform_effect"] > 0
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", type=Path, help="the workflow's results/ directory")
    ap.add_argument("resources", type=Path, help="the workflow's resources/ directory")
    ap.add_argument("--json", type=Path, default=None, help="summary file to write")
    a = ap.parse_args(argv)
    s = summarize(a.results, a.resources)
    s["targets"] = targets(s)
    print(report(s))
    out = a.json or a.results / "benchmarks" / "bench_measures.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(s, indent=2, default=float) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

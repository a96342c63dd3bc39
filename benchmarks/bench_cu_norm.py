"""The YJZ level normalization (``norm_method`` quantile vs deconvolved) across worlds.

Usage::

    python benchmarks/bench_cu_norm.py [--firms 8000] [--seeds 311 312] [--json OUT.json]

Each world (``cbec.synth`` with the book-depreciation noise ``sd_book_dep`` and ``dep_theta``
set, everything else default) goes through the pipeline's panel steps
(``cbec.synth.panel_view.world_panel``: true platform status, no matching); CU is the
pipeline's estimator per 2-digit industry (``dynamic`` on ``ln_k_use``, platform status in
the law of motion, the pooled θ̂ where an industry's own is invalid), normalized once with
each method on the same θ̂. Reported per world: the platform coefficient of cu on platform
with firm and industry × year effects (clustered by firm) for each method and for the true
u (the oracle), their ratio, and the level error of each method, the mean over industries of
(ln â − the 99th percentile of the noise-free ln δ)/θ̂ in ln u units (positive: u scaled
down); as a diagnostic, the coefficient ratio of each CU without the cap at 1. The seeds were not used while developing the estimator (held out); the estimator
never reads the world's noise or θ.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import polars as pl
import pyfixest as pf

from cbec.measures.cu import estimate_cu_yjz, level_ln_a
from cbec.synth.panel_view import world_panel

METHODS = ("quantile", "deconvolved")
WORLDS = [
    {"sd_book_dep": 0.0, "dep_theta": 2.0},
    {"sd_book_dep": 0.15, "dep_theta": 2.0},
    {"sd_book_dep": 0.30, "dep_theta": 2.0},
    {"sd_book_dep": 0.15, "dep_theta": 1.5},
    {"sd_book_dep": 0.15, "dep_theta": 3.0},
]


def _twfe(d: pl.DataFrame, y: str) -> float:
    """Coefficient of platform in y ~ platform | firm + ind2^year."""
    fit = pf.feols(
        f"{y} ~ platform | firm_id + ind2^year", data=d.to_pandas(), vcov={"CRV1": "firm_id"}
    )
    return float(fit.coef()["platform"])


def run_world(firms: int, seed: int, production: dict) -> dict:
    """One world: CU under each normalization, their platform effects and level errors."""
    t0 = time.perf_counter()
    d = world_panel(firms, seed, production)
    res = estimate_cu_yjz(
        d,
        va="ln_va",
        labor="ln_l",
        capital="ln_k_use",
        proxy="ln_m",
        depreciation_rate="dep_rate",
        id="firm_id",
        time="year",
        group="ind2",
        investment="ln_inv",
        strata="ind2",
        law_of_motion=("platform",),
        method="dynamic",
    )
    lnd = np.log(d["dep_rate"].cast(pl.Float64).fill_null(np.nan).to_numpy())
    ok = np.isfinite(lnd)
    ind, ids, yrs = d["ind2"].to_numpy(), d["firm_id"].to_numpy(), d["year"].to_numpy()
    signal = np.log(production["dep_a"] if "dep_a" in production else 0.12)
    signal += production["dep_theta"] * np.log(d["u"].to_numpy())
    cols = {m: np.full(d.height, np.nan) for m in METHODS}
    cols.update({f"{m}_uncapped": np.full(d.height, np.nan) for m in METHODS})
    level_err = {m: [] for m in METHODS}
    for row in res.by_group.iter_rows(named=True):
        th = row["theta"]
        sel = ok & (ind == row["group"])
        if not (np.isfinite(th) and sel.any()):
            continue
        # the 99th percentile of the noise-free ln δ (its book-year offsets included)
        off = lnd[sel] - signal[sel]
        ideal = float(np.quantile(signal[sel] + _year_mean(off, yrs[sel]), 0.99))
        for m in METHODS:
            ln_a = level_ln_a(lnd[sel], th, m, 0.99, 1.0, ids[sel], yrs[sel])
            cols[f"{m}_uncapped"][sel] = np.exp((lnd[sel] - ln_a) / th)
            cols[m][sel] = np.minimum(cols[f"{m}_uncapped"][sel], 1.0)
            level_err[m].append((ln_a - ideal) / th)
    d = d.with_columns(**{f"cu_{m}": pl.Series(v).fill_nan(None) for m, v in cols.items()})
    d = d.filter(pl.col("cu_quantile").is_not_null())
    out = {**production, "seed": seed, "oracle": _twfe(d, "u")}
    for m in METHODS:
        out[m] = _twfe(d, f"cu_{m}")
        out[f"{m}_ratio"] = out[m] / out["oracle"]
        out[f"{m}_level_err"] = float(np.mean(level_err[m]))
        # a diagnostic: the same CU without the cap at 1
        out[f"{m}_uncapped_ratio"] = _twfe(d, f"cu_{m}_uncapped") / out["oracle"]
    out["seconds"] = time.perf_counter() - t0
    return out


def _year_mean(v: np.ndarray, yrs: np.ndarray) -> np.ndarray:
    """Each row's year mean of ``v``."""
    u, inv = np.unique(yrs, return_inverse=True)
    return (np.bincount(inv, weights=v) / np.bincount(inv))[inv]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=8000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[311, 312])
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rows = []
    for seed in a.seeds:
        for prod in WORLDS:
            r = run_world(a.firms, seed, prod)
            rows.append(r)
            print(
                f"seed={seed} sd_book_dep={prod['sd_book_dep']:.2f} theta={prod['dep_theta']:.1f} "
                f"oracle={r['oracle']:.4f} "
                + " ".join(
                    f"{m}={r[m]:.4f} ({r[m + '_ratio']:.3f}, level {r[m + '_level_err']:+.3f}, "
                    f"uncapped {r[m + '_uncapped_ratio']:.3f})"
                    for m in METHODS
                )
                + f" {r['seconds']:.0f}s",
                flush=True,
            )
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

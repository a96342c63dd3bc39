"""Benchmark: our Table 2 column (2) regression layer vs a plain ``pyfixest.feols`` call.

Usage::

    python benchmarks/bench_fe.py [--rows 3960000] [--reps 3] [--seed 1] [--threads 1]
        [--only ours] [--save-panel PATH]

Builds a simulated firm-year panel (default 3.96 M rows, ~400 k firms, 30 two-digit industries,
300 cities, 12 years), writes it once to a temporary parquet file, then runs each contender
``--reps`` times, each in a fresh subprocess that reads the parquet, estimates the model and
reports wall time (from after the read to the finished result) and peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which includes the read). Medians and the
ratios ours / pyfixest (wall, CPU = user + system time of all threads, peak RSS) are printed, and the coefficients/SEs of both are compared.
``--only table`` times Table 2's three columns (``TABLE2``) through the workflow's table
builder instead (one child per repetition, wall time from after the read to the table).
``--threads`` sets ``CBEC_THREADS`` (our demeaner) and ``RAYON_NUM_THREADS`` (pyfixest) in the
children; the workflow runs the table jobs with 2 and Rayon with 1. ``--only ours`` skips
pyfixest; ``--save-panel`` keeps the simulated parquet (for ``bench_fixest.R``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

X_VARS = ["platform", "lnqygm", "lnage", "percs", "sfgyqy", "sfwzqy", "fc"]
FE = ["firm_id", "ind2^year", "city^year"]


def simulate_panel(
    n_rows: int = 3_960_000, seed: int = 1, mover_share: float = 0.02
) -> pl.DataFrame:
    """Simulated unbalanced firm-year panel shaped like the analysis sample.

    About ``n_rows / 9.9`` firms observed for 1–12 consecutive years (a few percent once, i.e.
    singletons), 30 industries, 300 cities (2% of firms move once), 12 years; the seven
    Table 2 regressors, CU with planted effects (platform +0.09), firm-level AR(1) errors,
    and two instruments varying at the firm-year level.
    """
    rng = np.random.default_rng(seed)
    n_years = 12
    probs = _length_probs()
    n_firms = max(int(n_rows / float(probs @ np.arange(1, 13))), 10)
    length = np.clip(rng.choice(np.arange(1, 13), size=n_firms, p=probs), 1, n_years)
    # trim or extend to hit n_rows exactly-ish
    start = (rng.random(n_firms) * (n_years - length + 1)).astype(np.int64)
    firm = np.repeat(np.arange(n_firms, dtype=np.int64), length)
    offs = np.arange(firm.size) - np.repeat(np.cumsum(length) - length, length)
    year = 2001 + np.repeat(start, length) + offs
    n = firm.size
    ind2 = rng.integers(13, 43, size=n_firms)[firm]
    city0 = rng.integers(0, 300, size=n_firms)
    mover = rng.random(n_firms) < mover_share
    city1 = np.where(mover, rng.integers(0, 300, size=n_firms), city0)
    move_year = 2001 + rng.integers(0, n_years, size=n_firms)
    city = np.where(year[:] >= move_year[firm], city1[firm], city0[firm]) + 1000
    # firm effects and regressors correlated with them
    a_i = rng.normal(0, 0.08, n_firms)[firm]
    adopt = np.where(rng.random(n_firms) < 0.25, 2001 + rng.integers(2, n_years, n_firms), 9999)
    platform = (year >= adopt[firm]).astype(np.float64)
    lnqygm = rng.normal(0, 1.2, n) + 3 * a_i
    found = 1950 + rng.integers(0, 50, n_firms)
    lnage = np.log(year - found[firm] + 1.0)
    percs = np.exp(rng.normal(-1, 0.8, n))
    switch = 2001 + rng.integers(1, 2 * n_years, n_firms)  # ownership changes (some never)
    sfgyqy = ((rng.random(n_firms) < 0.08)[firm] ^ (year >= switch[firm])).astype(np.float64)
    sfwzqy = ((rng.random(n_firms) < 0.15)[firm] ^ (year >= switch[firm] + 3)).astype(np.float64)
    fc = np.abs(rng.normal(0.05, 0.04, n))
    d_ind_yr = rng.normal(0, 0.03, (43, n_years))[ind2, year - 2001]
    d_city_yr = rng.normal(0, 0.03, (1300, n_years))[city, year - 2001]
    # firm-clustered error: AR(1) within firm
    eps = rng.normal(0, 0.1, n)
    first = offs == 0
    for _ in range(3):
        eps = np.where(first, eps, 0.5 * np.roll(eps, 1) + 0.87 * eps)
    dist = rng.uniform(0.2, 3.0, n_firms)[firm]
    iv_dist = (1 / dist) * (1.0 + 0.1 * (year - 2001)) + rng.normal(0, 0.3, n)
    iv_bartik = rng.normal(0, 1, n) + 0.5 * platform
    cu = (
        0.09 * platform
        + 0.02 * lnqygm
        - 0.01 * lnage
        + 0.01 * percs
        - 0.02 * sfgyqy
        + 0.01 * sfwzqy
        - 0.1 * fc
        + a_i
        + d_ind_yr
        + d_city_yr
        + eps
        + 0.7
    )
    return pl.DataFrame(
        {
            "firm_id": firm.astype(np.int64),
            "year": year.astype(np.int32),
            "ind2": ind2.astype(np.int32),
            "city": city.astype(np.int32),
            "cu": cu,
            "platform": platform,
            "lnqygm": lnqygm,
            "lnage": lnage,
            "percs": percs,
            "sfgyqy": sfgyqy,
            "sfwzqy": sfwzqy,
            "fc": fc,
            "iv_dist": iv_dist,
            "iv_bartik": iv_bartik,
        }
    )


def _length_probs() -> np.ndarray:
    p = np.array([0.03, 0.02, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15, 0.30])
    return p / p.sum()


# Table 2's three columns (config.yaml) on the simulated panel, through the workflow's own
# table builder (columns (1) and (2) share one sample; (3) has other fixed effects); without
# the wild bootstrap of column (2), which fixest's times do not include either
TABLE2 = {
    "columns": [
        {"depvar": "cu", "treatment": "platform"},
        {"depvar": "cu", "treatment": "platform", "controls": True},
        {
            "depvar": "cu",
            "treatment": "platform",
            "controls": True,
            "fixed_effects": ["ind2^year", "city^year"],
        },
    ]
}
TABLE2_COMMON = {"controls": X_VARS[1:], "fixed_effects": FE, "cluster": "firm_id"}

FML = "cu ~ " + " + ".join(X_VARS) + " | firm_id + ind2^year + city^year"


def _child(mode: str, path: str) -> dict:
    """Run one contender in this (fresh) process; return timings, peak RSS and estimates."""
    import resource
    import time
    import warnings

    warnings.simplefilter("ignore")

    def cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    if mode == "ours":
        from cbec.estimation.fe import FESample, feols

        df = pl.read_parquet(path)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        c0, t0 = cpu(), time.perf_counter()
        s = FESample.from_frame(df, ["firm_id", "ind2^year", "city^year"], ["cu", *X_VARS])
        r = feols(s, "cu", X_VARS, vcov="CRV1:firm_id")
        t1, c1 = time.perf_counter(), cpu()
        r1 = feols(s, "cu", ["platform"], vcov="CRV1:firm_id")  # col (1): reuses the cache
        t2 = time.perf_counter()
        out = {"coef": r.params.tolist(), "se": r.se.tolist(), "nobs": r.nobs}
        out["cbec"] = __import__("cbec").__file__
        out["extra_model_s"] = t2 - t1
        del r1
    elif mode == "table":
        from cbec.tables.build import regression_table

        df = pl.read_parquet(path)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        c0, t0 = cpu(), time.perf_counter()
        tab = regression_table(df, TABLE2, TABLE2_COMMON, "table2")
        t1, c1 = time.perf_counter(), cpu()
        cols = tab["columns"]
        out = {
            "coef": [v["b"] for c in cols for v in c["coef"].values()],
            "se": [v["se"] for c in cols for v in c["coef"].values()],
            "nobs": [c["nobs"] for c in cols],
        }
    else:
        import pandas as pd
        import pyfixest as pf

        df = pd.read_parquet(path)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        c0, t0 = cpu(), time.perf_counter()
        f = pf.feols(FML, data=df, vcov={"CRV1": "firm_id"})
        t1, c1 = time.perf_counter(), cpu()
        out = {"coef": f.coef().values.tolist(), "se": f.se().values.tolist(), "nobs": f._N}
    out["wall_s"] = t1 - t0
    out["cpu_s"] = c1 - c0
    out["rss_before_mb"] = rss0 / 1024
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=3_960_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mover-share", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", choices=["ours", "pyfixest", "table"], default=None)
    ap.add_argument("--save-panel", default=None)
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(_child(*a.child)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "panel.parquet")
        simulate_panel(a.rows, a.seed, a.mover_share).write_parquet(path)
        if a.save_panel:
            shutil.copyfile(path, a.save_panel)
        modes = [a.only] if a.only else ["ours", "pyfixest"]
        env = {**os.environ, "CBEC_THREADS": str(a.threads), "RAYON_NUM_THREADS": str(a.threads)}
        res: dict[str, list[dict]] = {m: [] for m in modes}
        for rep in range(a.reps):
            for mode in modes:
                p = subprocess.run(
                    [sys.executable, __file__, "--child", mode, path],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=env,
                )
                r = json.loads(p.stdout.strip().splitlines()[-1])
                res[mode].append(r)
                print(
                    f"rep {rep} {mode:8s} wall {r['wall_s']:7.2f} s  cpu {r['cpu_s']:7.2f} s  peak RSS "
                    f"{r['peak_rss_mb']:7.0f} MB (after read {r['rss_before_mb']:.0f} MB)",
                    flush=True,
                )
    med = {
        m: {
            "wall_s": statistics.median(x["wall_s"] for x in v),
            "cpu_s": statistics.median(x["cpu_s"] for x in v),
            "peak_rss_mb": statistics.median(x["peak_rss_mb"] for x in v),
        }
        for m, v in res.items()
    }
    summary: dict = {"rows": a.rows, "threads": a.threads, "median": med}
    if "table" in res:
        summary["nobs"] = res["table"][0]["nobs"]
        summary["coef"] = res["table"][0]["coef"]
        summary["se"] = res["table"][0]["se"]
    if "ours" in res:
        o = res["ours"][0]
        summary["nobs"] = o["nobs"]
        summary["extra_model_on_cached_sample_s"] = statistics.median(
            x["extra_model_s"] for x in res["ours"]
        )
        summary["coef"] = o["coef"]
        summary["se"] = o["se"]
    if len(res) == 2:
        o, q = res["ours"][0], res["pyfixest"][0]
        names = {"wall_s": "time_ratio", "cpu_s": "cpu_ratio", "peak_rss_mb": "rss_ratio"}
        for k, name in names.items():
            summary[name] = med["ours"][k] / med["pyfixest"][k]
        summary["max_rel_diff_coef"] = float(
            np.max(np.abs(np.array(o["coef"]) / np.array(q["coef"]) - 1))
        )
        summary["max_rel_diff_se"] = float(
            np.max(np.abs(np.array(o["se"]) / np.array(q["se"]) - 1))
        )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

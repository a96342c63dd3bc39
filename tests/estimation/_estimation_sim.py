"""Small simulated firm-year panels for the estimation tests (planted effects, singletons)
and a staggered-adoption panel for the event-study estimators."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

X_VARS = ["platform", "lnqygm", "lnage", "percs", "sfgyqy", "sfwzqy", "fc"]
FE = ["firm_id", "ind2^year", "city^year"]
BETA = {
    "platform": 0.09,
    "lnqygm": 0.02,
    "lnage": -0.01,
    "percs": 0.01,
    "sfgyqy": -0.02,
    "sfwzqy": 0.01,
    "fc": -0.1,
}
IV_BETA = 0.3
# the analysis years (2008-2010 are absent: no depreciation in ASIF)
ANALYSIS_YEARS: list[int] = [*range(2001, 2008), *range(2011, 2016)]


def simulate(
    n_firms: int = 400,
    n_years: int = 8,
    seed: int = 0,
    mover_share: float = 0.1,
    n_ind: int = 4,
    n_city: int = 6,
) -> pl.DataFrame:
    """Unbalanced panel: firms observed for 1..n_years consecutive years (some once: singletons),
    ``n_ind`` industries, ``n_city`` cities (a share of firms move once), the Table 2
    regressors with planted coefficients ``BETA``, firm-clustered errors, and an IV block:
    ``d`` endogenous (``corr(u, v) > 0``) driven by instruments ``z1``, ``z2``; ``y_iv`` =
    ``IV_BETA`` * d + FE + u; ``d2`` a second endogenous variable driven by ``z2``, ``z3``."""
    rng = np.random.default_rng(seed)
    length = rng.integers(1, n_years + 1, n_firms)
    start = (rng.random(n_firms) * (n_years - length + 1)).astype(np.int64)
    firm = np.repeat(np.arange(n_firms), length)
    offs = np.arange(firm.size) - np.repeat(np.cumsum(length) - length, length)
    year = 2001 + np.repeat(start, length) + offs
    n = firm.size
    ind2 = rng.integers(13, 13 + n_ind, n_firms)[firm]
    c0 = rng.integers(0, n_city, n_firms)
    mv = rng.random(n_firms) < mover_share
    c1 = np.where(mv, rng.integers(0, n_city, n_firms), c0)
    myear = 2001 + rng.integers(0, n_years, n_firms)
    city = np.where(year >= myear[firm], c1[firm], c0[firm]) + 3301
    a = rng.normal(0, 0.1, n_firms)[firm]
    adopt = np.where(rng.random(n_firms) < 0.4, 2001 + rng.integers(1, n_years, n_firms), 9999)
    X = {
        "platform": (year >= adopt[firm]).astype(float),
        "lnqygm": rng.normal(0, 1, n) + 2 * a,
        "lnage": np.log(year - (1960 + rng.integers(0, 40, n_firms))[firm] + 1.0),
        "percs": np.exp(rng.normal(-1, 0.7, n)),
        "sfgyqy": (rng.random(n) < 0.1).astype(float),
        "sfwzqy": (rng.random(n) < 0.2).astype(float),
        "fc": np.abs(rng.normal(0.05, 0.04, n)),
    }
    eff_iy = rng.normal(0, 0.05, (100, 40))[ind2, year - 2001]
    eff_cy = rng.normal(0, 0.05, (n_city + 3301, 40))[city, year - 2001]
    fe_part = a + eff_iy + eff_cy
    u_firm = rng.normal(0, 0.05, n_firms)[firm]
    eps = u_firm + rng.normal(0, 0.08, n)
    cu = 0.7 + fe_part + eps + sum(BETA[k] * X[k] for k in X_VARS)
    z1 = rng.normal(0, 1, n) + rng.normal(0, 0.5, n_firms)[firm]
    z2 = rng.normal(0, 1, n)
    z3 = rng.normal(0, 1, n)
    v = rng.normal(0, 1, n_firms)[firm] * 0.3 + rng.normal(0, 1, n)
    d = 0.4 * z1 + 0.2 * z2 + 0.1 * X["lnqygm"] + fe_part + v
    d2 = 0.3 * z2 + 0.5 * z3 + fe_part + 0.5 * v + rng.normal(0, 1, n)
    u = 0.5 * v + rng.normal(0, 1, n) + rng.normal(0, 0.5, n_firms)[firm]
    y_iv = IV_BETA * d + 0.2 * X["lnqygm"] + fe_part + u
    return pl.DataFrame(
        {
            "firm_id": firm.astype(np.int64),
            "year": year.astype(np.int32),
            "ind2": ind2.astype(np.int32),
            "city": city.astype(np.int32),
            "cu": cu,
            **X,
            "z1": z1,
            "z2": z2,
            "z3": z3,
            "d": d,
            "d2": d2,
            "y_iv": y_iv,
        }
    )


def simulate_staggered(
    n_firms: int = 1500,
    years: Sequence[int] = ANALYSIS_YEARS,
    effect_intercept: float = 0.03,
    effect_slope: float = 0.02,
    early_bonus: float = 0.03,
    early_last: int = 2004,
    adoption_years: Sequence[int] = tuple(range(2001, 2016)),
    never_share: float = 0.35,
    balanced: bool = False,
    sigma: float = 0.05,
    pretrend_slope: float = 0.0,
    n_ind: int = 6,
    n_city: int = 8,
    seed: int = 0,
) -> pl.DataFrame:
    """Synthetic staggered-adoption firm panel with a planted effect growing with tenure.

    Firm i (industry ``ind2`` of ``n_ind``, ``city`` of ``n_city``) joins in ``cohort``
    (0 = never, share ``never_share``; otherwise uniform on ``adoption_years``, which may include
    years absent from ``years``). Firms that join earlier have higher CU levels (selection on
    levels only, so parallel trends hold). True effect for t >= cohort:
    ``tau = effect_intercept + effect_slope * (t - cohort) + early_bonus * [cohort <= early_last]``.
    ``cu = 0.7 + a_i + year trend + ind2 x year + city x year shocks + 0.02 * lnqygm + tau
    + pretrend_slope * (t - cohort) * [t < cohort] + N(0, sigma)`` (the last but one term is a
    planted pre-trend violation, off by default; ``lnqygm`` ~ N(0, 1) + 0.5 a_i is a control).
    Unless ``balanced``, firms enter/exit (contiguous spans) and 5% of firm-years are missing.
    Columns: firm_id, year, ind2, city, cohort, platform, tau, lnqygm, cu.
    """
    rng = np.random.default_rng(seed)
    years = np.asarray(sorted(years))
    T = len(years)
    adopt = np.asarray(adoption_years)
    never = rng.random(n_firms) < never_share
    cohort = np.where(never, 0, rng.choice(adopt, n_firms))
    ind = rng.integers(0, n_ind, n_firms)
    city = rng.integers(0, n_city, n_firms)
    early = (cohort > 0) & (cohort <= np.median(adopt))
    alpha = rng.normal(0.0, 0.06, n_firms) + 0.03 * early
    lam = 0.004 * (years - years[0]) + rng.normal(0.0, 0.01, T)
    eta = rng.normal(0.0, 0.02, (n_ind, T))
    mu = rng.normal(0.0, 0.02, (n_city, T))
    fi = np.repeat(np.arange(n_firms), T)
    ti = np.tile(np.arange(T), n_firms)
    yr = years[ti]
    g = cohort[fi]
    post = (g > 0) & (yr >= g)
    tau = np.where(
        post,
        effect_intercept + effect_slope * (yr - g) + early_bonus * ((g > 0) & (g <= early_last)),
        0.0,
    )
    pre = (g > 0) & (yr < g)
    size = rng.normal(0.0, 1.0, fi.shape[0]) + 0.5 * alpha[fi]
    cu = (
        0.7
        + 0.02 * size
        + pretrend_slope * np.where(pre, yr - g, 0)
        + alpha[fi]
        + lam[ti]
        + eta[ind[fi], ti]
        + mu[city[fi], ti]
        + tau
        + rng.normal(0.0, sigma, fi.shape[0])
    )
    keep = np.ones(fi.shape[0], dtype=bool)
    if not balanced:
        entry = rng.integers(0, T // 2, n_firms)
        exitt = rng.integers(T // 2, T, n_firms)
        keep = (ti >= entry[fi]) & (ti <= exitt[fi]) & (rng.random(fi.shape[0]) > 0.05)
    return pl.DataFrame(
        {
            "firm_id": fi[keep].astype(np.int64),
            "year": yr[keep].astype(np.int64),
            "ind2": (13 + ind[fi][keep]).astype(np.int64),
            "city": (3301 + city[fi][keep]).astype(np.int64),
            "cohort": g[keep].astype(np.int64),
            "platform": post[keep].astype(np.int8),
            "tau": tau[keep],
            "lnqygm": size[keep],
            "cu": cu[keep],
        }
    )

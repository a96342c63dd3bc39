"""Small simulated firm-year panels for the estimation tests (planted effects, singletons)."""

from __future__ import annotations

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

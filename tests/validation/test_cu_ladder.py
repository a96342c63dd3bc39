"""The CU attenuation ladder rebuilds the pipeline's CU and isolates each ingredient."""

from __future__ import annotations

import numpy as np
import polars as pl

from cbec.measures.cu import _yjz_normalize
from cbec.validation.cu_ladder import add_rungs, ladder

NORM = ("quantile", 0.99, 1.0)


def _rows(noise: float, seed: int = 3) -> pl.DataFrame:
    """Two industries, δ = 0.1·u^2 exactly, book rate δ·κ_t·exp(noise)."""
    rng = np.random.default_rng(seed)
    n_firms, years = 300, np.arange(2001, 2007)
    firm = np.repeat(np.arange(n_firms), years.size)
    year = np.tile(years, n_firms)
    u = np.exp(rng.normal(-0.3, 0.2, firm.size))
    ln_delta = np.log(0.1) + 2.0 * np.log(u)
    kappa = 0.05 * (year - 2001)
    ln_dep = ln_delta + kappa + rng.normal(0, noise, firm.size)
    return pl.DataFrame(
        {
            "firm_id": firm,
            "year": year,
            "ind2": np.where(firm % 2 == 0, "13", "17"),
            "true_u": u,
            "ln_delta": ln_delta,
            "ln_dep": ln_dep,
            "dep_rate": np.exp(ln_dep),
        }
    )


def test_rungs_isolate_each_ingredient():
    theta_hat = {"13": 1.7, "17": 2.4}
    r = add_rungs(_rows(0.15), _rows(0.15), 2.0, theta_hat, NORM)
    c = add_rungs(_rows(0.15), _rows(0.15), 2.0, theta_hat, NORM, cap=1.1)
    for g, d in r.group_by("ind2"):
        # true δ and θ: u up to the level, whose 99th percentile is 1
        scale = d["r_norm"] / d["true_u"]
        assert float(scale.std()) < 1e-12
        assert abs(float(np.quantile(d["r_norm"].to_numpy(), 0.99)) - 1.0) < 1e-5
        # the observed rate with θ̂, capped: exactly the pipeline's normalization
        th = theta_hat[g[0]]
        own = d.select("dep_rate", "firm_id", "year")
        np.testing.assert_allclose(d["r_book_cap"].to_numpy(), _yjz_normalize(own, th, NORM, 1.0))
        np.testing.assert_allclose(d["r_book_measures"].to_numpy(), _yjz_normalize(own, th, NORM))
        np.testing.assert_allclose(d["r_theta_cap"].to_numpy(), d["r_theta"].clip(None, 1.0))
        # the noisy rate's level moves the noise-free rate by one factor per industry
        assert float((d["r_level"] / d["r_year"]).std()) < 1e-12
    # the measures' cap on the observed rate: the pipeline's cu at that cap
    for g, d in c.group_by("ind2"):
        own = d.select("dep_rate", "firm_id", "year")
        want = _yjz_normalize(own, theta_hat[g[0]], NORM, 1.1)
        np.testing.assert_allclose(d["r_book_measures"].to_numpy(), want)
    # without book noise the book rate is δ times the year factor
    q = add_rungs(_rows(0.0), _rows(0.0), 2.0, theta_hat, NORM)
    np.testing.assert_allclose(q["r_year"].to_numpy(), q["r_book"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(q["r_level"].to_numpy(), q["r_year"].to_numpy(), rtol=1e-9)


def test_capped_rungs_keep_missing_rows_missing():
    """A row without a rung (its industry has no θ̂) stays null when capped, not 1."""
    r = add_rungs(_rows(0.15), _rows(0.15), 2.0, {"13": 1.7}, NORM)
    other = r.filter(pl.col("ind2") == "17")
    for col in ("r_book", "r_book_cap", "r_theta_cap", "r_year_cap"):
        assert other[col].null_count() == other.height, col


def test_ladder_telescopes():
    est = {
        c: {"b": b, "se": 0.01, "t": 1.0, "nobs": 5}
        for c, b in zip("xyz", (0.09, 0.07, 0.08), strict=True)
    }
    lad = ladder(est, [("a", "A", "x"), ("b", "B", "y"), ("c", "C", "z")])
    assert [r["step"] for r in lad["rungs"]][1:] == [0.07 - 0.09, 0.08 - 0.07]
    assert abs(lad["sum_of_steps"] - lad["gap"]) < 1e-15 and abs(lad["gap"] + 0.01) < 1e-12

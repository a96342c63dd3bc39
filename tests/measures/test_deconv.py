"""The noise-robust normalization of the YJZ level (cbec.measures.deconv, norm_method
``deconvolved``): on a simulated panel whose book noise is known, the plain 99th percentile
of ln δ^obs sets the level of u too high (every u scaled down), the deconvolved one does not.

The panel: utilization u = 1 − exp(slack) (bounded above, left-skewed as in Table 1), the
log slack a firm effect + a random walk + an AR(1) (ρ 0.6) + year effects; δ = a·u^θ with
book depreciation δ·exp(N(0, σ²)) (docs/synthetic_world.md). Cases fixed in advance.
"""

from __future__ import annotations

import numpy as np
import pytest

from cbec.measures.cu import level_ln_a
from cbec.measures.deconv import noise_var, noise_var_ar1, simex_quantile

LN_A, THETA = np.log(0.12), 2.0


def _panel(
    seed: int, sigma: float, n_firms: int = 4000, n_years: int = 8, ar_sd: float = 0.15
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ln δ^obs, ln u, firm ids, years) of a balanced panel."""
    rng = np.random.default_rng(seed)
    n, T = n_firms, n_years
    firm = rng.normal(0.0, 0.25, n)
    rw = np.cumsum(rng.normal(0.0, 0.08, (n, T)), axis=1)
    ar = np.empty((n, T))
    ar[:, 0] = rng.normal(0.0, ar_sd, n)
    for t in range(1, T):
        ar[:, t] = 0.6 * ar[:, t - 1] + rng.normal(0.0, ar_sd * np.sqrt(1 - 0.36), n)
    year = rng.normal(0.0, 0.05, T)
    slack = -1.4 + firm[:, None] + rw + ar + year[None, :]
    ln_u = np.log(np.clip(1.0 - np.exp(slack), 0.05, 0.995))
    ln_d = LN_A + THETA * ln_u + rng.normal(0.0, sigma, (n, T))
    ids = np.repeat(np.arange(n), T)
    years = np.tile(np.arange(2001, 2001 + T), n)
    return ln_d.ravel(), ln_u.ravel(), ids, years


@pytest.mark.parametrize("seed", [1, 2])
def test_noise_variance_recovered(seed: int) -> None:
    """σ² from the within-firm autocovariances: exact up to sampling with a random-walk
    signal (no AR(1) part), too large by a small B(1 − ρ) with one."""
    for sigma in (0.15, 0.3):
        ln_d, _, ids, years = _panel(seed, sigma, ar_sd=0.0)
        assert np.sqrt(noise_var(ln_d, ids, years).var) == pytest.approx(sigma, rel=0.05)
        ln_d, _, ids, years = _panel(seed, sigma)
        est = np.sqrt(noise_var(ln_d, ids, years).var)
        assert 0.95 * sigma <= est <= sigma * 1.15
    ln_d, _, ids, years = _panel(seed, 0.0, ar_sd=0.0)
    assert noise_var(ln_d, ids, years).var < 0.03**2


def test_simex_quantile_of_a_normal_signal() -> None:
    """The exact-convolution SIMEX removes the noise from the 99th percentile of a normal
    signal (where the plain quantile is 0.07 too high)."""
    rng = np.random.default_rng(3)
    s = rng.normal(0.0, 0.4, 20_000)
    x = s + rng.normal(0.0, 0.15, s.size)
    q_true = float(np.quantile(s, 0.99))
    assert np.quantile(x, 0.99) - q_true > 0.05
    assert simex_quantile(x, 0.15, 0.99) == pytest.approx(q_true, abs=0.02)
    assert simex_quantile(x, 0.0, 0.99) == np.quantile(x, 0.99)


@pytest.mark.parametrize("seed,sigma", [(11, 0.15), (12, 0.3)])
def test_deconvolved_level_recovers_the_level_of_u(seed: int, sigma: float) -> None:
    """The level of û: with ln â at the 99th percentile of the noise-free ln δ, û = u / q99(u)
    exactly. At σ 0.15 (the synthetic world's) the plain quantile misses it by 8 % of u, the
    deconvolved one by under 2 %; at σ 0.3 (23 % against 7 %: SIMEX's quadratic leaves part
    of the bias in a short upper tail) it removes at least half of the error."""
    ln_d, ln_u, ids, years = _panel(seed, sigma)
    ideal = float(np.quantile(LN_A + THETA * ln_u, 0.99))
    old = (level_ln_a(ln_d, THETA, "quantile", 0.99, 1.0) - ideal) / THETA
    new = (level_ln_a(ln_d, THETA, "deconvolved", 0.99, 1.0, ids, years) - ideal) / THETA
    # errors in ln u units: a level error e scales every u, and every effect, by exp(−e)
    assert old > 0.06
    assert abs(new) < (0.02 if sigma < 0.2 else old / 2)
    with pytest.raises(ValueError, match="firm ids"):
        level_ln_a(ln_d, THETA, "deconvolved", 0.99, 1.0)


def _linear_panel(
    seed: int,
    sigma: float = 0.15,
    n_firms: int = 20_000,
    n_years: int = 8,
    ar_sd: float = 0.3,
    n_cities: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, firm ids, years, city) with x = firm effect + random walk + AR(1) (ρ 0.6, sd
    ``ar_sd``) + year effects + N(0, σ²) noise: the model :func:`noise_var_ar1` assumes."""
    rng = np.random.default_rng(seed)
    n, T = n_firms, n_years
    rw = np.cumsum(rng.normal(0.0, 0.08, (n, T)), axis=1)
    ar = np.empty((n, T))
    ar[:, 0] = rng.normal(0.0, ar_sd, n)
    for t in range(1, T):
        ar[:, t] = 0.6 * ar[:, t - 1] + rng.normal(0.0, ar_sd * np.sqrt(1 - 0.36), n)
    x = rng.normal(0.0, 0.25, n)[:, None] + rw + ar + rng.normal(0.0, 0.05, T)[None, :]
    x = x + rng.normal(0.0, sigma, (n, T))
    ids = np.repeat(np.arange(n), T)
    return x.ravel(), ids, np.tile(np.arange(2001, 2001 + T), n), ids % n_cities


@pytest.mark.parametrize("seed", [1, 2])
def test_ar1_noise_variance_with_a_persistent_transitory_signal(seed: int) -> None:
    """With an AR(1) part in the signal c_2 − c_1 takes part of it for noise (sd over 8 %
    too large); the AR(1) fit recovers σ within 6 % and ρ within 0.15."""
    x, ids, years, _ = _linear_panel(seed)
    fit = noise_var_ar1(x, ids, years)
    assert fit.model == "ar1" and fit.note == ""
    assert np.sqrt(fit.var) == pytest.approx(0.15, rel=0.06)
    assert fit.rho == pytest.approx(0.6, abs=0.15)
    assert np.sqrt(noise_var(x, ids, years).var) > 0.15 * 1.08


def test_ar1_noise_variance_falls_back_without_an_ar1_part() -> None:
    """A random-walk signal (c_3 ≈ 0): the guard keeps c_2 − c_1, exact there, and says why;
    a small panel whose c_3 is not measured falls back too."""
    ln_d, _, ids, years = _panel(1, 0.15, ar_sd=0.0)
    fit = noise_var_ar1(ln_d, ids, years)
    assert fit.model == "random_walk" and fit.note
    assert fit.var == pytest.approx(noise_var(ln_d, ids, years).var, rel=1e-3)
    assert np.sqrt(fit.var) == pytest.approx(0.15, rel=0.05)
    ln_d, _, ids, years = _panel(2, 0.3, n_firms=4000)
    small = noise_var_ar1(ln_d, ids, years)
    assert small.model == "random_walk" and "not distinguishable" in small.note


def test_common_cell_shocks_are_not_noise() -> None:
    """City × year shocks (white over years) look like noise to year demeaning; removing
    the city × year means recovers σ."""
    x, ids, years, city = _linear_panel(3)
    shocks = np.random.default_rng(3).normal(0.0, 0.1, (50, 8))
    x = x + shocks[city, years - 2001]
    assert abs(np.sqrt(noise_var_ar1(x, ids, years).var) / 0.15 - 1) > 0.1
    fit = noise_var_ar1(x, ids, years, [city])
    assert fit.model == "ar1"
    assert np.sqrt(fit.var) == pytest.approx(0.15, rel=0.06)


def test_book_noise_pools_industries_and_counts_dropped_rows() -> None:
    """The rule's frame-level fit: ln dep_rate of the configured industries, rows without a
    positive rate or a city counted as dropped, the city × year shocks removed."""
    import polars as pl

    from cbec.measures.deconv import book_noise

    x, ids, years, city = _linear_panel(4)
    shocks = np.random.default_rng(4).normal(0.0, 0.1, (50, 8))
    rate = np.exp(x - 3.0 + shocks[city, years - 2001])
    rate[:7] = 0.0  # no positive rate
    panel = pl.DataFrame(
        {
            "firm_id": ids,
            "year": years,
            "ind2": np.where(ids % 2 == 0, "13", "14"),
            "dep_rate": rate,
            "city_code": pl.Series(city, dtype=pl.Int64).scatter([9, 10], None),
        }
    )
    out = book_noise(
        panel.vstack(panel.head(5).with_columns(ind2=pl.lit("99"))), ["13", "14"], ["city_code"]
    )
    assert out["n_rows"] == ids.size and out["n_dropped_no_rate_or_cell"] == 9
    assert out["model"] == "ar1" and out["sd"] == pytest.approx(0.15, rel=0.06)
    assert book_noise(panel, ["13", "14"], [])["sd"] > 0.15 * 1.1


def test_small_cells_are_corrected_for_their_degrees_of_freedom() -> None:
    """City × year cells of 8 firms: their means take 1/8 of every autocovariance, which the
    degrees-of-freedom share puts back (random-walk signal, where c_2 − c_1 is exact)."""
    x, ids, years, city = _linear_panel(5, n_firms=4000, ar_sd=0.0, n_cities=500)
    fit = noise_var_ar1(x, ids, years, [city])
    assert fit.model == "random_walk"
    assert np.sqrt(fit.var) == pytest.approx(0.15, rel=0.04)
    raw = noise_var(x, ids, years).var  # year means only: no cells to correct for
    assert fit.var == pytest.approx(raw, rel=0.05)

"""A quantile of a panel variable net of its iid measurement noise.

Used by the Yu–Jin–Zhang normalization (``norm_method: deconvolved``, docs/methods.md,
"Normalization"): observed x_it = s_it + η_it, s the signal (ln a + θ ln u + year effects),
η iid noise (book depreciation). The upper quantile of x lies above that of s. Here

1. the noise variance σ² from the autocovariances c_k = Cov(d_t, d_{t−k}) of the first
   differences d_t = x_t − x_{t−1} within firm, net of year means (common shocks are not
   noise) and, in :func:`noise_var_ar1`, of the means of other common cells (industry ×
   year, city × year). A firm effect drops out of d; a random walk adds to c_0 only; a
   stationary AR(1) part (variance V, coefficient ρ) gives c_k = −Bρ^{k−1}, B = V(1 − ρ)²,
   at every lag k ≥ 1; the noise gives c_1 = −σ². So
   - :func:`noise_var_ar1`: σ² = −c_1 + c_2²/c_3 (ρ = c_3/c_2), used when the AR(1) part
     is there and c_3 is measured (firm-clustered t), else
   - :func:`noise_var`: c_2 − c_1 (= γ_0 − 3γ_1 + 3γ_2 − γ_3 in the level autocovariances),
     exact without the AR(1) part, too large by B(1 − ρ) with it.
   A transitory signal without persistence cannot be told from noise by x alone. The AR(1)
   fit needs many firms (c_3 is small): the pipeline pools all industries (rule
   ``book_noise``); per industry it is unstable;
2. the quantile of s by SIMEX (Cook & Stefanski 1994) (:func:`simex_quantile`): the
   quantile of x + N(0, λσ²) for λ ∈ {0, 0.5, 1, 1.5, 2}, computed exactly (the CDF of the
   sample convolved with a normal, no random draws), fitted by a quadratic in λ and
   extrapolated to λ = −1 (no noise).

No shape is assumed for s (a utilization rate is bounded above, so ln u has a short upper
tail, where a normal approximation, mean + (q − mean)·√reliability, would under-correct).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import polars as pl
from scipy.optimize import brentq
from scipy.special import ndtr

from cbec.measures.lags import lag_index

__all__ = [
    "NoiseFit",
    "book_noise",
    "deconvolved_quantile",
    "noise_var",
    "noise_var_ar1",
    "simex_quantile",
]


class NoiseFit(NamedTuple):
    """Estimated iid noise variance ``var`` of a panel variable; ``c`` the autocovariances
    of its first differences at lags 0.., ``n`` their pair counts; ``model`` the formula
    that gave ``var`` (``random_walk``: c_2 − c_1; ``ar1``: −c_1 + c_2²/c_3), ``rho`` the
    AR(1) coefficient c_3/c_2 (NaN unless tried), ``note`` why the AR(1) fit was not used."""

    var: float
    c: np.ndarray
    n: np.ndarray
    model: str = "random_walk"
    rho: float = float("nan")
    note: str = ""


def _cell_codes(keys: Sequence[np.ndarray], times: np.ndarray) -> list[np.ndarray]:
    """Integer codes of the year and of each key × year cell."""
    codes = [np.unique(times, return_inverse=True)[1]]
    for k in keys:
        frame = pl.DataFrame({"k": k, "t": times})
        codes.append(frame.select(pl.struct("k", "t").rank("dense")).to_series().to_numpy() - 1)
    return codes


def _demeaned_diffs(
    x: np.ndarray,
    ids: np.ndarray,
    times: np.ndarray,
    common: Sequence[np.ndarray] = (),
    iters: int = 50,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(d, lag, share): the within-firm first differences of ``x`` (NaN without a row of
    t − 1) net of the year means and of the means of each ``common`` key × year cell
    (alternating projections, to 1e-12), the row of t − 1 of each row (−1: none), and the
    share of the differences' degrees of freedom the means leave, 1 − cells/differences
    (the cells of all keys less the years they share): demeaning within cells of n firms
    scales every autocovariance by about 1 − 1/n."""
    lag = lag_index(ids, times)
    prev = np.where(lag >= 0, x[np.maximum(lag, 0)], np.nan)
    d = np.where(lag >= 0, x - prev, np.nan)
    ok = np.isfinite(d)
    dd = d[ok]
    codes = [c[ok] for c in _cell_codes(common, times)]
    counts = [np.maximum(np.bincount(c), 1) for c in codes]
    for _ in range(iters if common else 1):
        before = dd.copy()
        for c, n in zip(codes, counts, strict=True):
            dd = dd - (np.bincount(c, weights=dd) / n)[c]
        if np.max(np.abs(dd - before), initial=0.0) < 1e-12:
            break
    d[ok] = dd
    n_cells = [int(np.count_nonzero(np.bincount(c))) for c in codes]
    cells = n_cells[0] if len(codes) == 1 else sum(n_cells[1:]) - (len(codes) - 2) * n_cells[0]
    return d, lag, max(1.0 - cells / max(dd.size, 1), 1e-9)


def _lag_products(
    d: np.ndarray, lag: np.ndarray, ids: np.ndarray, max_lag: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Autocovariances c_k = mean(d_t d_{t−k}) (lags 0..max_lag, within firm), their pair
    counts and firm-clustered standard errors."""
    ok = np.isfinite(d)
    firm = np.unique(ids, return_inverse=True)[1]
    c = np.full(max_lag + 1, np.nan)
    se = np.full(max_lag + 1, np.nan)
    n = np.zeros(max_lag + 1, dtype=np.int64)
    rows = np.arange(d.size)
    for k in range(max_lag + 1):
        other = np.where(rows >= 0, d[np.maximum(rows, 0)], np.nan)
        pair = ok & (rows >= 0) & np.isfinite(other)
        n[k] = int(pair.sum())
        if n[k]:
            prod = d[pair] * other[pair]
            c[k] = float(prod.mean())
            by_firm = np.bincount(firm[pair], weights=prod - c[k])
            se[k] = float(np.sqrt(np.sum(by_firm**2)) / n[k])
        rows = np.where(rows >= 0, lag[np.maximum(rows, 0)], -1)
    return c, n, se


def _random_walk_var(c: np.ndarray, n: np.ndarray) -> float:
    """c_2 − c_1 (−c_1 without pairs two years apart), at least 0; 0 without lag-1 pairs."""
    if not (n[1] > 0 and np.isfinite(c[1])):
        return 0.0
    c2 = float(c[2]) if n[2] > 0 and np.isfinite(c[2]) else 0.0
    return max(c2 - float(c[1]), 0.0)


def noise_var(x: np.ndarray, ids: np.ndarray, times: np.ndarray) -> NoiseFit:
    """Variance of the iid noise in panel variable ``x`` (finite values; ``ids``, ``times``
    the firm and year of each row): c_2 − c_1 of the first differences (module docstring),
    −c_1 when no firm has differences two years apart, bounded below by 0; 0 when no firm
    has two consecutive differences."""
    d, lag, _ = _demeaned_diffs(x, ids, times)  # year means only
    c, n, _ = _lag_products(d, lag, ids, 2)
    return NoiseFit(_random_walk_var(c, n), c, n)


def noise_var_ar1(
    x: np.ndarray,
    ids: np.ndarray,
    times: np.ndarray,
    common: Sequence[np.ndarray] = (),
    min_t: float = 2.0,
) -> NoiseFit:
    """Variance of the iid noise in panel variable ``x`` whose signal is a firm effect, a
    random walk and a stationary AR(1) (module docstring, step 1): with the differences
    net of year and ``common`` key × year means (common shocks are not noise), c_k =
    −B ρ^{k−1} (k ≥ 2) and c_1 = −σ² − B, so σ² = −c_1 + c_2²/c_3, ρ = c_3/c_2. Used
    only when c_2 < 0, c_3 < 0 with a firm-clustered t of c_3 at most −``min_t``, 0 < ρ < 1
    and σ² ≥ 0; otherwise c_2 − c_1 (exact without the AR(1) part, too large with it), and
    ``note`` says why. The autocovariances are divided by the degrees-of-freedom share the
    cell means leave (small cells shrink them)."""
    d, lag, share = _demeaned_diffs(x, ids, times, common)
    c, n, se = _lag_products(d, lag, ids, 3)
    c, se = c / share, se / share
    fallback = _random_walk_var(c, n)
    if not (n[3] > 0 and np.all(np.isfinite(c))):
        return NoiseFit(fallback, c, n, note="no differences three years apart")
    c1, c2, c3 = (float(v) for v in c[1:4])
    rho = c3 / c2 if c2 != 0 else float("nan")
    if not (c2 < 0 and c3 < 0):
        note = f"c_2 {c2:.5f}, c_3 {c3:.5f} not both negative (no AR(1) part)"
    elif c3 / se[3] > -min_t:
        note = f"c_3 {c3:.5f} not distinguishable from 0 (t {c3 / se[3]:.2f} > -{min_t:g})"
    elif not 0 < rho < 1:
        note = f"rho {rho:.3f} outside (0, 1)"
    elif (var := -c1 + c2**2 / c3) < 0:
        note = f"AR(1) variance {var:.5f} < 0"
    else:
        return NoiseFit(var, c, n, "ar1", rho)
    return NoiseFit(fallback, c, n, "random_walk", rho, note)


def _convolved_quantile(xs: np.ndarray, sd: float, q: float) -> float:
    """The ``q``-quantile of the sample ``xs`` plus N(0, sd²) noise (exact: the root of
    the mean of the normal CDFs centred at the sample points)."""
    base = float(np.quantile(xs, q))
    if sd <= 0:
        return base
    lo, hi = float(xs.min()) - 10 * sd, float(xs.max()) + 10 * sd
    return float(brentq(lambda t: float(ndtr((t - xs) / sd).mean()) - q, lo, hi, xtol=1e-10))


SIMEX_LAMBDAS = (0.0, 0.5, 1.0, 1.5, 2.0)


def simex_quantile(x: np.ndarray, sd: float, q: float) -> float:
    """SIMEX estimate of the ``q``-quantile of s where x = s + N(0, sd²): the quantiles
    of x + N(0, λ sd²), λ in ``SIMEX_LAMBDAS``, fitted by a quadratic in λ, at λ = −1.
    ``sd`` ≤ 0 gives the plain quantile of x."""
    if not sd > 0 or x.size < 2:
        return float(np.quantile(x, q))
    lam = np.asarray(SIMEX_LAMBDAS)
    qs = np.array([_convolved_quantile(x, float(np.sqrt(v)) * sd, q) for v in lam])
    return float(np.polyval(np.polyfit(lam, qs, 2), -1.0))


def deconvolved_quantile(
    x: np.ndarray,
    ids: np.ndarray,
    times: np.ndarray,
    q: float,
    var: float | None = None,
) -> tuple[float, float]:
    """The ``q``-quantile of panel variable ``x`` net of its iid noise of variance ``var``
    (None: :func:`noise_var` of ``x``), by :func:`simex_quantile`. Returns (quantile,
    noise sd)."""
    if var is None:
        var = noise_var(x, ids, times).var
    sd = float(np.sqrt(var))
    return simex_quantile(x, sd, q), sd


def book_noise(panel: pl.DataFrame, industries: Sequence[str], common: Sequence[str]) -> dict:
    """The variance of the book noise in ln depreciation rate, pooled over the firm-years of
    ``industries`` (panel columns firm_id, year, ind2, dep_rate and ``common``) by
    :func:`noise_var_ar1`, the ``common`` columns' × year means removed. Firm-years whose
    rate is missing or not positive are left out (counted)."""
    rows = panel.filter(pl.col("ind2").is_in(list(industries)))
    usable = rows.filter(pl.col("dep_rate").is_finite() & (pl.col("dep_rate") > 0))
    usable = usable.drop_nulls(list(common))
    fit = noise_var_ar1(
        np.log(usable.get_column("dep_rate").cast(pl.Float64).to_numpy()),
        usable.get_column("firm_id").to_numpy(),
        usable.get_column("year").cast(pl.Int64).to_numpy(),
        [usable.get_column(c).to_numpy() for c in common],
    )
    return {
        "var": fit.var,
        "sd": float(np.sqrt(fit.var)),
        "model": fit.model,
        "rho": fit.rho if np.isfinite(fit.rho) else None,
        "note": fit.note,
        "autocov": [float(v) for v in fit.c],
        "pairs": [int(v) for v in fit.n],
        "common_shocks": list(common),
        "n_rows": rows.height,
        "n_used": usable.height,
        "n_dropped_no_rate_or_cell": rows.height - usable.height,
    }

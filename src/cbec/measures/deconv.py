"""A quantile of a panel variable net of its iid measurement noise.

Used by the Yu–Jin–Zhang normalization (``norm_method: deconvolved``, docs/methods.md,
"Normalization"): observed x_it = s_it + η_it, s the signal (ln a + θ ln u + year effects),
η iid noise (book depreciation). The upper quantile of x lies above that of s. Here

1. the noise variance σ² is the lag-0 autocovariance of x within firm minus that of the
   signal extrapolated from lags 1–3 by a quadratic, γ_0 − 3γ_1 + 3γ_2 − γ_3, which in
   first differences d_t = x_t − x_{t−1} (year means removed, so common shocks are not
   noise) is c_2 − c_1, c_k = Cov(d_t, d_{t−k}) (:func:`noise_var`): exact when the signal
   is a firm effect plus a random walk, too large by B(1 − ρ) ≥ 0 when it also has a
   stationary AR(1) part (B = its variance × (1 − ρ)²); a transitory signal without
   persistence cannot be told from noise by x alone;
2. the quantile of s by SIMEX (Cook & Stefanski 1994) (:func:`simex_quantile`): the
   quantile of x + N(0, λσ²) for λ ∈ {0, 0.5, 1, 1.5, 2}, computed exactly (the CDF of the
   sample convolved with a normal, no random draws), fitted by a quadratic in λ and
   extrapolated to λ = −1 (no noise).

No shape is assumed for s (a utilization rate is bounded above, so ln u has a short upper
tail, where a normal approximation, mean + (q − mean)·√reliability, would under-correct).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

from cbec.measures.lags import lag_index

__all__ = ["NoiseFit", "deconvolved_quantile", "noise_var", "simex_quantile"]


class NoiseFit(NamedTuple):
    """Estimated iid noise variance ``var`` of a panel variable; ``c`` the autocovariances
    of its first differences at lags 0..2, ``n`` their pair counts."""

    var: float
    c: np.ndarray
    n: np.ndarray


def _diff_autocov(
    x: np.ndarray, ids: np.ndarray, times: np.ndarray, max_lag: int
) -> tuple[np.ndarray, np.ndarray]:
    """Autocovariances (lags 0..max_lag) of the within-firm first differences of ``x``
    with each year's mean difference removed, and their pair counts."""
    lag = lag_index(ids, times)
    prev = np.where(lag >= 0, x[np.maximum(lag, 0)], np.nan)
    d = np.where(lag >= 0, x - prev, np.nan)
    ok = np.isfinite(d)
    yrs, inv = np.unique(times, return_inverse=True)
    sums = np.bincount(inv[ok], weights=d[ok], minlength=yrs.size)
    counts = np.maximum(np.bincount(inv[ok], minlength=yrs.size), 1)
    d = d - (sums / counts)[inv]
    c = np.full(max_lag + 1, np.nan)
    n = np.zeros(max_lag + 1, dtype=np.int64)
    rows = np.arange(x.size)
    for k in range(max_lag + 1):
        other = np.where(rows >= 0, d[np.maximum(rows, 0)], np.nan)
        pair = ok & (rows >= 0) & np.isfinite(other)
        n[k] = int(pair.sum())
        if n[k]:
            c[k] = float(np.mean(d[pair] * other[pair]))
        rows = np.where(rows >= 0, lag[np.maximum(rows, 0)], -1)
    return c, n


def noise_var(x: np.ndarray, ids: np.ndarray, times: np.ndarray) -> NoiseFit:
    """Variance of the iid noise in panel variable ``x`` (finite values; ``ids``, ``times``
    the firm and year of each row): c_2 − c_1 of the first differences (module docstring),
    −c_1 when no firm has differences two years apart, bounded below by 0; 0 when no firm
    has two consecutive differences."""
    c, n = _diff_autocov(x, ids, times, 2)
    if not (n[1] > 0 and np.isfinite(c[1])):
        return NoiseFit(0.0, c, n)
    c2 = float(c[2]) if n[2] > 0 and np.isfinite(c[2]) else 0.0
    return NoiseFit(max(c2 - float(c[1]), 0.0), c, n)


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
    x: np.ndarray, ids: np.ndarray, times: np.ndarray, q: float
) -> tuple[float, float]:
    """The ``q``-quantile of panel variable ``x`` net of its iid noise (variance by
    :func:`noise_var`, quantile by :func:`simex_quantile`). Returns (quantile, noise sd)."""
    sd = float(np.sqrt(noise_var(x, ids, times).var))
    return simex_quantile(x, sd, q), sd

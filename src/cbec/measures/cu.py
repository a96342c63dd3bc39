"""Capacity utilization by the Yu–Jin–Zhang (2018) method (capital utilization, GHH depreciation).

CU is the capital-utilization rate u = utilized capital / installed capital. Depreciation in use
(Greenwood, Hercowitz & Huffman 1988) links it to the observed depreciation rate:
δ_it = a·u_it^θ. Substituting ln u = (ln δ − ln a)/θ into a value-added Cobb–Douglas in
(L, u·K) gives

    va_it = c + β_l l_it + β_k k_it + φ ln δ_it + ω_it + ε_it,      φ = β_k / θ,

which is estimated ACF-style (Ackerberg, Caves & Frazer 2015) with materials as the proxy.
The pipeline's default is ``method="dynamic"`` (:func:`_fit_dynamic`: φ from the law of
motion of ω, valid when materials respond to utilization) on capital depreciated at each
firm's book rate, with the investment rate of t − 1 instrumenting k_t, and an effect per
industry × year in both stages when industries are pooled (``strata``). ``method="iv"``:

1. first stage (partially linear, 2SLS): va on a polynomial in (l, k, m) plus ln δ entered
   linearly and instrumented by ln δ_{t−1} (book depreciation is a noisy signal of δ; the lag
   removes the attenuation). Gives φ̂ and ψ̂ = Φ̂ − φ̂ ln δ, a function of (l, k, m) only.
2. second stage (GMM): ω(β) = ψ̂ − β_l l − β_k k, ω_t = g(ω_{t−1}) + ξ_t with g a
   polynomial, moments E[ξ_t · (1, k_t, l_{t−1})] = 0.
3. θ = β̂_k / φ̂; u = (δ / a)^{1/θ}, with a pinned by a normalization (the q-quantile of u
   equals ``norm_value`` within each group) and u at most ``cap`` (None: uncapped).

See docs/methods.md, section "Capacity utilization (Yu–Jin–Zhang 2018)", for the derivation,
what is taken from the source and what is reconstructed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations_with_replacement
from typing import NamedTuple

import numpy as np
import polars as pl
from scipy.optimize import minimize, minimize_scalar

from cbec.measures.deconv import deconvolved_quantile
from cbec.measures.lags import lag_index
from cbec.measures.outcome import MeasureFit

__all__ = ["CUResult", "cu_yjz", "estimate_cu_yjz", "level_ln_a"]

_MIN_OBS = 50  # minimum second-stage observations for a group-specific estimate
_METHODS = ("dynamic", "iv", "acf")
_NORM_METHODS = ("quantile", "deconvolved", "mean")
# starts of the GMM search besides the OLS one, (β_l, β_k, φ): a labour-heavy and a
# capital-heavy corner of the plausible region, deliberately not a guess at the answer
# (until 2026-12-03 one start sat on the synthetic world's β_l, β_k, φ). φ = β_k/θ stays
# below 0.3: the acf variant's just-identified moments can have several exact roots, and a
# start at φ 0.5 finds one at θ̂ 0.07 on a panel where the variant is not identified anyway
_GENERIC_STARTS = np.array([[0.6, 0.2, 0.05], [0.2, 0.6, 0.25]])


@dataclass(frozen=True)
class CUResult:
    """Result of :func:`estimate_cu_yjz`.

    cu: capacity utilization aligned to the input rows, in (0, cap]; null where the depreciation
        rate is missing or non-positive (e.g. ASIF 2008–2010) or the group is null.
    theta: θ of the pooled estimate (all groups together); the θ actually used per group is in
        ``by_group``.
    coef: pooled coefficients {"beta_l", "beta_k", "phi"} (phi = beta_k / theta).
    by_group: one row per group: group, n (second-stage obs), n_iv_unknown (``dynamic`` with
        ``investment``: rows with two lags left out of the moments because the investment of
        t − 1 is null, i.e. I/K unknown), n_lom_unknown (rows left out because a
        ``law_of_motion`` control of t − 1 is null), n_cu (rows with a CU), theta
        (the θ used), theta_se (its firm-clustered standard error, ``dynamic`` only; that
        of the pooled fit when it is used), beta_l, beta_k, phi (the group's own
        estimates, NaN if none),
        first_stage_f (strength of ln δ_{t−1}; NaN for method "acf"), ln_a (implied level of
        the GHH function under the normalization), converged, fallback_used, message.
    meta: method, whether the pooled estimate is valid and why not, its first-stage F, ρ,
        θ's standard error and n_iv_unknown.
    """

    cu: pl.Series
    theta: float
    coef: dict[str, float]
    by_group: pl.DataFrame
    meta: dict[str, object] = field(default_factory=dict)


@dataclass
class _Fit:
    """One estimate of (β_l, β_k, φ): ``n`` estimation rows, convergence and its message,
    the instrument strength ``first_stage_f``, ρ of ``dynamic`` and ``n_iv_unknown`` (rows
    of ``dynamic`` with both lags left out of the moments: I/K of t − 1 unknown) and
    ``n_lom_unknown`` (rows left out because a law-of-motion control of t − 1 is unknown);
    ``theta_se``: the firm-clustered standard error of θ̂ (``dynamic`` only, ``has_se``;
    :func:`_theta_se`, NaN where it cannot be computed)."""

    n: int
    beta_l: float
    beta_k: float
    phi: float
    converged: bool
    message: str
    first_stage_f: float = float("nan")
    rho: float = float("nan")
    n_iv_unknown: int = 0
    n_lom_unknown: int = 0
    theta_se: float = float("nan")
    has_se: bool = False  # the method computes θ's standard error (``dynamic``)
    level_coef: float = float("nan")  # γ̂ of the level control (``dynamic`` with one)

    @property
    def theta(self) -> float:
        """θ = β_k / φ (NaN unless φ > 0 and both are finite)."""
        if self.phi > 0 and np.isfinite(self.phi) and np.isfinite(self.beta_k):
            return self.beta_k / self.phi
        return float("nan")


def _poly(x: np.ndarray, degree: int) -> np.ndarray:
    """Full polynomial (with constant) of the columns of ``x`` up to ``degree``."""
    cols = [np.ones(x.shape[0])]
    for d in range(1, degree + 1):
        for c in combinations_with_replacement(range(x.shape[1]), d):
            cols.append(np.prod(x[:, c], axis=1))
    return np.column_stack(cols)


def _standardize(x: np.ndarray) -> np.ndarray:
    """Columns of ``x`` centred and scaled to unit sd (a constant column is only centred)."""
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    return (x - x.mean(axis=0)) / sd


def _ols_resid(G: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residual of y on G via normal equations (G has few, well-scaled columns)."""
    try:
        coef = np.linalg.solve(G.T @ G, G.T @ y)
    except np.linalg.LinAlgError:
        coef, *_ = np.linalg.lstsq(G, y, rcond=None)
    return y - G @ coef


def _demean(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``x`` (1-D or 2-D) minus its mean within each cell of ``codes`` (ints from 0): the
    cell effects partialled out (Frisch–Waugh–Lovell)."""
    counts = np.maximum(np.bincount(codes), 1)
    x2 = x.reshape(x.shape[0], -1)
    means = np.column_stack([np.bincount(codes, weights=c) / counts for c in x2.T])
    return (x2 - means[codes]).reshape(x.shape)


def _gmm(
    obj: Callable[[np.ndarray], float], starts: list[np.ndarray]
) -> tuple[np.ndarray, float, bool]:
    """Minimize a GMM objective by Nelder–Mead from several starts; polish the best."""
    opts = {"xatol": 1e-7, "fatol": 1e-14, "maxiter": 4000}
    best = min(
        (minimize(obj, s, method="Nelder-Mead", options=opts) for s in starts), key=lambda r: r.fun
    )
    r = minimize(obj, best.x, method="Nelder-Mead", options={**opts, "xatol": 1e-8, "fatol": 1e-16})
    f0 = min(obj(s) for s in starts)
    # just-identified: the objective is zero at a solution
    converged = bool(r.success) and (r.fun < 1e-12 or r.fun < 1e-6 * f0)
    return r.x, float(r.fun), converged


class _Group(NamedTuple):
    """One estimation group's columns and lag structure."""

    va: np.ndarray
    lab: np.ndarray
    k: np.ndarray
    m: np.ndarray
    lnd: np.ndarray
    lag: np.ndarray  # row of t − 1 for every row (−1 where absent)
    idx: np.ndarray  # rows with a lag
    lg: np.ndarray  # their lagged rows
    zk: np.ndarray  # instrument of k_t aligned to row t (NaN where unknown; ``dynamic``)
    cell: np.ndarray  # stratum × year cell of each row (ints from 0): its own effect
    ctl: np.ndarray  # law-of-motion controls (n × c, c may be 0), NaN where unknown
    ids: np.ndarray  # firm of each row (the clusters of θ̂'s standard error)
    dlev: np.ndarray | None = None  # ∂ ln k / ∂ ln(depreciation level) (``dynamic``)

    def ols_start(self) -> np.ndarray:
        """OLS of va on (1, l, k, ln δ): start values of the GMM searches."""
        A = np.column_stack([np.ones(self.va.size), self.lab, self.k, self.lnd])
        b, *_ = np.linalg.lstsq(A, self.va, rcond=None)
        return b


def _fit(
    va: np.ndarray,
    lab: np.ndarray,
    k: np.ndarray,
    m: np.ndarray,
    lnd: np.ndarray,
    ids: np.ndarray,
    times: np.ndarray,
    poly_degree: int,
    markov_degree: int,
    method: str,
    ir: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    ctl: np.ndarray | None = None,
    dlev: np.ndarray | None = None,
) -> _Fit:
    """ACF-style estimation of (β_l, β_k, φ) on one group (inputs finite; ``ir`` the
    investment rate I/K, NaN where unknown, used by ``dynamic`` only: the instrument of k_t
    is ``ir`` of t − 1, or k_t itself without ``ir``; ``strata``: labels of the pooled
    groups, each with its own year effects in ``dynamic``, one stratum without; ``ctl``:
    law-of-motion controls of ``dynamic``, n × c, NaN where unknown; ``dlev``: the level
    control of ``dynamic``, see :func:`_fit_dynamic`)."""
    lag = lag_index(ids, times)
    idx = np.flatnonzero(lag >= 0)
    if idx.size < _MIN_OBS:
        return _Fit(int(idx.size), np.nan, np.nan, np.nan, False, "too few lagged obs")
    zk = k if ir is None else np.where(lag >= 0, ir[np.maximum(lag, 0)], np.nan)
    key = times if strata is None else np.char.add(strata.astype(str), times.astype(str))
    cell = np.unique(key, return_inverse=True)[1].astype(np.int64)
    ctl = np.empty((va.size, 0)) if ctl is None else ctl.reshape(va.size, -1)
    g = _Group(va, lab, k, m, lnd, lag, idx, lag[idx], zk, cell, ctl, ids, dlev)
    if method == "dynamic":
        return _fit_dynamic(g, poly_degree, times)
    if method == "iv":
        return _fit_iv(g, poly_degree, markov_degree)
    if method == "acf":
        return _fit_acf(g, poly_degree, markov_degree)
    raise ValueError(f"method must be one of {_METHODS}, got {method!r}")


def _markov_objective(
    target: np.ndarray,
    Xc: np.ndarray,
    Z: np.ndarray,
    idx: np.ndarray,
    lg: np.ndarray,
    markov_degree: int,
) -> Callable[[np.ndarray], float]:
    """GMM objective of ω(β) = target − Xc·β: innovations ξ of ω_t on a polynomial in
    ω_{t−1}, moments E[ξ Z] = 0."""
    nn = idx.size
    W = np.linalg.pinv(Z.T @ Z / nn)

    def obj(beta: np.ndarray) -> float:
        w = target - Xc @ beta
        xi = _ols_resid(_poly(w[lg][:, None], markov_degree), w[idx])
        g = Z.T @ xi / nn
        return float(g @ W @ g)

    return obj


def _message(fval: float, conv: bool) -> str:
    """The fit's message: "ok", or the GMM objective it stopped at."""
    return "ok" if conv else f"second stage not converged (objective {fval:.2e})"


def _fit_iv(g: _Group, poly_degree: int, markov_degree: int) -> _Fit:
    """First stage va = P(l,k,m)·b + φ ln δ + ε with ln δ instrumented by ln δ_{t−1};
    second stage ω(β) = ψ − β_l l − β_k k with moments E[ξ (1, k_t, l_{t−1})]."""
    va, lab, k, m, lnd, _, idx, lg, *_ = g
    nn = idx.size
    P = _poly(_standardize(np.column_stack([lab, k, m])), poly_degree)
    # ψ̂ = Φ̂ − φ̂ ln δ: a function of (l, k, m) only, free of book noise
    psi, phi, fs_f = _stage1_iv(va, P, lnd, idx, lg)
    if not np.isfinite(phi):
        return _Fit(nn, np.nan, np.nan, np.nan, False, "first stage failed", fs_f)

    Xc = np.column_stack([lab, k])
    Z = np.column_stack([np.ones(nn), _standardize(np.column_stack([k[idx], lab[lg]]))])
    obj = _markov_objective(psi, Xc, Z, idx, lg, markov_degree)
    starts = [np.clip(g.ols_start()[1:3], 0.01, 1.0), *_GENERIC_STARTS[:, :2]]
    x, fval, conv = _gmm(obj, starts)
    return _Fit(nn, float(x[0]), float(x[1]), phi, conv, _message(fval, conv), fs_f)


def _stage1_iv(
    va: np.ndarray,
    P: np.ndarray,
    lnd: np.ndarray,
    idx: np.ndarray,
    lg: np.ndarray,
    cell: np.ndarray | None = None,
) -> tuple[np.ndarray, float, float]:
    """Partially linear 2SLS va = P·b + γ ln δ + ε, ln δ instrumented by ln δ_{t−1};
    with ``cell`` (row codes) each cell has its own effect (partialled out; not in P·b̂).

    Returns (P·b̂ for every row, γ̂, partial F of ln δ_{t−1})."""
    nn = idx.size
    X = np.column_stack([P, lnd])[idx]
    Zfs = np.column_stack([P[idx], lnd[lg]])
    y = va[idx]
    if cell is not None:
        c = cell[idx]
        X, Zfs, y = _demean(X, c), _demean(Zfs, c), _demean(y, c)
    pi, *_ = np.linalg.lstsq(Zfs, X, rcond=None)
    b, *_ = np.linalg.lstsq(Zfs @ pi, y, rcond=None)
    rss_u = float(np.sum((X[:, -1] - Zfs @ pi[:, -1]) ** 2))
    c_r, *_ = np.linalg.lstsq(Zfs[:, :-1], X[:, -1], rcond=None)
    rss_r = float(np.sum((X[:, -1] - Zfs[:, :-1] @ c_r) ** 2))
    fs_f = (rss_r - rss_u) / max(rss_u / max(nn - Zfs.shape[1], 1), 1e-300)
    return P @ b[:-1], float(b[-1]), fs_f


def _partial_f(y: np.ndarray, Z: np.ndarray, j: int, n_absorbed: int = 0) -> float:
    """F statistic of column ``j`` of ``Z`` in the OLS of ``y`` on ``Z`` (``n_absorbed``
    effects already partialled out of both count in the degrees of freedom)."""
    rss_u = float(np.sum(_ols_resid(Z, y) ** 2))
    rss_r = float(np.sum(_ols_resid(np.delete(Z, j, axis=1), y) ** 2))
    return (rss_r - rss_u) / max(rss_u / max(y.size - Z.shape[1] - n_absorbed, 1), 1e-300)


def _fit_dynamic(g: _Group, poly_degree: int, times: np.ndarray) -> _Fit:
    """φ in the second stage, identified by the law of motion (docs/methods.md).

    Stage 1: Φ̂ = ψ̂(l, k, m) + γ̂ ln δ (:func:`_stage1_iv` with the cell effects; γ = φ − κ
    when materials respond to utilization with ∂ω/∂ln δ = −κ given m). Stage 2:
    ω(β) = Φ̂ − β_l l − β_k k − φ ln δ follows ω_t = c_st + ρ ω_{t−1} + λ·d_{t−1} + ξ_t
    (c_st: an effect per stratum × year cell, ``g.cell``; year effects on one stratum;
    d: the law-of-motion controls ``g.ctl``, e.g. platform status, De Loecker 2013);
    (β_l, β_k, φ, λ) by 2SLS given ρ with the cell effects partialled out and instruments
    (d_{t−1}, kt, k_{t−1}, l_{t−1}, ψ̂_{t−2}, ln δ_{t−2}), ρ ∈ (0, 1) by minimizing the GMM
    criterion; among its local minima the lowest with β_k > 0 and φ > 0 is kept. ``kt`` is
    ``g.zk``: k_t itself or the investment rate of t − 1 (capital depreciated at the book
    rate carries the book noise of t − 1, which is in the error). Rows whose ``kt``
    (``n_iv_unknown``) or d_{t−1} (``n_lom_unknown``) is unknown are left out of the
    moments, never given a made-up value.

    ``g.dlev`` (the level control D = ∂k/∂ln m of ``ln_k_use_dlevel``, ≤ 0): capital whose
    depreciation level is m times the true one is k + ln m·D to first order, so D enters
    stage 1's polynomial and stage 2 with its own coefficient γ (= −β_k·ln m), instrumented
    by D_{t−1}; θ̂ then does not rest on the accounts' level (docs/methods.md)."""
    va, lab, k, m, lnd, lag, idx, lg, zk, cell, ctl, ids, dlev = g
    extra = [] if dlev is None else [dlev]
    P = _poly(_standardize(np.column_stack([lab, k, m, *extra])), poly_degree)
    psi, gamma, _ = _stage1_iv(va, P, lnd, idx, lg, cell)
    r2 = idx[lag[lg] >= 0]
    iv_ok = np.isfinite(zk[r2])
    lom_ok = np.isfinite(ctl[lag[r2]]).all(axis=1)
    r = r2[iv_ok & lom_ok]
    unknown = {"n_iv_unknown": int((~iv_ok).sum()), "n_lom_unknown": int((iv_ok & ~lom_ok).sum())}
    if r.size < _MIN_OBS:
        return _Fit(
            int(r.size), np.nan, np.nan, np.nan, False, "too few obs with two lags", **unknown
        )
    l1 = lag[r]
    l2 = lag[l1]
    phi_hat = psi + gamma * lnd
    codes = np.unique(cell[r], return_inverse=True)[1]
    d1 = ctl[l1]
    # ln δ_{t−2} stays the last instrument: the partial F below is that of the last column
    zd = [x[l1] for x in extra]
    inst = _demean(np.column_stack([d1, zk[r], k[l1], lab[l1], psi[l2], *zd, lnd[l2]]), codes)
    Z = _standardize(inst)
    X = np.column_stack([lab, k, lnd, *extra])
    # d_{t−1} enters ω_t − ρ ω_{t−1} with its own coefficient λ (not quasi-differenced)
    arrays = (
        _demean(phi_hat[r], codes),
        _demean(phi_hat[l1], codes),
        _demean(np.column_stack([X[r], d1]), codes),
        _demean(np.column_stack([X[l1], np.zeros_like(d1)]), codes),
        Z,
    )
    solve = _rho_gmm(*arrays)
    best = _rho_search(solve)
    if best is None:
        return _Fit(
            int(r.size), np.nan, np.nan, np.nan, False, "no admissible GMM solution", **unknown
        )
    rho, b, conv = best
    dl = _demean(lnd[r] - rho * lnd[l1], codes)
    f_stat = _partial_f(dl, Z, Z.shape[1] - 1, n_absorbed=int(codes.max()) + 1)
    msg = "ok" if conv else f"rho = {rho:.3f} on the boundary of (0, 1)"
    coef = (float(b[1]), float(b[2]), float(b[3]))
    se = _theta_se(arrays, rho, b[1:], ids[r])
    gam = float(b[4]) if extra else float("nan")
    return _Fit(
        int(r.size),
        *coef,
        conv,
        msg,
        f_stat,
        rho,
        **unknown,
        theta_se=se,
        has_se=True,
        level_coef=gam,
    )


def _theta_se(
    arrays: tuple[np.ndarray, ...], rho: float, b: np.ndarray, clusters: np.ndarray
) -> float:
    """Firm-clustered standard error of θ̂ = β̂_k / φ̂ from the second stage of
    :func:`_fit_dynamic`: the GMM sandwich of (b, ρ) with the weight (Z'Z/n)⁻¹ of
    :func:`_rho_gmm` (``arrays`` its inputs, cell effects partialled out; b = (β_l, β_k, φ,
    λ…)) with the small-sample factor G/(G − 1) of G clusters, then the delta method.
    Stage 1 (ψ̂, γ̂) is taken as known, so the error is somewhat understated
    (benchmarks/results/yjz_se.md measures it against the spread over worlds). NaN when the
    sandwich is singular or φ̂ ≤ 0."""
    y_t, y_l, X_t, X_l, Z = arrays
    n = y_t.size
    e = (y_t - rho * y_l) - (X_t - rho * X_l) @ b
    G = -np.column_stack([Z.T @ (X_t - rho * X_l), Z.T @ (y_l - X_l @ b)]) / n
    W = np.linalg.pinv(Z.T @ Z / n)
    codes = np.unique(clusters, return_inverse=True)[1]
    s = np.column_stack([np.bincount(codes, weights=z * e) for z in Z.T])
    n_clusters = s.shape[0]
    omega = s.T @ s / n**2 * n_clusters / max(n_clusters - 1, 1)
    try:
        bread = np.linalg.inv(G.T @ W @ G)
    except np.linalg.LinAlgError:
        return float("nan")
    V = bread @ G.T @ W @ omega @ W @ G @ bread
    bk, phi = b[1], b[2]
    if not phi > 0:
        return float("nan")
    grad = np.zeros(V.shape[0])
    grad[1], grad[2] = 1.0 / phi, -bk / phi**2
    var = float(grad @ V @ grad)
    return float(np.sqrt(var)) if var >= 0 else float("nan")


def _rho_gmm(
    y_t: np.ndarray,
    y_l: np.ndarray,
    X_t: np.ndarray,
    X_l: np.ndarray,
    Z: np.ndarray,
) -> Callable[[float], tuple[np.ndarray, float]]:
    """Given ρ: 2SLS of y_t − ρ y_l on X_t − ρ X_l with instruments Z (every array with
    the cell effects partialled out: by Frisch–Waugh–Lovell the coefficients and the
    criterion are those with the cell dummies in both X and Z). Returns (0, X
    coefficients...) and the GMM criterion g'Wg (W = (Z'Z/n)⁻¹)."""
    n = y_t.size
    W = np.linalg.pinv(Z.T @ Z / n)
    zy_t, zy_l = Z.T @ y_t / n, Z.T @ y_l / n
    zx_t, zx_l = Z.T @ X_t / n, Z.T @ X_l / n

    def solve(rho: float) -> tuple[np.ndarray, float]:
        zx, zy = zx_t - rho * zx_l, zy_t - rho * zy_l
        A = zx.T @ W @ zx
        try:
            b = np.linalg.solve(A, zx.T @ W @ zy)
        except np.linalg.LinAlgError:
            b, *_ = np.linalg.lstsq(A, zx.T @ W @ zy, rcond=None)
        g = zy - zx @ b
        return np.concatenate([[0.0], b]), float(g @ W @ g)

    return solve


def _rho_search(
    solve: Callable[[float], tuple[np.ndarray, float]],
) -> tuple[float, np.ndarray, bool] | None:
    """Local minima of the criterion over ρ ∈ [0, 0.99] (grid, then bounded Brent); the
    lowest with β_k > 0 and φ > 0. Returns (ρ, coefficients, interior) or None."""
    grid = np.linspace(0.0, 0.99, 100)
    crit = np.array([solve(float(x))[1] for x in grid])
    cands: list[tuple[float, float, np.ndarray]] = []
    for i in range(grid.size):
        lo, hi = max(i - 1, 0), min(i + 1, grid.size - 1)
        if crit[i] > crit[lo] or crit[i] > crit[hi]:
            continue
        res = minimize_scalar(
            lambda x: solve(float(x))[1],
            bounds=(grid[lo], grid[hi]),
            method="bounded",
            options={"xatol": 1e-9},
        )
        b, j = solve(float(res.x))
        if b[2] > 0 and b[3] > 0:
            cands.append((j, float(res.x), b))
    if not cands:
        return None
    _, rho, b = min(cands, key=lambda c: c[0])
    return rho, b, bool(grid[0] + 1e-6 < rho < grid[-1] - 1e-6)


def _fit_acf(g: _Group, poly_degree: int, markov_degree: int) -> _Fit:
    """Plain ACF: Φ̂ = E[va | poly(l, k, m, ln δ)]; all of (β_l, β_k, φ) in stage 2 with
    instruments (1, k_t, l_{t−1}, ln δ_{t−1})."""
    va, lab, k, m, lnd, _, idx, lg, *_ = g
    nn = idx.size
    P = _poly(_standardize(np.column_stack([lab, k, m, lnd])), poly_degree)
    b, *_ = np.linalg.lstsq(P, va, rcond=None)
    Phi = P @ b
    Xc = np.column_stack([lab, k, lnd])
    Z = np.column_stack([np.ones(nn), _standardize(np.column_stack([k[idx], lab[lg], lnd[lg]]))])
    obj = _markov_objective(Phi, Xc, Z, idx, lg, markov_degree)
    starts = [np.clip(g.ols_start()[1:4], 0.01, 1.0), *_GENERIC_STARTS]
    x, fval, conv = _gmm(obj, starts)
    bl, bk, phi = float(x[0]), float(x[1]), float(x[2])
    return _Fit(nn, bl, bk, phi, conv, _message(fval, conv), float("nan"))


def _valid(
    fit: _Fit,
    theta_bounds: tuple[float, float],
    min_f: float,
    max_rel_se: float | None = None,
) -> tuple[bool, str]:
    """Whether ``fit`` is usable (finite φ > 0, β_k > 0, θ within ``theta_bounds``, F of the
    instrument of ln δ at least ``min_f``, converged, and, where the method computes θ's
    standard error, that error finite and at most ``max_rel_se`` · θ), and why not."""
    if not np.isfinite(fit.phi):
        return False, fit.message
    if np.isfinite(fit.first_stage_f) and fit.first_stage_f < min_f:
        return False, f"weak instrument for ln delta (F = {fit.first_stage_f:.1f} < {min_f:g})"
    if fit.phi <= 0:
        return False, f"phi = {fit.phi:.4f} <= 0"
    if not fit.beta_k > 0:
        return False, f"beta_k = {fit.beta_k:.4f} <= 0"
    th = fit.theta
    if not (theta_bounds[0] <= th <= theta_bounds[1]):
        return False, f"theta = {th:.3f} outside {theta_bounds}"
    if not fit.converged:
        return False, fit.message
    if max_rel_se is not None and fit.has_se and not fit.theta_se <= max_rel_se * th:
        return False, (
            f"theta = {th:.3f} imprecise (s.e. {fit.theta_se:.3f} > {max_rel_se:g} x theta)"
            if np.isfinite(fit.theta_se)
            else f"theta = {th:.3f}: its standard error cannot be computed"
        )
    return True, "ok"


def level_ln_a(
    lnd: np.ndarray,
    theta: float,
    method: str,
    quantile: float,
    value: float,
    ids: np.ndarray | None = None,
    times: np.ndarray | None = None,
    noise_var: float | None = None,
) -> float:
    """ln a of δ = a·u^θ, pinned by a normalization of the level of u = (δ/a)^(1/θ).

    ``quantile``: the ``quantile`` of u equals ``value`` (e.g. the 99th percentile is full
    utilization). Noise in book depreciation inflates the upper tail, so this scales u, and
    every effect on it, down. ``deconvolved``: the same on ln δ net of its iid noise
    (:func:`cbec.measures.deconv.deconvolved_quantile`; the noise variance ``noise_var``,
    None: estimated from these rows, which needs the firm ``ids`` and ``times``).
    ``mean``: the mean of u equals ``value`` (a published average CU, e.g. the paper's
    0.738); E[u] = E[exp((ln δ − ln a)/θ)] gives ln a = θ·(ln mean(exp(ln δ/θ)) − ln value).
    A cap (:func:`utilization`) is applied afterwards.
    """
    if method == "quantile":
        return float(np.quantile(lnd, quantile)) - theta * np.log(value)
    if method == "deconvolved":
        if noise_var is None and (ids is None or times is None):
            raise ValueError(
                "norm_method 'deconvolved' needs the noise variance or the firm ids and times"
            )
        q, _ = deconvolved_quantile(lnd, ids, times, quantile, noise_var)
        return q - theta * np.log(value)
    m = float(np.max(lnd / theta))
    log_mean = m + float(np.log(np.mean(np.exp(lnd / theta - m))))
    return theta * (log_mean - np.log(value))


def utilization(lnd: np.ndarray, ln_a: float, theta: float, cap: float | None = None) -> np.ndarray:
    """u = (δ/a)^(1/θ) from ln δ and ln a, at most ``cap`` (None: uncapped).

    A cap censors the outcome: firms above it (more often treated ones, whose u the platform
    raises) all get the same value, which biases every effect on u towards zero."""
    u = np.exp((lnd - ln_a) / theta)
    return u if cap is None else np.minimum(u, cap)


def estimate_cu_yjz(
    df: pl.DataFrame,
    *,
    va: str,
    labor: str,
    capital: str,
    depreciation_rate: str,
    proxy: str,
    id: str,
    time: str,
    group: str | None = None,
    investment: str | None = None,
    strata: str | None = None,
    law_of_motion: tuple[str, ...] = (),
    norm_quantile: float = 0.99,
    norm_value: float = 1.0,
    theta_bounds: tuple[float, float] = (0.5, 10.0),
    poly_degree: int = 2,
    markov_degree: int = 3,
    method: str = "iv",
    min_first_stage_f: float = 10.0,
    norm_method: str = "quantile",
    cap: float | None = None,
    noise_var: float | None = None,
    max_theta_rel_se: float | None = None,
    level_control: str | None = None,
) -> CUResult:
    """Capacity utilization u (utilized / installed capital) by the YJZ (2018) method. The
    model, the estimators and the role of every argument: docs/methods.md, "Capacity
    utilization (Yu–Jin–Zhang 2018)".

    ``va``, ``labor``, ``capital``, ``proxy``: logs; ``depreciation_rate``: the level δ (a
    missing or non-positive δ gives a null CU and keeps the row out of estimation).
    ``method``: ``dynamic`` (``investment``: ln investment, whose rate of t − 1 instruments
    k_t; ``law_of_motion``: controls d whose value of t − 1 shifts ω's law of motion), ``iv``
    or ``acf``. With ``group``, one estimate per group; an invalid one falls back on the
    pooled θ, else the group's CU is null (``by_group`` says which and why). ``strata``
    (default ``group``): the column whose values get their own year effects when pooled.
    The level a is pinned per group by :func:`level_ln_a` (``norm_*``; ``noise_var`` the
    book noise variance of ``deconvolved``, None: estimated per group); ``cap``: u ≤ cap
    (None: no cap). ``max_theta_rel_se``: a fit whose θ̂ has a standard error above this
    share of θ̂ is invalid (``dynamic``; None: no limit). ``level_control``: the column of
    ∂k/∂ln(depreciation level) (``ln_k_use_dlevel``) that makes θ̂ free of the level of the
    capital's depreciation (``dynamic``; :func:`_fit_dynamic`); rows without it leave the
    estimation."""
    _check_arguments(method, norm_method, norm_quantile, norm_value, theta_bounds, cap)
    if max_theta_rel_se is not None and not max_theta_rel_se > 0:
        raise ValueError(f"max_theta_rel_se must be positive or None, got {max_theta_rel_se}")
    if law_of_motion and method != "dynamic":
        raise ValueError(f"law_of_motion needs method 'dynamic', got {method!r}")
    if level_control is not None and method != "dynamic":
        raise ValueError(f"level_control needs method 'dynamic', got {method!r}")
    roles = dict(va=va, labor=labor, capital=capital, proxy=proxy, investment=investment)
    roles["strata"] = strata if strata is not None else group
    roles["law_of_motion"] = ",".join(law_of_motion) or None
    roles["level_control"] = level_control
    data = _Data.from_frame(
        df,
        {**roles, "depreciation_rate": depreciation_rate, "id": id, "time": time, "group": group},
    )

    def fit_rows(mask: np.ndarray) -> _Fit:
        return data.fit(mask, poly_degree, markov_degree, method)

    def valid(fit: _Fit) -> tuple[bool, str]:
        return _valid(fit, theta_bounds, min_first_stage_f, max_theta_rel_se)

    def level(sel: np.ndarray, theta: float) -> float:
        lnd, ids, times = data.lnd[sel], data.ids[sel], data.times[sel]
        return level_ln_a(lnd, theta, norm_method, norm_quantile, norm_value, ids, times, noise_var)

    pooled = fit_rows(data.est_ok)
    fits = None if group is None else fit_rows
    cu, rows = _cu_by_group(data, pooled, fits, valid, level, cap)
    return _result(cu, rows, pooled, valid(pooled), method, law_of_motion)


def _result(
    cu: np.ndarray,
    rows: list[dict[str, object]],
    pooled: _Fit,
    verdict: tuple[bool, str],
    method: str,
    law_of_motion: tuple[str, ...],
) -> CUResult:
    """The :class:`CUResult` of every row's CU, the ``by_group`` rows and the pooled fit
    (``verdict``: whether it is valid and why not; its θ is NaN when invalid)."""
    pooled_ok, pooled_msg = verdict
    return CUResult(
        cu=pl.Series("cu", cu, dtype=pl.Float64).fill_nan(None),
        theta=float(pooled.theta if pooled_ok else float("nan")),
        coef={
            "beta_l": pooled.beta_l,
            "beta_k": pooled.beta_k,
            "phi": pooled.phi,
            "level": pooled.level_coef,
        },
        by_group=pl.DataFrame(rows, schema=_BY_GROUP_SCHEMA),
        meta={
            "method": method,
            "pooled_valid": pooled_ok,
            "pooled_message": pooled_msg,
            "pooled_first_stage_f": pooled.first_stage_f,
            "pooled_rho": pooled.rho,
            "pooled_theta_se": pooled.theta_se if pooled_ok else float("nan"),
            "pooled_n_iv_unknown": pooled.n_iv_unknown,
            "pooled_n_lom_unknown": pooled.n_lom_unknown,
            "law_of_motion": list(law_of_motion),
        },
    )


def _cu_by_group(
    data: _Data,
    pooled: _Fit,
    fit_rows: Callable[[np.ndarray], _Fit] | None,
    valid: Callable[[_Fit], tuple[bool, str]],
    level: Callable[[np.ndarray, float], float],
    cap: float | None,
) -> tuple[np.ndarray, list[dict[str, object]]]:
    """CU of every row, group by group (``fit_rows`` None: the pooled fit for all), and
    the rows of ``by_group``: a group's own θ when valid, else the pooled one, else null."""
    pooled_ok, pooled_msg = valid(pooled)
    cu = np.full(data.garr.shape[0], np.nan)
    rows: list[dict[str, object]] = []
    for g in sorted(set(data.garr[~data.gnull].tolist())):
        in_g = (data.garr == g) & ~data.gnull
        fit = pooled if fit_rows is None else fit_rows(in_g & data.est_ok)
        ok, msg = valid(fit)
        theta, fallback, msg = _choose_theta(
            fit, ok, msg, pooled, pooled_ok, pooled_msg, fit_rows is not None
        )
        sel = in_g & np.isfinite(data.lnd)
        ln_a = float("nan")
        if sel.any() and np.isfinite(theta):
            ln_a = level(sel, theta)
            cu[sel] = utilization(data.lnd[sel], ln_a, theta, cap)
        n_cu = int(sel.sum()) if np.isfinite(theta) else 0
        se = (pooled if fallback else fit).theta_se if np.isfinite(theta) else float("nan")
        rows.append(_group_row(g, fit, n_cu, (theta, se), ln_a, fallback, msg))
    return cu, rows


_BY_GROUP_SCHEMA = {
    "group": pl.Utf8,
    "n": pl.Int64,
    "n_iv_unknown": pl.Int64,
    "n_lom_unknown": pl.Int64,
    "n_cu": pl.Int64,
    "theta": pl.Float64,
    "theta_se": pl.Float64,
    "beta_l": pl.Float64,
    "beta_k": pl.Float64,
    "phi": pl.Float64,
    "first_stage_f": pl.Float64,
    "ln_a": pl.Float64,
    "converged": pl.Boolean,
    "fallback_used": pl.Boolean,
    "message": pl.Utf8,
}


def _check_arguments(
    method: str,
    norm_method: str,
    norm_quantile: float,
    norm_value: float,
    theta_bounds: tuple[float, float],
    cap: float | None = None,
) -> None:
    """Raise ValueError on an unknown method or an invalid normalization, cap or theta
    range."""
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if norm_method not in _NORM_METHODS:
        raise ValueError(f"norm_method must be one of {_NORM_METHODS}, got {norm_method!r}")
    if not 0 < norm_quantile <= 1:
        raise ValueError("norm_quantile must be in (0, 1]")
    if not 0 < norm_value <= 1:
        raise ValueError("norm_value must be in (0, 1]")
    if cap is not None and cap < norm_value:
        raise ValueError(f"cap ({cap}) must be at least norm_value ({norm_value})")
    lo, hi = theta_bounds
    if not 0 < lo < hi:
        raise ValueError("theta_bounds must satisfy 0 < low < high")


@dataclass
class _Data:
    """The estimation arrays of :func:`estimate_cu_yjz`, aligned to the input rows."""

    va: np.ndarray
    lab: np.ndarray
    k: np.ndarray
    m: np.ndarray
    lnd: np.ndarray  # ln δ, NaN where δ is missing or non-positive
    ids: np.ndarray
    times: np.ndarray
    garr: np.ndarray  # group labels ("__null__" for a null group)
    gnull: np.ndarray
    est_ok: np.ndarray  # usable for estimation: every input finite, group not null
    ir: np.ndarray | None = None  # investment rate I/K (NaN where investment is null)
    strata: np.ndarray | None = None  # pooled groups with their own year effects
    ctl: np.ndarray | None = None  # law-of-motion controls (n × c), NaN where null
    dlev: np.ndarray | None = None  # the level control (``level_control``), NaN where null

    @classmethod
    def from_frame(cls, df: pl.DataFrame, cols_map: dict[str, str | None]) -> _Data:
        """Arrays from the frame; ``cols_map`` maps the roles (va, labor, capital,
        depreciation_rate, proxy, id, time, group, investment) to column names. Raises
        ValueError when (id, time) is not unique."""
        va, labor, capital, proxy = (cols_map[r] for r in ("va", "labor", "capital", "proxy"))
        depreciation_rate, id, time, group = (
            cols_map[r] for r in ("depreciation_rate", "id", "time", "group")
        )
        n = df.height
        gcol = (
            df[group].cast(pl.Utf8)
            if group is not None
            else pl.Series("g", ["all"] * n, dtype=pl.Utf8)
        )
        lnd = _ln_rate(df[depreciation_rate].cast(pl.Float64).fill_null(np.nan).to_numpy())
        cols = [
            df[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c in (va, labor, capital, proxy)
        ]
        gnull = gcol.is_null().to_numpy()
        est_ok = np.isfinite(lnd) & ~gnull
        dup = df.select(pl.struct(id, time).is_duplicated()).to_series().to_numpy()
        if dup.any():
            raise ValueError(f"({id}, {time}) is not unique: {int(dup.sum())} duplicated rows")
        for v in cols:
            est_ok &= np.isfinite(v)
        ir = None
        if cols_map.get("investment") is not None:
            ln_i = df[cols_map["investment"]].cast(pl.Float64).fill_null(np.nan).to_numpy()
            ir = np.exp(ln_i - cols[2])  # NaN where ln investment is null: unknown, not 0
        strata = None
        if cols_map.get("strata") is not None:
            strata = df[cols_map["strata"]].cast(pl.Utf8).fill_null("__null__").to_numpy()
        dlev = None
        if cols_map.get("level_control") is not None:
            dlev = df[cols_map["level_control"]].cast(pl.Float64).fill_null(np.nan).to_numpy()
            est_ok &= np.isfinite(dlev)
        ctl = None
        if lom := cols_map.get("law_of_motion"):
            ctl = np.column_stack(
                [df[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c in lom.split(",")]
            )
        return cls(
            *cols,
            lnd=lnd,
            ids=df[id].to_numpy(),
            times=df[time].cast(pl.Int64).to_numpy(),
            garr=gcol.fill_null("__null__").to_numpy(),
            gnull=gnull,
            est_ok=est_ok,
            ir=ir,
            strata=strata,
            ctl=ctl,
            dlev=dlev,
        )

    def fit(self, mask: np.ndarray, poly_degree: int, markov_degree: int, method: str) -> _Fit:
        """Estimate (β_l, β_k, φ) on the rows of ``mask``."""
        ix = np.flatnonzero(mask)
        if ix.size < _MIN_OBS:
            return _Fit(int(ix.size), np.nan, np.nan, np.nan, False, "too few obs")
        return _fit(
            self.va[ix],
            self.lab[ix],
            self.k[ix],
            self.m[ix],
            self.lnd[ix],
            self.ids[ix],
            self.times[ix],
            poly_degree,
            markov_degree,
            method,
            None if self.ir is None else self.ir[ix],
            None if self.strata is None else self.strata[ix],
            None if self.ctl is None else self.ctl[ix],
            None if self.dlev is None else self.dlev[ix],
        )


def _choose_theta(
    fit: _Fit,
    ok: bool,
    msg: str,
    pooled: _Fit,
    pooled_ok: bool,
    pooled_msg: str,
    grouped: bool,
) -> tuple[float, bool, str]:
    """θ of a group: its own if valid, else the pooled θ (per-group estimation with a valid
    pooled fit), else NaN: the group cannot be estimated and its CU is null.
    Returns (θ, fallback used, message)."""
    if ok:
        return fit.theta, False, msg
    if pooled_ok and grouped:
        return pooled.theta, True, f"{msg}; pooled theta used"
    extra = f" (pooled: {pooled_msg})" if grouped else ""
    return float("nan"), False, f"{msg}{extra}; not estimable: CU is null"


def _group_row(
    g: str,
    fit: _Fit,
    n_cu: int,
    theta: tuple[float, float],
    ln_a: float,
    fallback: bool,
    msg: str,
) -> dict[str, object]:
    """One row of ``by_group`` (``theta``: the θ used and its standard error)."""
    return {
        "group": g,
        "n": fit.n,
        "n_iv_unknown": fit.n_iv_unknown,
        "n_lom_unknown": fit.n_lom_unknown,
        "n_cu": n_cu,
        "theta": float(theta[0]),
        "theta_se": float(theta[1]),
        "beta_l": fit.beta_l,
        "beta_k": fit.beta_k,
        "phi": fit.phi,
        "first_stage_f": fit.first_stage_f,
        "ln_a": ln_a,
        "converged": fit.converged,
        "fallback_used": fallback,
        "message": msg,
    }


# ----------------------------------------------------------------------------- the cu measure


def _ln_rate(dep: np.ndarray) -> np.ndarray:
    """ln δ of a depreciation rate, NaN where it is missing, non-finite or non-positive."""
    ok = np.isfinite(dep) & (dep > 0)
    return np.where(ok, np.log(np.where(ok, dep, 1.0)), np.nan)


def _yjz_normalize(
    own: pl.DataFrame,
    theta: float,
    norm: tuple[str, float, float],
    cap: float | None = None,
    noise_var: float | None = None,
) -> np.ndarray:
    """u = min((dep / a)^(1/theta), cap) of the rows ``own`` (columns dep_rate, firm_id,
    year) with a pinned by ``norm`` = (norm_method, norm_quantile, norm_value).

    The normalization of :func:`estimate_cu_yjz` (per group), applied to one industry's rows
    with a pooled theta.
    """
    dep = own.get_column("dep_rate").cast(pl.Float64).fill_null(np.nan).to_numpy()
    lnd = _ln_rate(dep)
    out = np.full(dep.shape, np.nan)
    sel = np.isfinite(lnd)
    if sel.any():
        ids = own.get_column("firm_id").to_numpy()[sel]
        times = own.get_column("year").cast(pl.Int64).to_numpy()[sel]
        ln_a = level_ln_a(lnd[sel], theta, *norm, ids=ids, times=times, noise_var=noise_var)
        out[sel] = utilization(lnd[sel], ln_a, theta, cap)
    return out


# the panel column of ``measures.yjz.level_control`` (:func:`cbec.data.panel.perpetual_inventory`)
LEVEL_CONTROL = "ln_k_use_dlevel"


def cu_yjz(
    pool: pl.DataFrame, cfg: dict, own_n: int | None = None, noise_var: float | None = None
) -> MeasureFit:
    """The ``cu`` measure of the driver: Yu–Jin–Zhang capital utilization via
    :func:`estimate_cu_yjz` with ``measures`` config ``cfg``.

    On the industry's own rows (``own_n`` None or equal to the pool's height) the estimate
    is the module's. On a fallback pool (the industry's ``own_n`` rows first) theta is
    estimated on the whole pool and the industry's CU is normalized within the industry
    (as every non-pooled industry is), with the same normalization as the module.
    ``cfg["yjz"]["method"]`` chooses the estimator (``dynamic`` | ``iv`` | ``acf``); with
    ``capital: ln_k_use`` the investment rate of t − 1 (``ln_inv``) instruments k_t, with
    ``ln_k`` (no book noise) k_t is its own instrument. ``ln_k_use`` assumes that the plant
    wears with the book depreciation rate, ``ln_k`` that it wears at a rate unrelated to use;
    book data cannot tell which (docs/methods.md), so the message names the assumption in
    force; ``level_control`` adds :data:`LEVEL_CONTROL` (θ̂ free of the accounts' level of
    depreciation, at a larger standard error). The industries of a fallback pool
    each have their own year effects (``strata="ind2"``).
    An invalid estimate (phi <= 0, beta_k <= 0, theta outside ``theta_bounds``, weak
    instrument, not converged, too few lagged rows, theta's standard error above
    ``max_theta_rel_se`` of theta) is a failure here (the driver then tries
    its fallback pools, and leaves the industry's CU null when they fail too).
    """
    y = cfg["yjz"]
    res = estimate_cu_yjz(
        pool,
        va="ln_va",
        labor="ln_l",
        capital=y["capital"],
        investment="ln_inv" if y["capital"] == "ln_k_use" else None,
        strata="ind2",
        law_of_motion=tuple(y.get("law_of_motion_controls", [])),
        depreciation_rate="dep_rate",
        proxy="ln_m",
        id="firm_id",
        time="year",
        norm_quantile=y["norm_quantile"],
        norm_value=y["norm_value"],
        norm_method=y.get("norm_method", "quantile"),
        cap=y.get("cap"),
        noise_var=noise_var,
        theta_bounds=tuple(y["theta_bounds"]),
        poly_degree=cfg["poly_degree"],
        method=y["method"],
        min_first_stage_f=y["min_f"],
        max_theta_rel_se=y.get("max_theta_rel_se"),
        level_control=LEVEL_CONTROL if y.get("level_control") else None,
    )
    valid = bool(res.meta.get("pooled_valid", False))
    row = res.by_group.row(0, named=True) if res.by_group.height else {}
    message = str(res.meta.get("pooled_message", row.get("message", "")))
    # the assumption the capital makes (not testable from book data, docs/methods.md)
    message += (
        " [capital ln_k_use: assumes the plant wears with the book depreciation rate]"
        if y["capital"] == "ln_k_use"
        else f" [capital {y['capital']}: assumes wear at a rate unrelated to use]"
    )
    if n_unknown := int(res.meta.get("pooled_n_iv_unknown", 0)):
        message += f" ({n_unknown} rows without I/K of t-1 left out of the moments)"
    if n_lom := int(res.meta.get("pooled_n_lom_unknown", 0)):
        lom = ", ".join(y.get("law_of_motion_controls", []))
        message += f" ({n_lom} rows without {lom} of t-1 left out of the moments)"
    if own_n is None or own_n >= pool.height:
        values = res.cu.cast(pl.Float64).fill_null(np.nan).to_numpy()
    else:
        norm = (y.get("norm_method", "quantile"), y["norm_quantile"], y["norm_value"])
        values = _yjz_normalize(pool.head(own_n), res.theta, norm, y.get("cap"), noise_var)
    return MeasureFit(
        values=values,
        ok=valid,
        converged=bool(row.get("converged", False)),
        nobs=int(row.get("n", 0) or 0),
        message=message if valid else f"invalid YJZ estimate: {message}",
        diag={
            "theta": float(res.theta) if valid else float("nan"),
            "theta_se": float(res.meta["pooled_theta_se"]),  # NaN unless valid
            "b_l": float(res.coef.get("beta_l", np.nan)),
            "b_k": float(res.coef.get("beta_k", np.nan)),
        },
    )

"""Stochastic frontier analysis (cross-section, production frontier).

Model (Aigner–Lovell–Schmidt 1977; Stevenson 1980; FRONTIER 4.1 parameterisation):

    y_i = x_i'β + v_i − u_i,   v_i ~ N(0, σ_v²),   u_i ~ N⁺(μ, σ_u²)  (μ = 0: half-normal)
    σ² = σ_u² + σ_v²,  γ = σ_u² / σ²   (Battese & Corra 1977; Coelli's FRONTIER 4.1)

Estimation follows FRONTIER 4.1: OLS, then a grid search over γ with the OLS intercept and
σ² corrected by the method of moments, then maximum likelihood with an analytic gradient:
L-BFGS-B on (β, ln σ², logit γ, δ = μ/σ_u), polished by Newton steps on a finite-difference
Hessian of the analytic gradient. γ is kept in [1e-8, 1 − 1e-8] (as FRONTIER's ``check``).
The truncated-normal fit starts from the half-normal optimum (so its log-likelihood is never
below the half-normal one) and bounds |μ| ≤ ``mu_bound``·σ_u (FRONTIER/R ``sfa`` default
muBound = 2): the likelihood has a long flat ridge towards μ → −∞; when the bound binds the
fit reports ``converged=False``, ``mu_at_bound=True`` and says so in ``message``.

Standard errors: inverse of the Hessian of the log-likelihood in the original
parameterisation (β, σ², γ, μ), obtained by central differences of the analytic gradient.
(FRONTIER 4.1 reports the final DFP direction matrix, an approximation of the same inverse
Hessian, so its SEs differ from these by ~1–2%.)

Technical efficiency: Battese & Coelli (1988) E[exp(−u) | ε].

Translog follows R ``frontier::frontierQuad``: y = a0 + Σ a_i x_i + ½ Σ_i Σ_j b_ij x_i x_j
with b_ij = b_ji, i.e. regressor ½ x_i² for ``b_<xi>_<xi>`` and x_i x_j for ``b_<xi>_<xj>``
(i < j; the cross term appears twice in the double sum). Inputs are not mean-centred.

Wrong skew: if the OLS residuals are positively skewed, OLS (γ = 0) is a maximum of the
likelihood (Waldman 1982). When the ML search ends at γ → 0 (or not above the OLS
log-likelihood) the OLS solution is returned with γ = 0, σ² = SSR/n, efficiency 1,
``wrong_skew=True`` and an explanatory ``message``; ``converged`` is True (a boundary
optimum, not a failure).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import polars as pl
from scipy import optimize
from scipy.special import log_ndtr

from cbec.measures.outcome import REQUIRED_COLUMNS, MeasureFit

__all__ = [
    "SFAResult",
    "fit_sfa",
    "fit_sfa_measure",
    "sfa_efficiency",
    "sfa_loglik",
    "sfa_variables",
]

_LOG_2PI = math.log(2.0 * math.pi)
_GAMMA_MIN = 1e-8  # γ ∈ [_GAMMA_MIN, 1 − _GAMMA_MIN] inside the optimizer
_GAMMA_ZERO = 1e-5  # γ below this at the optimum: treated as the OLS boundary solution
_MU_DRIFT = 10.0  # |μ| beyond this many sd of the OLS residuals: drifted along the ridge


@dataclass
class SFAResult:
    """Result of :func:`fit_sfa`; parameters in the FRONTIER 4.1 parameterisation."""

    coef: dict[str, float]
    se: dict[str, float]
    loglik: float
    loglik_ols: float
    efficiency: pl.Series
    converged: bool
    message: str
    nobs: int
    form: str = "cd"
    dist: str = "half-normal"
    wrong_skew: bool = False
    mu_at_bound: bool = False
    skewness_ols: float = float("nan")
    vcov: np.ndarray | None = field(default=None, repr=False)
    vcov_names: list[str] = field(default_factory=list)
    n_iter: int = 0


# ----------------------------------------------------------------------------- likelihood


def _ll_grad(
    beta: np.ndarray,
    sigma2: float,
    gamma: float,
    mu: float,
    y: np.ndarray,
    X: np.ndarray,
    want_grad: bool = True,
) -> tuple[float, np.ndarray | None]:
    """Log-likelihood and its gradient w.r.t. (β, σ², γ, μ), original parameters.

    ll_i = −½ln2π − ½lnσ² − lnΦ(μ/σ_u) + lnΦ(μ*_i/σ*) − ½(ε_i + μ)²/σ²,
    μ*_i = μ(1 − γ) − ε_i γ,  σ* = σ √(γ(1 − γ)),  ε = y − Xβ.
    """
    n = y.shape[0]
    # einsum/elementwise sums instead of BLAS: multithreaded BLAS on tall-skinny products is
    # very slow on an oversubscribed machine (thread wake-ups dominate)
    e = y - np.einsum("ij,j->i", X, beta)
    s = math.sqrt(sigma2)
    su = s * math.sqrt(gamma)
    sstar = s * math.sqrt(gamma * (1.0 - gamma))
    z = (mu * (1.0 - gamma) - e * gamma) / sstar
    a = mu / su
    em = e + mu
    ssq = float(np.sum(em * em))
    lphi_z = log_ndtr(z)
    lphi_a = float(log_ndtr(a))
    ll = (
        -0.5 * n * (_LOG_2PI + math.log(sigma2))
        - n * lphi_a
        + float(np.sum(lphi_z))
        - 0.5 * ssq / sigma2
    )
    if not want_grad:
        return ll, None
    lz = np.exp(-0.5 * z * z - 0.5 * _LOG_2PI - lphi_z)  # φ(z)/Φ(z)
    la = math.exp(-0.5 * a * a - 0.5 * _LOG_2PI - lphi_a)
    g_beta = np.einsum("ij,i->j", X, lz * (gamma / sstar) + em / sigma2)
    g_s2 = 0.5 * (-n + n * la * a - float(np.sum(lz * z)) + ssq / sigma2) / sigma2
    dlns = (1.0 - 2.0 * gamma) / (2.0 * gamma * (1.0 - gamma))
    g_g = 0.5 * n * la * a / gamma + float(np.sum(lz * (-em / sstar - z * dlns)))
    g_mu = -n * la / su + float(np.sum(lz)) * (1.0 - gamma) / sstar - float(np.sum(em)) / sigma2
    return ll, np.concatenate([g_beta, [g_s2, g_g, g_mu]])


def sfa_loglik(
    beta: np.ndarray, sigma2: float, gamma: float, mu: float, y: np.ndarray, X: np.ndarray
) -> float:
    """Log-likelihood of the normal / truncated-normal production frontier (μ=0: half-normal)."""
    beta = np.asarray(beta, dtype=float)
    return _ll_grad(beta, sigma2, gamma, mu, np.asarray(y, float), np.asarray(X, float), False)[0]


def sfa_efficiency(e: np.ndarray, sigma2: float, gamma: float, mu: float = 0.0) -> np.ndarray:
    """Battese–Coelli (1988) E[exp(−u) | ε] for composed residuals ε = v − u (γ in (0,1))."""
    e = np.asarray(e, dtype=float)
    sstar = math.sqrt(sigma2 * gamma * (1.0 - gamma))
    mustar = mu * (1.0 - gamma) - e * gamma
    z = mustar / sstar
    eff = np.exp(log_ndtr(z - sstar) - log_ndtr(z) - mustar + 0.5 * sstar * sstar)
    return np.minimum(eff, 1.0)


# ----------------------------------------------------------------------------- helpers


def _expit(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t)) if t >= 0 else math.exp(t) / (1.0 + math.exp(t))


def _logit(g: float) -> float:
    return math.log(g / (1.0 - g))


def _design(
    df: pl.DataFrame, y: str, x: list[str], form: str, logs: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Return (y, X with constant, mask of usable rows, coefficient names)."""
    if not x:
        raise ValueError("need at least one regressor")
    if len(set(x)) != len(x) or y in x:
        raise ValueError("duplicate variable names in y/x")
    if form not in ("cd", "translog"):
        raise ValueError(f"form must be 'cd' or 'translog', got {form!r}")
    cols = [y, *x]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in frame: {missing}")
    raw = np.column_stack(
        [df.get_column(c).cast(pl.Float64, strict=False).to_numpy().astype(float) for c in cols]
    )
    raw = np.where(np.isfinite(raw), raw, np.nan)
    if logs:
        pos = raw > 0
        raw = np.where(pos, np.log(np.where(pos, raw, 1.0)), np.nan)
    mask = np.all(np.isfinite(raw), axis=1)
    yy = raw[mask, 0]
    xx = raw[mask, 1:]
    names = ["const", *x]
    parts = [np.ones((yy.shape[0], 1)), xx]
    if form == "translog":
        for i in range(len(x)):
            for j in range(i, len(x)):
                term = 0.5 * xx[:, i] ** 2 if i == j else xx[:, i] * xx[:, j]
                parts.append(term[:, None])
                names.append(f"b_{x[i]}_{x[j]}")
    return yy, np.hstack(parts), mask, names


def _num_hessian(
    grad: Callable[[np.ndarray], np.ndarray],
    p: np.ndarray,
    steps: np.ndarray,
    g0: np.ndarray | None = None,
) -> np.ndarray:
    """Jacobian of an analytic gradient by finite differences, symmetrised.

    Central differences; forward differences from ``g0`` (the gradient at ``p``) if given.
    """
    k = p.shape[0]
    H = np.empty((k, k))
    for j in range(k):
        d = np.zeros(k)
        d[j] = steps[j]
        if g0 is None:
            H[:, j] = (grad(p + d) - grad(p - d)) / (2.0 * steps[j])
        else:
            H[:, j] = (grad(p + d) - g0) / steps[j]
    return 0.5 * (H + H.T)


class _Objective:
    """Negative log-likelihood in t = (β, ln σ², logit γ, δ = μ/σ_u)."""

    def __init__(self, y: np.ndarray, X: np.ndarray):
        self.y, self.X, self.k = y, X, X.shape[1]

    def orig(self, t: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        k = self.k
        s2 = math.exp(t[k])
        g = _expit(t[k + 1])
        return t[:k], s2, g, t[k + 2] * math.sqrt(s2 * g)

    def __call__(self, t: np.ndarray) -> tuple[float, np.ndarray]:
        k = self.k
        beta, s2, g, mu = self.orig(t)
        with np.errstate(all="ignore"):
            ll, go = _ll_grad(beta, s2, g, mu, self.y, self.X)
        if not np.isfinite(ll) or not np.all(np.isfinite(go)):
            return 1e300, np.zeros_like(t)
        gt = go[: k + 3].copy()
        # chain rule: μ = δ σ √γ depends on σ² and γ too
        gt[k] = go[k] * s2 + go[k + 2] * 0.5 * mu
        gt[k + 1] = (go[k + 1] + go[k + 2] * 0.5 * mu / g) * g * (1.0 - g)
        gt[k + 2] = go[k + 2] * math.sqrt(s2 * g)
        return -ll, -gt


def _maximize(
    obj: _Objective, t0: np.ndarray, bounds: list[tuple[float, float]]
) -> tuple[np.ndarray, float, bool, str, int]:
    """L-BFGS-B then Newton polish on interior coordinates. Returns (t, −ll, ok, msg, nit)."""
    opt = optimize.minimize(
        obj,
        t0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 5000, "maxfun": 20000, "ftol": 1e-14, "gtol": 1e-8, "maxcor": 30},
    )
    t, f = np.asarray(opt.x, float), float(opt.fun)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    fixed = lo == hi

    fin_lo, fin_hi = np.isfinite(lo), np.isfinite(hi)
    lo_tol = np.full_like(lo, -np.inf)
    hi_tol = np.full_like(hi, np.inf)
    lo_tol[fin_lo] = lo[fin_lo] + 1e-9 * np.maximum(1.0, np.abs(lo[fin_lo]))
    hi_tol[fin_hi] = hi[fin_hi] - 1e-9 * np.maximum(1.0, np.abs(hi[fin_hi]))
    gtol_abs = 1e-8 * max(1.0, abs(f))

    def interior(tt: np.ndarray) -> np.ndarray:
        return ~fixed & (tt > lo_tol) & (tt < hi_tol)

    # Newton polish; the (forward-difference) Hessian is recomputed only when the set of
    # interior coordinates changes or a step fails to improve.
    H, H_idx = None, None
    for _ in range(25):
        idx = np.flatnonzero(interior(t))
        g_full = obj(t)[1]
        if idx.size == 0 or np.max(np.abs(g_full[idx])) < gtol_abs:
            break
        if H is None or H_idx is None or not np.array_equal(idx, H_idx):

            def gsub(p: np.ndarray, idx: np.ndarray = idx, t_ref: np.ndarray = t) -> np.ndarray:
                tt = t_ref.copy()
                tt[idx] = p
                return obj(tt)[1][idx]

            H = _num_hessian(gsub, t[idx], 1e-7 * np.maximum(1.0, np.abs(t[idx])), g_full[idx])
            H_idx = idx
            try:
                if np.min(np.linalg.eigvalsh(H)) <= 0:
                    break
            except np.linalg.LinAlgError:
                break
        try:
            step = np.linalg.solve(H, g_full[idx])
        except np.linalg.LinAlgError:
            break
        lam, improved = 1.0, False
        for _ls in range(10):
            cand = t.copy()
            cand[idx] = t[idx] - lam * step
            cand = np.clip(cand, lo, hi)
            fc = obj(cand)[0]
            if fc <= f:
                improved = fc < f or np.max(np.abs(cand - t)) > 0
                t, f = cand, fc
                break
            lam *= 0.5
        if not improved:
            break
        if lam < 1.0:
            H = None  # the full Newton step was too long: refresh the Hessian
    g_full = obj(t)[1]
    idx = np.flatnonzero(interior(t))
    gmax = float(np.max(np.abs(g_full[idx]))) if idx.size else 0.0
    ok = bool(np.isfinite(f) and f < 1e299 and gmax < 1e-6 * max(1.0, abs(f)))
    msg = f"L-BFGS-B: {opt.message}; max |gradient| on free parameters {gmax:.2e}"
    return t, f, ok, msg, int(opt.nit)


# ----------------------------------------------------------------------------- fit


def _efficiencies(
    ml: _Ml, yy: np.ndarray, X: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, pl.Series]:
    """Technical efficiency of the fitted rows (1 when gamma = 0), and as a Series over all
    rows of the input (null where a row was not used: ``mask``)."""
    if ml.g == 0.0:
        eff_used = np.ones(yy.shape[0])
    else:
        eff_used = sfa_efficiency(yy - X @ ml.beta, ml.s2, ml.g, ml.mu)
    eff = np.full(mask.shape[0], np.nan)
    eff[mask] = eff_used
    return eff_used, pl.Series("efficiency", eff, dtype=pl.Float64).fill_nan(None)


def fit_sfa(
    df: pl.DataFrame,
    y: str,
    x: list[str],
    form: Literal["cd", "translog"] = "cd",
    dist: Literal["half-normal", "truncated-normal"] = "half-normal",
    logs: bool = False,
    *,
    mu_bound: float = 2.0,
) -> SFAResult:
    """Fit a cross-sectional stochastic production frontier by maximum likelihood.

    ``y`` and ``x`` are log output and log inputs (``logs=True`` takes logs first; values
    ≤ 0 become missing). Rows with missing or non-finite values are dropped and get a null
    efficiency. ``form``: Cobb–Douglas or translog (frontierQuad parameterisation). ``dist``:
    inefficiency distribution. ``mu_bound``: truncated normal only, |μ| ≤ mu_bound·σ_u
    (FRONTIER's default 2). Raises ValueError on too few rows or collinear regressors.
    """
    if dist not in ("half-normal", "truncated-normal"):
        raise ValueError(f"dist must be 'half-normal' or 'truncated-normal', got {dist!r}")
    if not mu_bound > 0:
        raise ValueError("mu_bound must be positive")
    yy, X, mask, names = _design(df, y, list(x), form, logs)
    X = np.asfortranarray(X)
    n, k = X.shape
    truncated = dist == "truncated-normal"
    if n < k + 3:
        raise ValueError(f"too few complete observations ({n}) for {k} coefficients")
    if np.linalg.matrix_rank(X) < k:
        raise ValueError("regressor matrix is rank deficient (collinear regressors)")

    ols = _ols(yy, X)
    ml = _max_likelihood(ols, yy, X, truncated, mu_bound)
    ml, converged, mu_at_bound, msgs = _check_optimum(ml, ols, truncated, mu_bound)
    se, vcov, vnames, se_msgs = _standard_errors(ml, ols, names, yy, X, truncated)
    msgs += se_msgs
    coef = {nm: float(b) for nm, b in zip(names, ml.beta, strict=True)}
    coef.update(sigma2=float(ml.s2), gamma=float(ml.g), mu=float(ml.mu))

    eff_used, eff_s = _efficiencies(ml, yy, X, mask)

    if not np.isfinite(ml.ll) or not all(np.isfinite(v) for v in coef.values()):
        converged = False
        msgs.append("non-finite estimates")
    if not np.all(np.isfinite(eff_used)):
        converged = False
        msgs.append("non-finite efficiencies")

    return SFAResult(
        coef=coef,
        se={kk: float(v) for kk, v in se.items()},
        loglik=float(ml.ll),
        loglik_ols=float(ols.ll),
        efficiency=eff_s,
        converged=bool(converged),
        message="; ".join(msgs),
        nobs=int(n),
        form=form,
        dist=dist,
        wrong_skew=bool(ols.skew > 0),
        mu_at_bound=mu_at_bound,
        skewness_ols=float(ols.skew),
        vcov=vcov,
        vcov_names=vnames,
        n_iter=ml.nit,
    )


@dataclass
class _Ols:
    """OLS fit of the frontier: coefficients, σ² = SSR/n, log-likelihood, residual skew."""

    beta: np.ndarray
    s2: float
    ll: float
    skew: float


@dataclass
class _Ml:
    """ML estimate in the original parameterisation, with the optimizer's report."""

    beta: np.ndarray
    s2: float
    g: float
    mu: float
    ll: float
    ok: bool
    msg: str
    nit: int
    t_hat: np.ndarray  # optimum in the optimizer's parameterisation
    skip_ml: bool  # wrong skew and no grid point beats OLS: ML not run


def _ols(yy: np.ndarray, X: np.ndarray) -> _Ols:
    """OLS of the frontier (the γ = 0 solution)."""
    n = X.shape[0]
    b_ols, *_ = np.linalg.lstsq(X, yy, rcond=None)
    res = yy - X @ b_ols
    s2_ml = float(res @ res) / n
    if not s2_ml > 0:
        raise ValueError("OLS residuals are all zero: frontier not identified")
    ll_ols = -0.5 * n * (_LOG_2PI + math.log(s2_ml) + 1.0)
    skew = float(np.mean(res**3)) / s2_ml**1.5
    return _Ols(b_ols, s2_ml, ll_ols, skew)


def _grid_start(
    ols: _Ols, yy: np.ndarray, X: np.ndarray
) -> tuple[float, tuple[np.ndarray, float, float]]:
    """FRONTIER-style grid search over γ (μ = 0, MoM-corrected intercept and σ²).

    Returns the best log-likelihood and its (β, σ², γ)."""
    best_ll, best_p = -np.inf, None
    for g in np.arange(0.05, 0.951, 0.05):
        s2 = ols.s2 / (1.0 - 2.0 * g / math.pi)
        beta = ols.beta.copy()
        beta[0] += math.sqrt(2.0 * g * s2 / math.pi)
        ll_g = sfa_loglik(beta, s2, g, 0.0, yy, X)
        if np.isfinite(ll_g) and ll_g > best_ll:
            best_ll, best_p = ll_g, (beta, s2, g)
    if best_p is None:
        raise ValueError("log-likelihood not finite anywhere on the starting grid")
    return best_ll, best_p


def _max_likelihood(
    ols: _Ols, yy: np.ndarray, X: np.ndarray, truncated: bool, mu_bound: float
) -> _Ml:
    """Maximum likelihood on orthonormalised regressors (X = QR, X̃ = Q√n, β = R⁻¹√n θ),
    from the best point of the γ grid; the truncated normal starts from the half-normal
    optimum."""
    n, k = X.shape
    best_ll, best_p = _grid_start(ols, yy, X)
    q_mat, r_mat = np.linalg.qr(X)
    root_n = math.sqrt(n)
    theta_to_beta = np.linalg.solve(r_mat, np.eye(k)) * root_n
    theta0 = r_mat @ best_p[0] / root_n
    t0 = np.concatenate([theta0, [math.log(best_p[1]), _logit(best_p[2]), 0.0]])
    obj = _Objective(yy, np.asfortranarray(q_mat * root_n))
    inf = np.inf
    bnd_common = [(-inf, inf)] * k + [(-inf, inf), (_logit(_GAMMA_MIN), _logit(1 - _GAMMA_MIN))]
    # Wrong skew and no grid point beats OLS: OLS is the (boundary) MLE (Waldman 1982); skip
    # the slow creep of the optimizer towards gamma -> 0.
    skip_ml = ols.skew > 0 and not best_ll > ols.ll
    if skip_ml:
        t_hat = np.concatenate([r_mat @ ols.beta / root_n, [math.log(ols.s2), -inf, 0.0]])
        return _Ml(ols.beta.copy(), ols.s2, 0.0, 0.0, ols.ll, True, "", 0, t_hat, True)
    t_hat, f_hat, ok, msg, nit = _maximize(obj, t0, [*bnd_common, (0.0, 0.0)])
    if truncated:
        t_hn, f_hn = t_hat, f_hat
        bnd_tn = [*bnd_common, (-mu_bound, mu_bound)]
        t_hat, f_hat, ok, msg, nit2 = _maximize(obj, t_hn, bnd_tn)
        nit += nit2
        if not f_hat <= f_hn:  # never worse than the half-normal optimum
            t_hat, f_hat = t_hn, f_hn
    theta, s2, g, mu = obj.orig(t_hat)
    return _Ml(theta_to_beta @ theta, s2, g, mu, -f_hat, ok, msg, nit, t_hat, False)


def _check_optimum(
    ml: _Ml, ols: _Ols, truncated: bool, mu_bound: float
) -> tuple[_Ml, bool, bool, list[str]]:
    """Boundary optimum (γ = 0: OLS returned), μ at its bound or drifted, γ at 1.

    Returns the estimate kept, whether it converged, whether μ is at its bound, messages."""
    k = ml.beta.shape[0]
    skew = ols.skew
    converged = ml.ok
    msgs = [ml.msg]
    wrong_skew = skew > 0
    mu_at_bound = bool(truncated and abs(ml.t_hat[k + 2]) >= mu_bound * (1 - 1e-9))
    if ml.g <= _GAMMA_ZERO or not ml.ll > ols.ll + 1e-10:
        ml = replace(ml, beta=ols.beta.copy(), s2=ols.s2, g=0.0, mu=0.0, ll=ols.ll)
        msgs = [
            f"OLS residual skewness {skew:.4g}"
            + (" (wrong sign: positive)" if wrong_skew else "")
            + "; ML optimum at the boundary gamma = 0 (no inefficiency): OLS returned "
            "(sigma2 = SSR/n), efficiency = 1"
            + ("; no point of the gamma grid improves on OLS" if ml.skip_ml else "")
        ]
        return ml, True, False, msgs
    if wrong_skew:
        msgs.append(f"warning: OLS residuals positively skewed ({skew:.4g})")
    mu = ml.mu
    if mu_at_bound:
        converged = False
        msgs.append(
            f"mu at its bound |mu| = {mu_bound:g}*sigma_u (mu = {mu:.4g}): the likelihood "
            "is flat along mu; mu, sigma2, gamma and the intercept are weakly identified"
        )
    mu_drift = _MU_DRIFT * math.sqrt(ols.s2)
    if truncated and not mu_at_bound and abs(mu) > mu_drift:
        converged = False
        msgs.append(
            f"mu = {mu:.4g} drifted along the flat likelihood ridge (|mu| > {_MU_DRIFT:g} sd "
            "of the OLS residuals): mu, sigma2, gamma and the intercept are not identified; "
            "use a smaller mu_bound or the half-normal model"
        )
    if ml.g >= 1.0 - 1e-6:
        msgs.append("gamma at its upper bound (sigma_v -> 0)")
    if not ml.ok:
        msgs.insert(0, "optimizer did not converge (gradient not ~0 on free parameters)")
    return ml, converged, mu_at_bound, msgs


def _standard_errors(
    ml: _Ml, ols: _Ols, names: list[str], yy: np.ndarray, X: np.ndarray, truncated: bool
) -> tuple[dict[str, float], np.ndarray | None, list[str], list[str]]:
    """Standard errors: inverse Hessian in the original parameterisation (β, σ², γ, μ);
    OLS standard errors at γ = 0. Returns (se, vcov, vcov names, messages)."""
    n, k = X.shape
    beta, s2, g, mu = ml.beta, ml.s2, ml.g, ml.mu
    pnames = [*names, "sigma2", "gamma", "mu"]
    se = dict.fromkeys(pnames, float("nan"))
    vcov, vnames, msgs = None, [], []
    if g == 0.0:
        cov_b = ols.s2 * np.linalg.inv(X.T @ X)
        for i, nm in enumerate(names):
            se[nm] = math.sqrt(cov_b[i, i])
        se["sigma2"] = ols.s2 * math.sqrt(2.0 / n)
        vcov, vnames = cov_b, list(names)
    else:
        m = k + 3 if truncated else k + 2
        p_o = np.concatenate([beta, [s2, g, mu]])

        def grad_o(p: np.ndarray) -> np.ndarray:
            full = p_o.copy()
            full[:m] = p
            with np.errstate(all="ignore"):
                gr = _ll_grad(full[:k], full[k], full[k + 1], full[k + 2], yy, X)[1]
            return gr[:m]

        steps = 1e-5 * np.maximum(np.abs(p_o[:m]), 1e-2)
        steps[k + 1] = min(steps[k + 1], 0.5 * g, 0.5 * (1.0 - g))
        H = _num_hessian(grad_o, p_o[:m], steps)
        try:
            vcov = np.linalg.inv(-H)
            vnames = pnames[:m]
            d = np.diag(vcov)
            for i in range(m):
                se[pnames[i]] = math.sqrt(d[i]) if d[i] > 0 else float("nan")
            if not np.all(d > 0):
                msgs.append("Hessian not negative definite: some standard errors are NaN")
        except np.linalg.LinAlgError:
            msgs.append("singular Hessian: standard errors unavailable (NaN)")
    if not truncated:
        se["mu"] = float("nan")  # μ fixed at 0, no standard error
    return se, vcov, vnames, msgs


# ------------------------------------------------- the cu_sfa_cd / cu_sfa_tl measures

SFA_OUTPUT = "ln_va"
SFA_INPUTS = ["ln_k", "ln_l", "ln_m"]
SFA_CAPACITY_INPUTS = ["ln_k", "ln_l"]
SFA_KINDS = ("capacity", "technical_efficiency")


def sfa_variables(cfg: dict) -> tuple[str, list[str]]:
    """Frontier output and inputs of ``measures.sfa_kind``.

    ``capacity`` (default): a capacity frontier, output on the quasi-fixed inputs
    ``measures.sfa_capacity_inputs`` (default capital alone; must contain ln_k);
    ``technical_efficiency``: output on every input ``measures.sfa_inputs`` (must contain
    ln_k and ln_l). Output: ``measures.sfa_output``."""
    kind = str(cfg.get("sfa_kind", "capacity"))
    if kind not in SFA_KINDS:
        raise ValueError(f"measures.sfa_kind must be one of {SFA_KINDS}, got {kind!r}")
    y = str(cfg.get("sfa_output", SFA_OUTPUT))
    if kind == "capacity":
        x = [str(c) for c in cfg.get("sfa_capacity_inputs", SFA_CAPACITY_INPUTS)]
        if "ln_k" not in x:
            raise ValueError(f"measures.sfa_capacity_inputs must contain ln_k, got {x}")
    else:
        x = [str(c) for c in cfg.get("sfa_inputs", SFA_INPUTS)]
        if "ln_k" not in x or "ln_l" not in x:
            raise ValueError(f"measures.sfa_inputs must contain ln_k and ln_l, got {x}")
    bad = [c for c in [y, *x] if c not in REQUIRED_COLUMNS]
    if bad:
        raise ValueError(f"SFA variables {bad} are not panel columns the measures read")
    return y, x


def _frontier_design(pool: pl.DataFrame, form: str, cfg: dict) -> tuple[pl.DataFrame, list[str]]:
    """Regressors of the frontier: inputs (translog terms), year and industry dummies."""
    y, inputs = sfa_variables(cfg)
    usable = pool.select(
        pl.all_horizontal(
            [pl.col(c).cast(pl.Float64).is_finite().fill_null(False) for c in (y, *inputs)]
        )
    ).to_series()
    short = {c: "x_" + c.removeprefix("ln_") for c in inputs}
    cols = [pl.col(c).alias(short[c]) for c in inputs]
    names = [short[c] for c in inputs]
    if form == "translog":
        for i, a in enumerate(inputs):
            for b in inputs[i:]:
                sa, sb = short[a].removeprefix("x_"), short[b].removeprefix("x_")
                term = 0.5 * pl.col(a) * pl.col(a) if a == b else pl.col(a) * pl.col(b)
                cols.append(term.alias(f"x_{sa}{sb}"))
                names.append(f"x_{sa}{sb}")
    for var, prefix, on in (("year", "yr", cfg["sfa_year_dummies"]), ("ind2", "ind", True)):
        if not on:
            continue
        levels = sorted(pool.filter(usable).get_column(var).unique().drop_nulls().to_list())
        for lev in levels[1:]:  # first level is the base
            nm = f"{prefix}_{lev}"
            cols.append((pl.col(var) == lev).cast(pl.Float64).alias(nm))
            names.append(nm)
    return pool.select(pl.col(y).alias("y_frontier"), *cols), names


def _translog_elasticity(
    c: dict[str, float], own: pl.DataFrame, var: str, inputs: list[str]
) -> float:
    """d y / d x_var of a translog frontier at the own industry's mean inputs."""
    means = {v: float(own[v].mean() or 0.0) for v in inputs}
    out = c[var]
    for w in inputs:
        a, b = var.removeprefix("x_"), w.removeprefix("x_")
        key = f"x_{a}{b}" if f"x_{a}{b}" in c else f"x_{b}{a}"
        out += c[key] * means[w]
    return out


def fit_sfa_measure(pool: pl.DataFrame, form: str, cfg: dict, own_n: int) -> MeasureFit:
    """The ``cu_sfa_cd`` (``form="cd"``) or ``cu_sfa_tl`` (``"translog"``) measure of the
    driver on ``pool`` (the industry's ``own_n`` rows first): Battese–Coelli efficiencies of
    the frontier of ``measures`` config ``cfg``. The translog terms and the dummies are built
    here and passed to :func:`fit_sfa` as a Cobb–Douglas design. Rejected (``ok`` false)
    on a wrong skew of the industry's own fit, gamma = 0 or no convergence."""
    pooled = pool.height > own_n
    design, names = _frontier_design(pool, form, cfg)
    res = fit_sfa(design, y="y_frontier", x=names, form="cd", dist=cfg["sfa_dist"])
    c = res.coef
    if form == "translog":
        own = design.head(own_n).drop_nulls()
        inputs = ["x_" + v.removeprefix("ln_") for v in sfa_variables(cfg)[1]]
        b_k = _translog_elasticity(c, own, "x_k", inputs)
        b_l = _translog_elasticity(c, own, "x_l", inputs) if "x_l" in c else float("nan")
    else:
        b_k, b_l = c["x_k"], c.get("x_l", float("nan"))
    problem = ""
    if res.wrong_skew and not pooled:
        problem = f"wrong skew: OLS residual skewness {res.skewness_ols:.4g} > 0; {res.message}"
    elif c["gamma"] <= 0.0:  # pooled fits: a mild positive skew is tolerated if gamma > 0
        problem = f"no inefficiency identified (gamma = 0): {res.message}"
    elif not res.converged:
        problem = "not converged: " + res.message
    diag = {"b_l": b_l, "b_k": b_k, "gamma": c["gamma"], "sigma2": c["sigma2"]}
    return MeasureFit.of(res.efficiency, res, problem, {**diag, "skewness": res.skewness_ols})

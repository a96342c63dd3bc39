"""Control-function production-function estimation: Olley–Pakes, Levinsohn–Petrin, ACF.

Reference Python implementation of the algorithms of the ``prodest`` package
(Rovigatti & Mollisi 2018, R ``prodestOP`` / ``prodestLP`` / ``prodestACF``).

Model (logs): ``y_it = b0 + sum_j b_j free_jit + sum_s b_s state_sit + omega_it + eps_it``.

OP / LP (``method="op"`` / ``"lp"``; they differ only in the proxy: investment / materials)
    1. First stage: OLS of ``y`` on a constant, the free inputs and a *full* polynomial of
       total degree ``poly_degree`` in ``(state..., proxy)`` (all monomials of degree
       1..d; for d = 2 and one state: k, m, k^2, k*m, m^2 -- exactly prodest's
       ``model.matrix(~.^2 - 1)`` plus squares).  The free elasticities are the OLS
       coefficients; ``phi = fitted - free*b_free`` (contains the constant).
    2. Second stage over ``b_state``: ``omega = phi - state*b``;
       for rows whose firm is observed at exactly ``t - 1`` ("lag rows"),
       the law of motion ``g`` is a cubic polynomial *with constant* in ``omega_{t-1}``,
       fitted by OLS of ``omega_t`` on it inside the objective, and the criterion is the sum of
       squared innovations ``xi = (y - free*b_free) - state*b - g(omega_{t-1})`` (prodest's
       ``gOPLP``: note ``y`` net of free inputs, not ``phi``, enters ``xi``).
    Optional attrition correction (``exit``): a probit of the 0/1 exit column on the degree
    ``poly_degree`` polynomial of lagged (state, proxy) over lag rows gives ``P``; ``g`` then
    is prodest's polynomial in (omega_{t-1}, P):
    1, w, w^2, w^3, P, P^2, P^3, P w, P^2 w, P w^2.  The probit is fitted once on the full
    sample (also for the bootstrap, as in prodest).  prodest's automatic exit indicator is
    1 in a firm's last observed year when that is not the last year of the sample.

ACF (``method="acf"``)
    1. First stage: OLS of ``y`` on a constant and the full polynomial of degree
       ``poly_degree`` in ``(free..., state..., proxy)``; ``phi`` = fitted values.
    2. Second stage over all of ``(b_free, b_state)``: ``omega = phi - X b``,
       ``xi = omega_t - g(omega_{t-1})`` with the same cubic ``g``; moments
       ``E[xi * (free_{t-1}, state_t)]``.  The model is just identified, so the weighting
       matrix does not move an exact root; we use prodest's ``W = (Z'Z / n)^{-1}``
       (scale-free criterion), not the identity.  Several roots can exist: all local minima
       are collected, and among those with (numerically) equal criterion the one closest to
       the anchor (``start`` if given, else plain OLS of y on the inputs) is returned;
       ``message`` reports how many distinct roots were found.

Conventions
    * ``poly_degree=2`` is the default because it reproduces the published prodest
      numbers on the Chilean data (R prodest uses degree 2; degree 3 moves the third
      decimal).
    * Rows with a null or non-finite ``y``/input/proxy/exit value are dropped from the
      estimation (no other filtering: zero investment rows stay in, as in R prodest).
      ``nobs`` counts the remaining rows; ``n_lag_obs`` those with the same firm at exactly
      ``t - 1`` among them (gaps break the lag).
    * ``tfp = y - sum(b * x)`` over free and state inputs (log TFP including constant and
      omega); it is computed for every row with finite ``y`` and inputs (even when the proxy is
      missing) and null otherwise.
    * Optimisation: evaluate the criterion on a deterministic grid over ``[-0.5, 1.5]`` per
      parameter (41 points for one parameter, 17x17 for two, 256 Sobol points for more) and
      at the OLS values; Nelder–Mead from the 3 (one parameter), 5 (two) or 8 (more) best
      well-separated grid points (and from ``start``), each refined by Levenberg–Marquardt on
      the residual vector whose squared norm is the criterion (innovations for OP/LP,
      ``W^{1/2}``-weighted moments for ACF).
      ``converged=False`` with a message when no local search reports success; estimates are
      never silently NaN.
    * Bootstrap (``bootstrap_reps > 0``): firms are resampled with replacement as blocks
      (each draw a new firm), with ``numpy.random.default_rng(seed)``; each replicate
      re-runs both stages; the second stage starts at the full-sample estimate
      (Levenberg–Marquardt, with a Nelder–Mead fallback, then the full search if needed).
      SEs are the standard deviations (ddof=1) over successful replicates; failed replicates
      are dropped and counted in ``message`` / ``n_boot_failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations_with_replacement
from typing import Literal, NamedTuple

import numpy as np
import polars as pl
from scipy.optimize import least_squares, minimize
from scipy.stats import qmc

__all__ = ["ProdFnResult", "estimate_prodfn"]

_GRID_LO, _GRID_HI = -0.5, 1.5
_N_LOCAL = {1: 3, 2: 5}  # best well-separated grid points used as starts (8 for p>2)
_TIE_TOL = 1e-9  # relative tolerance for "equal criterion" among minima
_ROOT_DIST = 1e-4  # minima closer than this are the same root


@dataclass(frozen=True)
class ProdFnResult:
    """Result of :func:`estimate_prodfn`."""

    method: str
    coef: dict[str, float]
    se: dict[str, float] | None
    tfp: pl.Series
    nobs: int
    n_lag_obs: int
    converged: bool
    message: str
    objective: float
    poly_degree: int
    boot_coef: np.ndarray | None = None
    n_boot_failed: int = 0


@dataclass
class _Data:
    """Complete-case arrays sorted by (firm, time); lag of row j is row j-1 if has_lag[j]."""

    y: np.ndarray
    free: np.ndarray  # (n, nf)
    state: np.ndarray  # (n, ns)
    x1: np.ndarray  # first-stage design (n, q): const [, free], polynomial
    has_lag: np.ndarray  # bool (n,)
    firm_start: np.ndarray  # start row of each firm block
    firm_len: np.ndarray
    prob: np.ndarray | None  # exit probit fitted values (n,), NaN where no lag


def _poly(x: np.ndarray, degree: int) -> np.ndarray:
    """All monomials of total degree 1..degree of the (standardised) columns of x."""
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    z = (x - mu) / sd
    cols = []
    for d in range(1, degree + 1):
        for comb in combinations_with_replacement(range(z.shape[1]), d):
            cols.append(np.prod(z[:, list(comb)], axis=1))
    return np.column_stack(cols)


def _col(df: pl.DataFrame, name: str) -> np.ndarray:
    s = df.get_column(name)
    if not s.dtype.is_numeric() and s.dtype != pl.Boolean:
        raise ValueError(f"column {name!r} must be numeric, got {s.dtype}")
    return s.cast(pl.Float64).fill_null(np.nan).to_numpy()


def _probit_prob(exit_y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Fitted probabilities of a probit of exit_y on [1, x] (Newton with line search)."""
    from scipy.special import log_ndtr, ndtr

    xx = np.column_stack([np.ones(len(x)), x])
    b = np.zeros(xx.shape[1])
    q = 2 * exit_y - 1

    def ll(beta: np.ndarray) -> float:
        return float(log_ndtr(q * (xx @ beta)).sum())

    cur = ll(b)
    for _ in range(100):
        eta = q * (xx @ b)
        # d log Phi(eta)/d eta = phi/Phi (Mills ratio), computed stably
        lam = np.exp(-0.5 * eta**2 - 0.5 * np.log(2 * np.pi) - log_ndtr(eta))
        grad = xx.T @ (q * lam)
        w = lam * (lam + eta)
        hess = (xx * w[:, None]).T @ xx
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t = 1.0
        while t > 1e-8:
            new = ll(b + t * step)
            if new >= cur - 1e-12:
                break
            t /= 2
        b = b + t * step
        done = abs(new - cur) < 1e-10
        cur = new
        if done:
            break
    return ndtr(xx @ b)


class _Roles(NamedTuple):
    """The columns of a production-function fit by their role."""

    y: str
    free: list[str]
    state: list[str]
    proxy: str
    id: str
    time: str
    exit: str | None

    @property
    def keys(self) -> list[str]:
        """Firm, time and the exit indicator if any."""
        return [self.id, self.time, *([self.exit] if self.exit else [])]


def _check_columns(df: pl.DataFrame, roles: _Roles, poly_degree: int) -> None:
    """Raise ValueError on missing or repeated columns, no state input, degree < 1."""
    y, free, state, proxy = roles.y, roles.free, roles.state, roles.proxy
    names = [y, *free, *state, proxy, *roles.keys]
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise ValueError(f"columns not found in df: {missing}")
    inputs = [*free, *state]
    if len(set(inputs + [proxy, y])) != len(inputs) + 2:
        raise ValueError("y, free, state and proxy must be distinct columns")
    if not state:
        raise ValueError("at least one state input is required")
    if poly_degree < 1:
        raise ValueError("poly_degree must be >= 1")


def _panel_index(df: pl.DataFrame, id: str, time: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense firm codes and integer times; ValueError on nulls, non-integer times or a
    duplicated (firm, time) pair."""
    ids = df.get_column(id)
    if ids.null_count():
        raise ValueError(f"id column {id!r} has nulls")
    idc = ids.rank("dense").cast(pl.Int64).to_numpy()
    tt = df.get_column(time)
    if tt.null_count():
        raise ValueError(f"time column {time!r} has nulls")
    tf = tt.cast(pl.Float64).to_numpy()
    if not np.all(np.isfinite(tf)) or np.any(tf != np.round(tf)):
        raise ValueError(f"time column {time!r} must be integer-valued")
    ti = tf.astype(np.int64)
    o_all = np.lexsort((ti, idc))
    dup = (np.diff(idc[o_all]) == 0) & (np.diff(ti[o_all]) == 0)
    if dup.any():
        j = o_all[np.argmax(dup)]
        raise ValueError(f"duplicate ({id}, {time}) pair, e.g. ({ids[int(j)]}, {ti[j]})")
    return idc, ti


def _exit_probability(
    es: np.ndarray,
    exit: str | None,
    has_lag: np.ndarray,
    ss: np.ndarray,
    ps: np.ndarray,
    poly_degree: int,
) -> np.ndarray:
    """Survival probit on the lagged state and proxy (attrition correction), NaN on rows
    without a lag."""
    if not np.all((es == 0) | (es == 1)):
        raise ValueError(f"exit column {exit!r} must be 0/1")
    lag_rows = np.nonzero(has_lag)[0]
    el = es[lag_rows]
    if el.min() == el.max():
        raise ValueError(
            "exit: no variation in the exit indicator among lag rows; "
            "run without exit or check the exit column"
        )
    lagged = np.column_stack([ss, ps])[lag_rows - 1]
    prob = np.full(es.shape[0], np.nan)
    prob[lag_rows] = _probit_prob(el, _poly(lagged, poly_degree))
    return prob


def _prepare(
    df: pl.DataFrame, method: str, roles: _Roles, poly_degree: int
) -> tuple[_Data, np.ndarray, np.ndarray]:
    """Validate, select complete rows, sort by (firm, time), build design matrices.

    Returns the data, the original row positions of the sorted complete rows, and the
    (y, inputs)-finite mask over all rows of ``df`` (for TFP).
    """
    _check_columns(df, roles, poly_degree)
    y, free, state, proxy, exit = roles.y, roles.free, roles.state, roles.proxy, roles.exit
    idc, ti = _panel_index(df, roles.id, roles.time)
    yv = _col(df, y)
    fv = np.column_stack([_col(df, c) for c in free]) if free else np.empty((df.height, 0))
    sv = np.column_stack([_col(df, c) for c in state])
    pv = _col(df, proxy)
    tfp_ok = np.isfinite(yv) & np.isfinite(fv).all(axis=1) & np.isfinite(sv).all(axis=1)
    ok = tfp_ok & np.isfinite(pv)
    ev = None
    if exit is not None:
        if method == "acf":
            raise NotImplementedError(
                "attrition correction (exit=...) is implemented for OP/LP only"
            )
        ev = _col(df, exit)
        ok &= np.isfinite(ev)
    rows = np.nonzero(ok)[0]
    rows = rows[np.lexsort((ti[rows], idc[rows]))]
    n = len(rows)
    if n == 0:
        raise ValueError("no complete observations (y, inputs and proxy all finite)")

    ys, fs, ss, ps = yv[rows], fv[rows], sv[rows], pv[rows]
    ic, tc = idc[rows], ti[rows]
    has_lag = np.zeros(n, dtype=bool)
    has_lag[1:] = (ic[1:] == ic[:-1]) & (tc[1:] == tc[:-1] + 1)
    new_firm = np.ones(n, dtype=bool)
    new_firm[1:] = ic[1:] != ic[:-1]
    firm_start = np.nonzero(new_firm)[0]
    firm_len = np.diff(np.append(firm_start, n))

    if method == "acf":
        poly = _poly(np.column_stack([fs, ss, ps]), poly_degree)
        x1 = np.column_stack([np.ones(n), poly])
    else:
        poly = _poly(np.column_stack([ss, ps]), poly_degree)
        x1 = np.column_stack([np.ones(n), fs, poly])

    prob = None
    if ev is not None:
        prob = _exit_probability(ev[rows], exit, has_lag, ss, ps, poly_degree)

    data = _Data(ys, fs, ss, x1, has_lag, firm_start, firm_len, prob)
    return data, rows, tfp_ok


def _lom_basis(wl: np.ndarray, prob: np.ndarray | None) -> np.ndarray:
    """Law-of-motion basis: cubic in standardised omega_{t-1} (+ prodest's P terms)."""
    sd = wl.std()
    z = (wl - wl.mean()) / (sd if sd > 0 else 1.0)
    if prob is None:
        return np.column_stack([np.ones_like(z), z, z * z, z * z * z])
    p = prob
    return np.column_stack(
        [np.ones_like(z), z, z * z, z**3, p, p * p, p**3, p * z, p * p * z, p * z * z]
    )


def _ols_fit(g: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Fitted values of OLS of w on g via normal equations (g has few columns)."""
    gtg = g.T @ g
    gtw = g.T @ w
    try:
        coef = np.linalg.solve(gtg, gtw)
    except np.linalg.LinAlgError:
        coef = np.linalg.lstsq(gtg, gtw, rcond=None)[0]
    return g @ coef


class _Stage2:
    """Precomputed second-stage arrays and the criterion for one (sub)sample."""

    def __init__(self, method: str, d: _Data, rows: np.ndarray, cur: np.ndarray) -> None:
        # rows: sample row indices into d (resampled); cur: positions (in the sample) of lag rows
        self.method = method
        x1 = d.x1[rows]
        yy = d.y[rows]
        nf = d.free.shape[1]
        self.rank_ok = True
        b, _, rank, _ = np.linalg.lstsq(x1, yy, rcond=None)
        if rank < x1.shape[1] and method != "acf" and nf:
            rank_wo = np.linalg.matrix_rank(np.delete(x1, np.s_[1 : 1 + nf], axis=1))
            self.rank_ok = rank - rank_wo == nf
        fitted = x1 @ b
        f = d.free[rows]
        s = d.state[rows]
        prev = cur - 1
        self.prob = None if d.prob is None else d.prob[rows][cur]
        if method == "acf":
            self.b_free = np.empty(0)
            x = np.column_stack([f, s])
            self.phi_t, self.phi_l = fitted[cur], fitted[prev]
            self.x_t, self.x_l = x[cur], x[prev]
            z = np.column_stack([f[prev], s[cur]])
            n = len(cur)
            self.z = z
            try:
                w_mat = np.linalg.inv(z.T @ z / n)
                self.w_chol_t = np.linalg.cholesky(w_mat).T  # W = L L', crit = |L' m|^2
            except np.linalg.LinAlgError:
                w_mat = np.linalg.pinv(z.T @ z / n)
                vals, vecs = np.linalg.eigh(w_mat)
                self.w_chol_t = (vecs * np.sqrt(np.clip(vals, 0, None))).T
        else:
            self.b_free = b[1 : 1 + nf]
            phi = fitted - f @ self.b_free
            res = yy - f @ self.b_free
            self.phi_t, self.phi_l = phi[cur], phi[prev]
            self.x_t, self.x_l = s[cur], s[prev]
            self.r_t = res[cur]
        self.n = len(cur)

    def resid(self, theta: np.ndarray) -> np.ndarray:
        """Residual vector whose squared norm is the criterion (for least-squares refining)."""
        theta = np.asarray(theta, dtype=float)
        w = self.phi_t - self.x_t @ theta
        wl = self.phi_l - self.x_l @ theta
        fit = _ols_fit(_lom_basis(wl, self.prob), w)
        if self.method == "acf":
            return self.w_chol_t @ (self.z.T @ (w - fit) / self.n)
        return (self.r_t - self.x_t @ theta - fit) / np.sqrt(self.n)

    def __call__(self, theta: np.ndarray) -> float:
        r = self.resid(theta)
        val = float(np.einsum("i,i->", r, r))
        return val if np.isfinite(val) else np.inf


def _grid(p: int) -> tuple[np.ndarray, float]:
    """Deterministic starting grid over [_GRID_LO, _GRID_HI]^p and its spacing."""
    if p == 1:
        g = np.linspace(_GRID_LO, _GRID_HI, 41)
        return g[:, None], g[1] - g[0]
    if p == 2:
        g = np.linspace(_GRID_LO, _GRID_HI, 17)
        a, b = np.meshgrid(g, g, indexing="ij")
        return np.column_stack([a.ravel(), b.ravel()]), g[1] - g[0]
    pts = qmc.Sobol(d=p, scramble=False).random_base2(m=8)  # 256 deterministic points
    return _GRID_LO + (_GRID_HI - _GRID_LO) * pts, 0.25


def _local_min(
    fun: _Stage2, x0: np.ndarray, step: float = 0.05
) -> tuple[np.ndarray, float, bool, str]:
    """Nelder–Mead from x0, refined by Levenberg–Marquardt on the residual vector."""
    x0 = np.asarray(x0, dtype=float)
    p = len(x0)
    r = minimize(
        fun,
        x0,
        method="Nelder-Mead",
        options={
            "initial_simplex": np.vstack([x0, x0 + step * np.eye(p)]),
            "xatol": 1e-7,
            "fatol": 1e-14,
            "maxiter": 2000 * p,
            "maxfev": 4000 * p,
        },
    )
    x, f, msg = np.asarray(r.x, dtype=float), float(r.fun), str(r.message)
    if not np.isfinite(f):
        return x, f, False, msg
    try:
        lm = least_squares(fun.resid, x, method="lm", xtol=1e-12, ftol=1e-14, gtol=1e-14)
        f_lm = fun(lm.x)
        ok = bool(lm.success) and np.isfinite(f_lm)
        if ok and f_lm <= f:
            x, f = np.asarray(lm.x, dtype=float), f_lm
        if not ok:
            msg = f"{msg}; LM refine: {lm.message}"
        return x, f, ok and bool(r.success or lm.success), msg
    except (ValueError, np.linalg.LinAlgError) as err:
        return x, f, bool(r.success), f"{msg}; LM refine failed: {err}"


def _lm_only(fun: _Stage2, x0: np.ndarray) -> tuple[np.ndarray, float, bool, str]:
    try:
        lm = least_squares(fun.resid, x0, method="lm", xtol=1e-12, ftol=1e-14, gtol=1e-14)
    except (ValueError, np.linalg.LinAlgError) as err:
        return x0, np.inf, False, str(err)
    f = fun(lm.x)
    return np.asarray(lm.x, dtype=float), f, bool(lm.success) and np.isfinite(f), str(lm.message)


def _search(
    fun: _Stage2, starts: list[np.ndarray], anchor: np.ndarray, full: bool
) -> tuple[np.ndarray, float, bool, str]:
    """Multistart minimisation; among equal-criterion minima pick the one nearest anchor.

    ``full``: evaluate the grid (plus anchor) and start local searches from the best
    well-separated points; otherwise start only at ``anchor`` (bootstrap replicates).
    ``starts`` (user start values) always get their own local search.
    """
    p = len(anchor)
    cand = [np.asarray(s, dtype=float) for s in starts]
    step = 0.05
    if full:
        grid, h = _grid(p)
        grid = np.vstack([anchor, grid])
        vals = np.array([fun(g) for g in grid])
        chosen: list[np.ndarray] = []
        for i in np.argsort(vals, kind="stable"):
            if not np.isfinite(vals[i]) or len(chosen) >= _N_LOCAL.get(p, 8):
                break
            if all(np.max(np.abs(grid[i] - c)) > 2.5 * h for c in chosen):
                chosen.append(grid[i])
        cand += chosen
        step = h / 2
    else:
        # bootstrap replicate: Levenberg–Marquardt straight from the full-sample estimate,
        # falling back to Nelder–Mead + LM if that fails
        x, f, ok, msg = _lm_only(fun, np.asarray(anchor, dtype=float))
        if ok:
            return x, f, True, "converged"
        cand.append(np.asarray(anchor, dtype=float))
    if not cand:
        return anchor, np.inf, False, "criterion not finite at any grid point"
    found = [_local_min(fun, c, step) for c in cand]
    good = [fr for fr in found if fr[2]]
    pool = good if good else [fr for fr in found if np.isfinite(fr[1])]
    if not pool:
        best = found[0]
        return best[0], best[1], False, "criterion not finite at any starting value"
    fmin = min(fr[1] for fr in pool)
    tol = _TIE_TOL * max(abs(fmin), 1e-3 if fun.method != "acf" else 0.0) + 1e-14
    ties = [fr for fr in pool if fr[1] <= fmin + tol]
    roots: list[np.ndarray] = []
    for fr in ties:
        if all(np.max(np.abs(fr[0] - r)) > _ROOT_DIST for r in roots):
            roots.append(fr[0])
    best = min(ties, key=lambda fr: float(np.sum((fr[0] - anchor) ** 2)))
    if not good:
        return best[0], best[1], False, f"local optimiser did not converge: {best[3]}"
    msg = "converged"
    if len(roots) > 1:
        msg += (
            f"; {len(roots)} distinct minima with equal criterion "
            f"({', '.join(np.array2string(r, precision=4) for r in roots)}); "
            "returned the one closest to the anchor (start or OLS)"
        )
    return best[0], best[1], True, msg


def _fit(
    method: str,
    d: _Data,
    rows: np.ndarray,
    starts: list[np.ndarray],
    anchor: np.ndarray | None,
    full: bool,
) -> tuple[np.ndarray, float, bool, str, int]:
    """Both stages on the sample ``rows`` (consecutive blocks per firm)."""
    cur = np.nonzero(d.has_lag[rows])[0]
    st = _Stage2(method, d, rows, cur)
    if not st.rank_ok:
        raise ValueError(
            "free inputs are collinear (with each other or the first-stage polynomial)"
        )
    if anchor is None:
        x_ols = np.column_stack([np.ones(len(rows)), d.free[rows], d.state[rows]])
        b_ols = np.linalg.lstsq(x_ols, d.y[rows], rcond=None)[0][1:]
        anchor = b_ols if method == "acf" else b_ols[d.free.shape[1] :]
    theta, f, ok, msg = _search(st, starts, anchor, full)
    return np.concatenate([st.b_free, theta]), f, ok, msg, len(cur)


def _anchor(d: _Data, start: dict, names: list[str], est_names: list[str]) -> np.ndarray:
    """The user's starting values for ``est_names``, unspecified entries from OLS."""
    unknown = set(start) - set(est_names)
    if unknown:
        raise ValueError(f"start has unknown parameter names {sorted(unknown)}; use {est_names}")
    # fill unspecified entries from OLS through a preliminary anchor computation
    x_ols = np.column_stack([np.ones(len(d.y)), d.free, d.state])
    b_ols = np.linalg.lstsq(x_ols, d.y, rcond=None)[0][1:]
    base = dict(zip(names, b_ols, strict=True))
    base.update({k: float(v) for k, v in start.items()})
    return np.array([base[k] for k in est_names])


def _bootstrap(
    method: str,
    d: _Data,
    beta: np.ndarray,
    est_names: list[str],
    reps: int,
    seed: int | None,
) -> np.ndarray:
    """Firm-block bootstrap replicates of the coefficients (NaN rows: failed replicates)."""
    rng = np.random.default_rng(seed)
    n_firms = len(d.firm_start)
    theta_hat = beta[len(beta) - len(est_names) :]
    boot = np.full((reps, len(beta)), np.nan)
    for r in range(reps):
        draw = rng.integers(0, n_firms, size=n_firms)
        lens = d.firm_len[draw]
        offs = np.repeat(d.firm_start[draw] - np.cumsum(lens) + lens, lens)
        rows = offs + np.arange(lens.sum())
        try:
            b_r, _, ok_r, _, _ = _fit(method, d, rows, [], theta_hat, full=False)
            if not ok_r:
                b_r, _, ok_r, _, _ = _fit(method, d, rows, [], theta_hat, full=True)
        except (ValueError, np.linalg.LinAlgError):
            ok_r = False
        if ok_r and np.all(np.isfinite(b_r)):
            boot[r] = b_r
    return boot


def _bootstrap_se(
    boot: np.ndarray, names: list[str], n_failed: int
) -> tuple[dict[str, float], str]:
    """Standard errors from the successful replicates, and a note on failures."""
    msg = ""
    valid = boot[np.all(np.isfinite(boot), axis=1)]
    if len(valid) >= 2:
        se = dict(zip(names, valid.std(axis=0, ddof=1).tolist(), strict=True))
    else:
        se = dict.fromkeys(names, float("nan"))
        msg += "; bootstrap: fewer than 2 successful replicates, se is NaN"
    if n_failed:
        msg += f"; bootstrap: {n_failed}/{len(boot)} replicates failed and were dropped"
    return se, msg


def _tfp(df: pl.DataFrame, y: str, names: list[str], beta: np.ndarray, ok: np.ndarray) -> pl.Series:
    """log TFP ``y - inputs @ beta`` on the rows of ``df`` (null where ``ok`` is false)."""
    yv = _col(df, y)
    xv = np.column_stack([_col(df, c) for c in names])
    with np.errstate(invalid="ignore"):
        vals = np.where(ok, yv - np.where(ok[:, None], xv, 0.0) @ beta, np.nan)
    return pl.Series("tfp", vals, dtype=pl.Float64).fill_nan(None)


def estimate_prodfn(
    df: pl.DataFrame,
    method: Literal["op", "lp", "acf"],
    y: str,
    free: list[str],
    state: list[str],
    proxy: str,
    id: str,
    time: str,
    poly_degree: int = 2,
    exit: str | None = None,
    bootstrap_reps: int = 0,
    seed: int | None = None,
    start: dict | None = None,
) -> ProdFnResult:
    """Estimate a Cobb–Douglas production function by OP, LP or ACF (prodest algorithm).

    ``start`` optionally maps input names to starting values (state inputs for OP/LP, free
    and state for ACF); it is used as an extra start and as the anchor for choosing among
    equal-criterion minima.  See the module docstring for all conventions.
    """
    if method not in ("op", "lp", "acf"):
        raise ValueError(f"method must be 'op', 'lp' or 'acf', got {method!r}")
    if bootstrap_reps < 0:
        raise ValueError("bootstrap_reps must be >= 0")
    free, state = list(free), list(state)
    roles = _Roles(y, free, state, proxy, id, time, exit)
    d, _, tfp_ok = _prepare(df, method, roles, poly_degree)
    n = len(d.y)
    n_lag = int(d.has_lag.sum())
    names = free + state
    est_names = names if method == "acf" else state
    n_g = 4 if exit is None else 10
    need_1 = d.x1.shape[1] + 1
    need_2 = n_g + len(est_names) + 1
    if n < need_1 or n_lag < need_2:
        raise ValueError(
            f"too few observations for {method.upper()}: {n} complete rows (need >= {need_1}) "
            f"and {n_lag} rows with the same firm at t-1 (need >= {need_2})"
        )

    anchor = _anchor(d, start, names, est_names) if start else None
    starts = [] if anchor is None else [anchor]
    beta, fval, ok, msg, _ = _fit(method, d, np.arange(n), starts, anchor, full=True)

    se, boot, n_failed = None, None, 0
    if bootstrap_reps > 0:
        boot = _bootstrap(method, d, beta, est_names, bootstrap_reps, seed)
        n_failed = int((~np.all(np.isfinite(boot), axis=1)).sum())
        se, boot_msg = _bootstrap_se(boot, names, n_failed)
        msg += boot_msg

    coef = dict(zip(names, beta.tolist(), strict=True))
    tfp = _tfp(df, y, names, beta, tfp_ok).alias(f"tfp_{method}")
    if not np.all(np.isfinite(beta)):
        ok = False
        msg = "non-finite estimates; " + msg
    return ProdFnResult(
        method=method,
        coef=coef,
        se=se,
        tfp=tfp,
        nobs=n,
        n_lag_obs=n_lag,
        converged=bool(ok),
        message=msg,
        objective=float(fval),
        poly_degree=poly_degree,
        boot_coef=boot,
        n_boot_failed=n_failed,
    )

"""Deterministic multithreaded demeaning: conjugate gradient on symmetric alternating projections.

The residual of ``x`` on fixed effects ``D`` is the fixed point of any sweep of alternating
projections; reghdfe's default solver (Correia 2017) finds it by conjugate gradient on the
symmetric sweep ``T = M_1 M_2 ... M_Q ... M_2 M_1`` (``M_q`` subtracts the weighted means by
the levels of fixed effect ``q``): ``A = I - T`` is symmetric positive semi-definite in the
weighted inner product, ``x - M x`` lies in its range and CG on ``A y = 0`` from ``y = x``
converges to ``M x`` in far fewer sweeps than plain alternating projections, also when a few
firms move between cities (where plain projections need thousands of sweeps; CG about a
hundred iterations on the paper preset's Table 2 sample, under ten without movers). Each
column is first demeaned by ``M_1``; every CG vector then stays in that subspace, the
sweep's first projection is the identity, and one iteration costs six passes over the
rows (each subtraction fused with the next group sums, the new search direction with the
first sums).

Warm start: when the fixed effects other than the largest have few levels
(:func:`cbec.estimation.direct.pays`), :func:`prepare` puts the largest first and factors
their partialled cross product once per sample (:mod:`cbec.estimation.direct`); every column
is then solved directly (:func:`direct_step`, three passes) before CG, which usually stops at
its first check (the criterion below is unchanged).

Determinism: every column is solved by one thread from start to end, its sums in row order;
columns are spread over threads (``threads``, default ``CBEC_THREADS`` or 1), so the result is
bit-for-bit the same for any number of threads. The kernels are compiled by numba (cached on
disk after the first call) and release the GIL.

Convergence: stop when one more symmetric sweep would change no value by more than ``tol``
(``max |y - T y| <= tol``), the criterion of pyfixest's alternating projections, checked on
the recomputed (not the recursively updated) residual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from cbec.estimation.direct import Direct, factor, pays
from cbec.estimation.threads import default_threads, each

__all__ = ["Prepared", "default_threads", "demean_cg", "prepare", "solve_columns"]


@numba.njit(cache=True, nogil=True)
def _project(v, w, weighted, code, inv, buf):
    """``v <- M v`` for one fixed effect (weighted group means subtracted), in place."""
    buf[:] = 0.0
    for i in range(v.shape[0]):
        buf[code[i]] += w[i] * v[i] if weighted else v[i]
    for g in range(buf.shape[0]):
        buf[g] *= inv[g]
    for i in range(v.shape[0]):
        v[i] -= buf[code[i]]


@numba.njit(cache=True, nogil=True)
def _apply_a(u, v, w, weighted, codes, seq, inv, offs, buf, r, beta):
    """``v <- u - T u`` for ``u`` already demeaned by ``seq[-1]`` (the first projection of the
    symmetric sweep ``T`` is then the identity and ``seq`` omits it); one pass over the rows
    per projection (each subtraction fused with the next sums). With ``beta`` >= 0, first
    ``u <- r + beta u`` (CG's new direction, in the same pass). Returns ``max |v|`` and the
    weighted ``u'v``."""
    n = u.shape[0]
    q = seq[0]
    cur = buf[offs[q] : offs[q + 1]]
    cur[:] = 0.0
    cq = codes[:, q]
    for i in range(n):
        if beta >= 0.0:
            u[i] = r[i] + beta * u[i]
        cur[cq[i]] += w[i] * u[i] if weighted else u[i]
    last = seq.shape[0] - 1
    vmax = 0.0
    uv = 0.0
    for s in range(seq.shape[0]):
        lo = offs[q]
        for g in range(cur.shape[0]):
            cur[g] *= inv[lo + g]
        cq = codes[:, q]
        src = u if s == 0 else v
        if s == last:
            for i in range(n):
                t = u[i] - (src[i] - cur[cq[i]])
                v[i] = t
                vmax = max(vmax, abs(t))
                uv += w[i] * u[i] * t if weighted else u[i] * t
            return vmax, uv
        qn = seq[s + 1]
        nxt = buf[offs[qn] : offs[qn + 1]]
        nxt[:] = 0.0
        cn = codes[:, qn]
        for i in range(n):
            t = src[i] - cur[cq[i]]
            v[i] = t
            nxt[cn[i]] += w[i] * t if weighted else t
        q, cur = qn, nxt
    return vmax, uv


@numba.njit(cache=True, nogil=True)
def direct_step(y, w, weighted, codes, inv0, others, loffs, chol, basis):
    """``y <- y - M_1 D_o b`` with ``b`` solving the factored system for ``D_o'W y`` (``y``
    already demeaned by the first effect, whose ``1 / level weight`` is ``inv0``)."""
    n = y.shape[0]
    no = others.shape[0]
    b = np.zeros(loffs[-1])
    for i in range(n):
        wy = w[i] * y[i] if weighted else y[i]
        for k in range(no):
            b[loffs[k] + codes[i, others[k]]] += wy
    r = basis.shape[0]
    z = np.empty(r)
    for i in range(r):  # L z = b[basis]
        s = b[basis[i]]
        for j in range(i):
            s -= chol[i, j] * z[j]
        z[i] = s / chol[i, i]
    for i in range(r - 1, -1, -1):  # L' z = z (column i of L' is row i of L)
        z[i] /= chol[i, i]
        zi = z[i]
        for j in range(i):
            z[j] -= chol[i, j] * zi
    beta = np.zeros(loffs[-1])
    for i in range(r):
        beta[basis[i]] = z[i]
    code0 = codes[:, 0]
    buf = np.zeros(inv0.shape[0])
    for i in range(n):
        t = 0.0
        for k in range(no):
            t += beta[loffs[k] + codes[i, others[k]]]
        buf[code0[i]] += w[i] * t if weighted else t
    for g in range(buf.shape[0]):
        buf[g] *= inv0[g]
    for i in range(n):
        t = 0.0
        for k in range(no):
            t += beta[loffs[k] + codes[i, others[k]]]
        y[i] -= t - buf[code0[i]]


@numba.njit(cache=True, nogil=True)
def _unit_scale(y):
    """Divide ``y`` in place by the power of 2 nearest its largest deviation from its mean (1
    for a constant or non-finite column) and return that power. Dividing by it is exact in
    floating point, so CG on ``y / scale`` is CG on ``y`` scaled, with an absolute stopping
    criterion that is now relative to the column's own scale: a variable in yuan or in 10k
    yuan is demeaned to the same relative precision (with the raw values, 1e-10 on values of
    1e6 never converged and 1e-10 on values of 1e-6 left a relative error near 1e-4)."""
    n = y.shape[0]
    if n == 0:
        return 1.0
    tot, lo, hi = 0.0, y[0], y[0]
    for i in range(n):
        tot += y[i]
        lo = min(lo, y[i])
        hi = max(hi, y[i])
    mean = tot / n
    dev = max(hi - mean, mean - lo)
    if not (np.isfinite(dev) and dev > 0.0):
        return 1.0
    scale = np.exp2(np.round(np.log2(dev)))
    for i in range(n):
        y[i] /= scale
    return scale


@numba.njit(cache=True, nogil=True)
def _cg_column(y, w, weighted, codes, seq, inv, offs, tol, maxiter, others, loffs, chol, basis):
    """Solve one column in place (``y`` becomes its residual); returns the iterations used,
    or -1 if it did not converge in ``maxiter``.

    ``y`` is first demeaned by the last effect of ``seq`` (the first and last projection of
    the symmetric sweep); every CG vector then stays in that subspace. With a factored system
    (``basis`` not empty; :mod:`cbec.estimation.direct`) the other effects are then eliminated
    directly, and CG starts from there (usually done at its first check)."""
    n = y.shape[0]
    buf = np.empty(inv.shape[0])
    q0 = seq[seq.shape[0] - 1]
    inv0 = inv[offs[q0] : offs[q0 + 1]]
    _project(y, w, weighted, codes[:, q0], inv0, buf[: offs[q0 + 1] - offs[q0]])
    if seq.shape[0] == 1:
        return 0
    if basis.shape[0] > 0:
        direct_step(y, w, weighted, codes, inv0, others, loffs, chol, basis)
    r = np.empty(n)
    v = np.empty(n)
    r0, ssr = _apply_a(y, r, w, weighted, codes, seq, inv, offs, buf, r, -1.0)
    if r0 <= tol:
        return 0
    ssr = 0.0
    for i in range(n):
        ssr += w[i] * r[i] * r[i] if weighted else r[i] * r[i]
    u = r.copy()
    beta = -1.0  # u is already the first direction
    for it in range(1, maxiter + 1):
        _, uv = _apply_a(u, v, w, weighted, codes, seq, inv, offs, buf, r, beta)
        alpha = ssr / uv if uv > 0.0 and ssr > 0.0 else 0.0
        rmax = 0.0
        ssr_new = 0.0
        for i in range(n):
            y[i] -= alpha * u[i]
            t = r[i] - alpha * v[i]
            r[i] = t
            rmax = max(rmax, abs(t))
            ssr_new += w[i] * t * t if weighted else t * t
        if rmax <= tol or alpha == 0.0:
            # confirm on the true residual (the recursive one drifts in floating point)
            if _apply_a(y, r, w, weighted, codes, seq, inv, offs, buf, r, -1.0)[0] <= tol:
                return it
            if alpha == 0.0:
                return -1
            ssr = 0.0
            for i in range(n):
                ssr += w[i] * r[i] * r[i] if weighted else r[i] * r[i]
                u[i] = r[i]
            beta = -1.0
            continue
        beta = ssr_new / ssr  # u <- r + beta u in the next _apply_a's first pass
        ssr = ssr_new
    return -1


@dataclass
class Prepared:
    """What every column of one sample's demeaning shares: codes (Fortran order), weights,
    the sweep order, 1 / (weight of each level) and the offsets of each effect's levels."""

    codes: np.ndarray
    w: np.ndarray
    weighted: bool
    seq: np.ndarray
    inv: np.ndarray
    offs: np.ndarray
    direct: Direct | None = None
    perm: tuple[int, ...] = ()  # the fixed effects' order in ``codes`` (indices of the input's)

    def direct_args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The factored system as the kernels take it (empty arrays: none)."""
        d = self.direct
        if d is None:
            z = np.zeros(0, dtype=np.int64)
            return z, np.zeros(1, dtype=np.int64), np.zeros((0, 0)), z
        return d.others, d.loffs, d.chol, d.basis


def prepare(codes: np.ndarray, weights: np.ndarray | None, direct: bool = True) -> Prepared:
    """Set up the demeaning of one sample (shared by every column and call); with ``direct``,
    also factor the system of the fixed effects after the first when it pays
    (:func:`cbec.estimation.direct.factor`, the warm start of every column)."""
    c = np.asfortranarray(codes if codes.dtype == np.uint32 else codes.astype(np.int64))
    n, q = c.shape
    weighted = weights is not None
    w = np.ones(n) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    # the symmetric sweep M_0 M_1 ... M_Q-1 ... M_1 M_0 without its first M_0 (see _apply_a)
    seq = np.array([*range(1, q), *range(q - 2, -1, -1)] if q > 1 else [0], dtype=np.int64)
    sizes = [int(c[:, j].max()) + 1 if n else 0 for j in range(q)]
    use_direct = direct and pays(sizes, n)
    perm = list(range(q))
    if use_direct and int(np.argmax(sizes)) != 0:
        # the effect with the most levels goes first: projected exactly, the others factored
        perm = [int(np.argmax(sizes)), *(j for j in range(q) if j != int(np.argmax(sizes)))]
        c, sizes = np.asfortranarray(c[:, perm]), [sizes[j] for j in perm]
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    inv = np.zeros(int(offs[-1]))
    for j in range(q):
        tot = np.bincount(c[:, j], weights=w, minlength=sizes[j]).astype(np.float64)
        inv[offs[j] : offs[j + 1]] = np.divide(1.0, tot, out=np.zeros_like(tot), where=tot > 0)
    d = factor(c, w, weighted, offs) if use_direct else None
    return Prepared(c, w, weighted, seq, inv, offs, d, tuple(perm))


def demean_cg(
    x: np.ndarray,
    codes: np.ndarray,
    weights: np.ndarray | None = None,
    tol: float = 1e-8,
    maxiter: int = 10_000,
    threads: int | None = None,
    prepared: Prepared | None = None,
    scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Residuals of the columns of ``x`` (``(n, k)``) on the fixed effects ``codes``
    (``(n, Q)`` dense integer codes) and the CG iterations each column took (-1: not
    converged in ``maxiter``).

    ``prepared`` (from :func:`prepare`) reuses one sample's set-up across calls. ``tol``
    bounds the change one more symmetric sweep would make (absolute, every value). With
    ``scale`` (one value per column), the columns are divided by it first (the residuals
    returned are of ``x / scale``). Columns are solved in parallel on ``threads`` threads;
    results do not depend on it."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("x must be 2-dimensional")
    out = np.array(x, order="F")  # one copy, solved in place
    if scale is not None:
        out /= scale
    out, sweeps, _ = solve_columns(out, codes, weights, tol, maxiter, threads, prepared, unit=False)
    return out, sweeps


def solve_columns(
    out: np.ndarray,
    codes: np.ndarray,
    weights: np.ndarray | None,
    tol: float,
    maxiter: int,
    threads: int | None,
    prepared: Prepared | None,
    unit: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Demean the columns of the Fortran-ordered float64 ``out`` in place; returns it, the
    iterations per column and the scale per column. With ``unit``, each column is divided by
    its unit scale (:func:`_unit_scale`) before the solve and multiplied by it after, in the
    column's own thread (the tolerance is then relative to the column's scale)."""
    p = prepared if prepared is not None else prepare(codes, weights)
    k = out.shape[1]
    sweeps = np.zeros(k, dtype=np.int64)
    scales = np.ones(k)
    nt = max(threads or default_threads(), 1)
    dargs = p.direct_args()

    def one(j: int) -> None:
        col = out[:, j]
        if unit:
            scales[j] = _unit_scale(col)
        sweeps[j] = _cg_column(
            col, p.w, p.weighted, p.codes, p.seq, p.inv, p.offs, tol, maxiter, *dargs
        )
        if unit and scales[j] != 1.0:
            col *= scales[j]

    each(one, list(range(k)), nt)
    return out, sweeps, scales

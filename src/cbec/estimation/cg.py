"""Deterministic multithreaded demeaning: conjugate gradient on symmetric alternating projections.

The residual of ``x`` on fixed effects ``D`` is the fixed point of any sweep of alternating
projections; reghdfe's default solver (Correia 2017) finds it by conjugate gradient on the
symmetric sweep ``T = M_1 M_2 ... M_Q ... M_2 M_1`` (``M_q`` subtracts the weighted means by
the levels of fixed effect ``q``): ``A = I - T`` is symmetric positive semi-definite in the
weighted inner product, ``x - M x`` lies in its range and CG on ``A y = 0`` from ``y = x``
converges to ``M x`` in far fewer sweeps than plain alternating projections, also when a few
firms move between cities (where plain projections need thousands of sweeps).

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

from cbec.estimation.schur import SchurSolver
from cbec.estimation.threads import default_threads, each

__all__ = ["Prepared", "default_threads", "demean_cg", "prepare"]


@numba.njit(cache=True, nogil=True)
def _group_sums(v, w, weighted, code, out):
    out[:] = 0.0
    for i in range(v.shape[0]):
        out[code[i]] += w[i] * v[i] if weighted else v[i]


@numba.njit(cache=True, nogil=True)
def _sweep(v, w, weighted, codes, seq, inv, offs, buf):
    """``v <- M_seq[-1] ... M_seq[0] v`` in place; one pass over the rows per projection (the
    subtraction of one fixed effect's means is fused with the sums of the next)."""
    n = v.shape[0]
    q = seq[0]
    cur = buf[offs[q] : offs[q + 1]]
    _group_sums(v, w, weighted, codes[:, q], cur)
    for s in range(1, seq.shape[0] + 1):
        lo = offs[q]
        for g in range(cur.shape[0]):
            cur[g] *= inv[lo + g]
        cq = codes[:, q]
        if s == seq.shape[0]:
            for i in range(n):
                v[i] -= cur[cq[i]]
            return
        qn = seq[s]
        nxt = buf[offs[qn] : offs[qn + 1]]
        nxt[:] = 0.0
        cn = codes[:, qn]
        for i in range(n):
            v[i] -= cur[cq[i]]
            nxt[cn[i]] += w[i] * v[i] if weighted else v[i]
        q, cur = qn, nxt


@numba.njit(cache=True, nogil=True)
def _wdot(a, b, w, weighted):
    s = 0.0
    for i in range(a.shape[0]):
        s += w[i] * a[i] * b[i] if weighted else a[i] * b[i]
    return s


@numba.njit(cache=True, nogil=True)
def _apply_a(u, out, w, weighted, codes, seq, inv, offs, buf):
    """``out <- u - T u``; returns ``max |out|``."""
    out[:] = u
    _sweep(out, w, weighted, codes, seq, inv, offs, buf)
    m = 0.0
    for i in range(u.shape[0]):
        out[i] = u[i] - out[i]
        m = max(m, abs(out[i]))
    return m


@numba.njit(cache=True, nogil=True)
def _cg_column(y, w, weighted, codes, seq, inv, offs, tol, maxiter, give_up):
    """Solve one column in place (``y`` becomes its residual); returns the iterations used,
    or -1 if it did not converge in ``maxiter`` (with ``give_up``: -1 as soon as the rate
    of the first ten iterations projects more than ``maxiter``; ``y`` is then partly
    demeaned, i.e. still the input plus a combination of fixed-effect dummies)."""
    n = y.shape[0]
    buf = np.empty(inv.shape[0])
    r = np.empty(n)
    v = np.empty(n)
    r0 = _apply_a(y, r, w, weighted, codes, seq, inv, offs, buf)
    if r0 <= tol:
        return 0
    u = r.copy()
    ssr = _wdot(r, r, w, weighted)
    for it in range(1, maxiter + 1):
        _apply_a(u, v, w, weighted, codes, seq, inv, offs, buf)
        uv = _wdot(u, v, w, weighted)
        if uv <= 0.0 or ssr <= 0.0:
            # exact solution within rounding: the recomputed residual decides below
            alpha = 0.0
        else:
            alpha = ssr / uv
        rmax = 0.0
        for i in range(n):
            y[i] -= alpha * u[i]
            r[i] -= alpha * v[i]
            rmax = max(rmax, abs(r[i]))
        if rmax <= tol or alpha == 0.0:
            # confirm on the true residual (the recursive one drifts in floating point)
            if _apply_a(y, r, w, weighted, codes, seq, inv, offs, buf) <= tol:
                return it
            if alpha == 0.0:
                return -1
            u[:] = r
            ssr = _wdot(r, r, w, weighted)
            continue
        if give_up and it == 10 and rmax > 0.0 and rmax < r0:
            # iterations to go at the rate so far, over the budget: stop now
            if it + np.log(tol / rmax) / (np.log(rmax / r0) / it) > maxiter:
                return -1
        ssr_new = _wdot(r, r, w, weighted)
        beta = ssr_new / ssr
        ssr = ssr_new
        for i in range(n):
            u[i] = r[i] + beta * u[i]
    return -1


@dataclass
class Prepared:
    """What every column of one sample's demeaning shares: codes (Fortran order), weights,
    the sweep order, 1 / (weight of each level), offsets, and the direct solver (built on
    first use by :meth:`direct`)."""

    codes: np.ndarray
    w: np.ndarray
    weighted: bool
    seq: np.ndarray
    inv: np.ndarray
    offs: np.ndarray
    _direct: SchurSolver | None = None
    _direct_built: bool = False

    def direct(self) -> SchurSolver | None:
        """The factored direct solver (``None`` when the small effects are too many)."""
        if not self._direct_built:
            self._direct = SchurSolver.build(self.codes, self.w, self.inv, self.offs)
            self._direct_built = True
        return self._direct


def prepare(codes: np.ndarray, weights: np.ndarray | None) -> Prepared:
    """Set up the demeaning of one sample (shared by every column and call)."""
    c = np.asfortranarray(codes if codes.dtype == np.uint32 else codes.astype(np.int64))
    n, q = c.shape
    weighted = weights is not None
    w = np.ones(n) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    seq = np.array([*range(q), *range(q - 2, -1, -1)], dtype=np.int64)
    sizes = [int(c[:, j].max()) + 1 if n else 0 for j in range(q)]
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    inv = np.zeros(int(offs[-1]))
    for j in range(q):
        tot = np.bincount(c[:, j], weights=w, minlength=sizes[j])
        inv[offs[j] : offs[j + 1]] = np.divide(1.0, tot, out=np.zeros_like(tot), where=tot > 0)
    return Prepared(c, w, weighted, seq, inv, offs)


def demean_cg(
    x: np.ndarray,
    codes: np.ndarray,
    weights: np.ndarray | None = None,
    tol: float = 1e-8,
    maxiter: int = 10_000,
    threads: int | None = None,
    prepared: Prepared | None = None,
    direct: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Residuals of the columns of ``x`` (``(n, k)``) on the fixed effects ``codes``
    (``(n, Q)`` dense integer codes) and the CG iterations each column took (0 for a column
    finished by the direct solver; -1: not converged).

    ``direct``: a column CG cannot finish in ``maxiter`` iterations (judged after ten) is
    handed to :class:`cbec.estimation.schur.SchurSolver` (when the small effects are few
    enough) and, if that fails its check, to CG again for ``maxiter`` iterations.
    ``prepared`` (from :func:`prepare`) reuses one sample's set-up across calls. ``tol``
    bounds the change one more symmetric sweep would make (absolute, every value). Columns
    are solved in parallel on ``threads`` threads; results do not depend on it."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("x must be 2-dimensional")
    p = prepared if prepared is not None else prepare(codes, weights)
    k = x.shape[1]
    out = np.asfortranarray(x.copy())
    sweeps = np.zeros(k, dtype=np.int64)
    nt = max(threads or default_threads(), 1)

    def cg(cols: np.ndarray, give_up: bool) -> None:
        def one(j: int) -> None:
            sweeps[j] = _cg_column(
                out[:, j], p.w, p.weighted, p.codes, p.seq, p.inv, p.offs, tol, maxiter, give_up
            )

        each(one, cols.tolist(), nt)

    cg(np.arange(k), direct)
    bad = np.flatnonzero(sweeps < 0)
    solver = p.direct() if direct and bad.size else None
    if solver is not None:
        sub = np.asfortranarray(out[:, bad])
        failed = solver.solve(sub, tol, nt)
        out[:, bad] = sub
        sweeps[bad] = 0
        sweeps[bad[failed]] = -1
        cg(bad[failed], False)
    return out, sweeps

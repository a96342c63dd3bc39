"""Direct demeaning: the largest fixed effect eliminated exactly, the others solved densely.

With fixed effects ``firm + ind2^year + city^year`` the firm effect has hundreds of
thousands of levels and the others a few thousand together (``m``). Projecting out the
firm means exactly leaves the normal equations of the small effects,
``S b = D2' W M1 y`` with the Schur complement ``S = D2' W D2 - D2' W D1 (D1' W D1)^-1
D1' W D2`` (``m x m``, built once per sample from per-firm counts and shared by every column
and model on it). ``S`` is factored once (Cholesky of its unit-diagonal scaling plus a
1e-10 ridge; iterative refinement removes the ridge's effect on the range of ``S``; its null
space, the collinear directions, is removed by the final firm projection) and each column
then costs five passes over the rows: firm means, ``D2' W M1 y``, the residual, its firm
means, and the check. Unlike alternating projections and CG, the work does not grow when
a few firms move between cities (the ill-conditioned case).

Determinism: ``S`` is summed in row and firm order on one thread; each column is solved by
one thread (columns spread over ``threads``); the dense algebra is LAPACK/BLAS on the same
matrices whatever ``threads`` is. The result is checked: every fixed-effect group mean of
the residual must be within ``tol / 2^(2Q-1)`` of zero (so that one more symmetric sweep of
alternating projections changes no value by more than ``tol``); columns that fail are
handed back to the caller (who polishes them with CG).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.linalg as sla

from cbec.estimation.threads import each as _each

__all__ = ["SchurSolver", "DIRECT_MAX_LEVELS"]

# the direct solver is used when the small fixed effects have at most this many levels
# together (the Cholesky factor of S costs m^3/3 flops: about 0.5 s at m = 4,000)
DIRECT_MAX_LEVELS = 6000
_RIDGE = 1e-10
_REFINE_ROUNDS = 8


@numba.njit(cache=True, nogil=True)
def _group_rows(big, n_big):
    """Rows ordered by ``big`` (a stable counting sort) and each level's first position."""
    starts = np.zeros(n_big + 1, dtype=np.int64)
    for i in range(big.shape[0]):
        starts[big[i] + 1] += 1
    for g in range(n_big):
        starts[g + 1] += starts[g]
    pos = starts[:-1].copy()
    order = np.empty(big.shape[0], dtype=np.int64)
    for i in range(big.shape[0]):
        order[pos[big[i]]] = i
        pos[big[i]] += 1
    return order, starts


@numba.njit(cache=True, nogil=True)
def _schur(order, starts, small, w, m):
    """``S = D2'WD2 - sum_f c_f c_f' / W_f`` with ``c_f`` the weight of firm f's rows in each
    small level (``small``: row x small effect, level indices offset into 0..m-1)."""
    S = np.zeros((m, m))
    acc = np.zeros(m)
    touched = np.empty(m, dtype=np.int64)
    qs = small.shape[1]
    for f in range(starts.shape[0] - 1):
        nt = 0
        wf = 0.0
        for p in range(starts[f], starts[f + 1]):
            i = order[p]
            wf += w[i]
            for a in range(qs):
                la = small[i, a]
                if acc[la] == 0.0:
                    touched[nt] = la
                    nt += 1
                acc[la] += w[i]
                for b in range(qs):
                    S[la, small[i, b]] += w[i]
        for x in range(nt):
            ca = acc[touched[x]] / wf
            for y in range(nt):
                S[touched[x], touched[y]] -= ca * acc[touched[y]]
        for x in range(nt):
            acc[touched[x]] = 0.0
    return S


@numba.njit(cache=True, nogil=True)
def _rhs(y, order, starts, small, w, m):
    """``D2' W M1 y`` and the firm means of ``y``."""
    rhs = np.zeros(m)
    means = np.empty(starts.shape[0] - 1)
    for f in range(starts.shape[0] - 1):
        s = 0.0
        wf = 0.0
        for p in range(starts[f], starts[f + 1]):
            i = order[p]
            s += w[i] * y[i]
            wf += w[i]
        mu = s / wf
        means[f] = mu
        for p in range(starts[f], starts[f + 1]):
            i = order[p]
            r = w[i] * (y[i] - mu)
            for a in range(small.shape[1]):
                rhs[small[i, a]] += r
    return rhs, means


@numba.njit(cache=True, nogil=True)
def _residual(y, beta, order, starts, small, w):
    """``M1 (y - D2 beta)`` in place of ``y``."""
    for f in range(starts.shape[0] - 1):
        s = 0.0
        wf = 0.0
        for p in range(starts[f], starts[f + 1]):
            i = order[p]
            v = y[i]
            for a in range(small.shape[1]):
                v -= beta[small[i, a]]
            y[i] = v
            s += w[i] * v
            wf += w[i]
        mu = s / wf
        for p in range(starts[f], starts[f + 1]):
            y[order[p]] -= mu


@numba.njit(cache=True, nogil=True)
def _max_group_mean(e, codes, w, inv, offs):
    """Largest absolute weighted group mean of ``e`` over every level of every effect."""
    worst = 0.0
    for q in range(codes.shape[1]):
        sums = np.zeros(offs[q + 1] - offs[q])
        for i in range(e.shape[0]):
            sums[codes[i, q]] += w[i] * e[i]
        for g in range(sums.shape[0]):
            worst = max(worst, abs(sums[g] * inv[offs[q] + g]))
    return worst


@dataclass
class SchurSolver:
    """The factored Schur complement of one sample's fixed effects (see the module doc)."""

    codes: np.ndarray
    w: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    small: np.ndarray
    scale: np.ndarray
    S: np.ndarray
    chol: tuple[np.ndarray, bool]
    inv: np.ndarray
    offs: np.ndarray

    @classmethod
    def build(cls, codes: np.ndarray, w: np.ndarray, inv: np.ndarray, offs: np.ndarray):
        """Factor the sample's Schur complement; ``None`` if the small effects are too many."""
        sizes = np.diff(offs)
        big = int(np.argmax(sizes))
        rest = [q for q in range(codes.shape[1]) if q != big]
        m = int(sizes[rest].sum()) if rest else 0
        if m > DIRECT_MAX_LEVELS:
            return None
        cum = np.concatenate([[0], np.cumsum(sizes[rest])]).astype(np.int64)
        small = np.empty((codes.shape[0], len(rest)), dtype=np.int64)
        for j, q in enumerate(rest):
            small[:, j] = codes[:, q].astype(np.int64) + cum[j]
        order, starts = _group_rows(codes[:, big].astype(np.int64), int(sizes[big]))
        S = _schur(order, starts, small, w, m)
        d = np.sqrt(np.maximum(np.diag(S).copy(), 0.0))
        scale = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 1.0)
        St = S * scale[:, None] * scale[None, :]
        St[np.diag_indices_from(St)] += _RIDGE
        chol = sla.cho_factor(St, lower=True, check_finite=False, overwrite_a=True)
        return cls(codes, w, order, starts, small, scale, S, chol, inv, offs)

    def _solve(self, rhs: np.ndarray) -> np.ndarray:
        """``S beta = rhs`` (``m x k``) on the range of ``S``: iterative refinement of the ridge
        solve (the ridge's error shrinks by ``1e-10 / eigenvalue`` per round) until the
        residual stops shrinking (rounding level, about 1e-15 relative)."""
        b = rhs * self.scale[:, None]
        beta = sla.cho_solve(self.chol, b, check_finite=False)
        nb = max(float(np.abs(b).max()), 1e-300)
        last = np.inf
        for _ in range(_REFINE_ROUNDS):
            r = b - self.scale[:, None] * (self.S @ (self.scale[:, None] * beta))
            rel = float(np.abs(r).max()) / nb
            if rel <= 1e-14 or rel > 0.5 * last:
                break
            last = rel
            beta += sla.cho_solve(self.chol, r, check_finite=False)
        return beta * self.scale[:, None]

    def solve(self, out: np.ndarray, tol: float, threads: int) -> np.ndarray:
        """Demean the columns of ``out`` in place; return the indices of columns that fail the
        check. Row passes run one column per thread; the dense solve is one call for all."""
        k, m = out.shape[1], self.S.shape[0]
        rhs = np.zeros((m, k))
        ok = np.zeros(k, dtype=bool)

        def first(j: int) -> None:
            rhs[:, j] = _rhs(out[:, j], self.order, self.starts, self.small, self.w, m)[0]

        beta = np.zeros((0, k))

        def second(j: int) -> None:
            b = np.ascontiguousarray(beta[:, j])
            _residual(out[:, j], b, self.order, self.starts, self.small, self.w)
            worst = _max_group_mean(out[:, j], self.codes, self.w, self.inv, self.offs)
            ok[j] = worst <= tol / 2.0 ** (2 * self.codes.shape[1] - 1)

        if m:
            _each(first, list(range(k)), threads)
            beta = self._solve(rhs)
        _each(second, list(range(k)), threads)
        return np.flatnonzero(~ok)

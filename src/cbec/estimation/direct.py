"""Exact elimination of the small fixed effects: the warm start of the CG demeaner.

With fixed effects ``D = [D_1, D_o]`` (the first, e.g. the firm, and the others, e.g.
industry x year and city x year), Frisch-Waugh-Lovell gives the residual of ``x`` as
``M_D x = M_1 x - Z b`` with ``Z = M_1 D_o`` and ``(Z'WZ) b = Z'W x``. When the others have
few levels (``L``, a few thousand), ``G = Z'WZ`` is a small dense matrix: it is built in one
pass over the rows grouped by the first effect (``G = sum_f [sum_i w_i d_i d_i' - s_f s_f' /
W_f]``, ``d_i`` the row's dummies, ``s_f`` the weighted sum of group ``f``'s dummies) and
factored once per sample by pivoted Cholesky (LAPACK ``dpstrf``: its leading pivots are a basis
of ``Z``'s columns; collinear cells, e.g. the year dummies both effects span, are left out).
A column then costs three passes over the rows (``D_o'W y``, two triangular solves on ``L``
unknowns, ``y - M_1 D_o b``; ``cg.direct_step``, in the same file as the CG kernel that
calls it so that numba's on-disk cache sees a change) instead of the six per CG iteration.

The step is a warm start, not a replacement: the column is then handed to CG, which checks
the usual criterion on the recomputed residual and iterates only if rounding in ``G`` (ill
conditioned when few firms move between cities) or a pivot dropped as collinear left more than
the tolerance. The result therefore satisfies exactly the criterion CG alone satisfies. Each
column runs wholly on one thread and ``G`` is built by one thread in row order, so results do
not depend on the number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy.linalg import lapack

from cbec.estimation.threads import default_threads, each

__all__ = ["DIRECT_FLOPS_PER_ROW", "MAX_DIRECT_LEVELS", "Direct", "factor", "pays"]

# Levels of the other fixed effects above which the dense factorization is skipped (CG
# alone): G takes 8 L^2 bytes (288 MB at 6,000) and its factorization L^3 / 3 flops (a few
# seconds at 6,000 on one core); industry x year plus prefecture-city x year over a dozen years
# is about 4,500.
MAX_DIRECT_LEVELS = 6_000
# ... and above which the factorization is skipped for a small sample: the L^3 / 3 flops of the
# factorization must stay below this many per row (where a CG pass costs a few flops per row;
# below it the factorization costs about as much as a few CG iterations of one column)
DIRECT_FLOPS_PER_ROW = 50_000


@dataclass
class Direct:
    """The factored system of one sample: the other effects' indices (``others``), the offsets
    of their levels in ``0..L-1`` (``loffs``), the lower Cholesky factor of ``G`` on a basis
    of its columns (``chol``, C order) and that basis (``basis``, level indices)."""

    others: np.ndarray
    loffs: np.ndarray
    chol: np.ndarray
    basis: np.ndarray


@numba.njit(cache=True, nogil=True)
def _group_rows(code, g):
    """Rows grouped by ``code`` (a counting sort, stable): group ``f`` is
    ``order[start[f]:start[f + 1]]``."""
    n = code.shape[0]
    start = np.zeros(g + 1, dtype=np.int64)
    for i in range(n):
        start[code[i] + 1] += 1
    for f in range(g):
        start[f + 1] += start[f]
    pos = start[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        c = code[i]
        order[pos[c]] = i
        pos[c] += 1
    return start, order


@numba.njit(cache=True, nogil=True)
def _gram(codes, w, weighted, others, loffs, start, order, groups):
    """The lower triangle of ``G = Z'WZ`` (dense ``L x L``) summed over the ``groups`` of the
    first effect in that order, each group's rows in row order. A group's weighted dummy sums
    ``s_f`` are collected first (at most ``L`` distinct levels however large the group), so a
    group costs its rows plus the square of its distinct levels."""
    nl = loffs[-1]
    no = others.shape[0]
    G = np.zeros((nl, nl))
    acc = np.zeros(nl)
    touched = np.empty(nl, dtype=np.int64)
    mark = np.full(nl, -1, dtype=np.int64)  # the last group that touched each level
    for f in groups:
        m = 0
        wf = 0.0
        for p in range(start[f], start[f + 1]):
            i = order[p]
            wi = w[i] if weighted else 1.0
            wf += wi
            for k1 in range(no):
                a = loffs[k1] + codes[i, others[k1]]
                if mark[a] != f:
                    mark[a] = f
                    touched[m] = a
                    m += 1
                acc[a] += wi
                for k2 in range(no):
                    b = loffs[k2] + codes[i, others[k2]]
                    if a >= b:
                        G[a, b] += wi
        if wf > 0.0:
            for s in range(m):
                a = touched[s]
                va = acc[a] / wf
                for t in range(m):
                    b = touched[t]
                    if a >= b:
                        G[a, b] -= va * acc[b]
        for s in range(m):
            acc[touched[s]] = 0.0
    return G


def pays(sizes: list[int], n: int) -> bool:
    """Whether to factor: at least two effects, and the levels of all but the largest (``L``)
    at most ``MAX_DIRECT_LEVELS`` with ``L^3 / 3 <= DIRECT_FLOPS_PER_ROW * n``."""
    if len(sizes) < 2 or n == 0:
        return False
    nl = sum(sizes) - max(sizes)
    return 0 < nl <= MAX_DIRECT_LEVELS and nl**3 / 3 <= DIRECT_FLOPS_PER_ROW * n


def factor(codes: np.ndarray, w: np.ndarray, weighted: bool, offs: np.ndarray) -> Direct | None:
    """The factored system of a sample (codes in Fortran order, the effect projected exactly
    first; ``offs`` the offsets of each effect's levels), or ``None`` if ``G`` is zero."""
    sizes = np.diff(offs)
    q = sizes.shape[0]
    others = np.arange(1, q, dtype=np.int64)
    loffs = np.concatenate([[0], np.cumsum(sizes[1:])]).astype(np.int64)
    start, order = _group_rows(codes[:, 0], int(sizes[0]))
    # groups with the same other levels in their first row next to each other: they update
    # the same entries of G (cache locality); the order is fixed by the data alone
    first = order[np.minimum(start[:-1], max(codes.shape[0] - 1, 0))]
    groups = np.lexsort([codes[first, j] for j in others[::-1]]).astype(np.int64)
    # two fixed halves of the groups, summed in this order: the same result on any threads
    halves = np.array_split(groups, 2)
    parts: list[np.ndarray] = [np.empty(0), np.empty(0)]

    def half(h: int) -> None:
        parts[h] = _gram(codes, w, weighted, others, loffs, start, order, halves[h])

    each(half, [0, 1], default_threads())
    G = parts[0]
    G += parts[1]
    parts.clear()
    c, piv, rank, info = lapack.dpstrf(G, lower=1, overwrite_a=1)
    if info < 0 or rank == 0:
        return None
    chol = np.ascontiguousarray(np.tril(c[:rank, :rank]))
    return Direct(others, loffs, chol, (piv[:rank] - 1).astype(np.int64))

"""Restricted wild cluster bootstrap (WCR) for one coefficient of a fixed-effects OLS model.

Cameron, Gelbach & Miller (2008) / Roodman et al. (2019, ``boottest``): impose H0: beta_j = h0,
take the restricted residuals u~ (of the FE model), and for each draw b multiply the residuals of
cluster g by a weight w_gb (Rademacher +-1, or Webb's six-point distribution); re-estimate and
compute the CRV1 t statistic t*_b = (beta*_jb - h0) / se*_jb. The symmetric p-value is
mean(|t*_b| >= |t|). Confidence intervals invert the test (bisection on h0 for p(h0) = alpha),
with the same weights for every h0, as boottest does; after one pass over the draws, each
h0 costs O(B) (see :class:`_WCR`).

Fixed effects that are not nested in the cluster (ind2^year, city^year) make the bootstrap
residuals leave the demeaned space, so every draw needs M_D(u~ * w_b). Because u~(h0) =
u~(0) - h0 * M_{X_-j} x_j is affine in h0, two bases (u~(0) and M_{X_-j} x_j) suffice, and
M_D of a base times cluster weights is a fixed linear map of the weights
(:class:`_NonNestedProjection`, by Frisch-Waugh-Lovell on the nested and non-nested fixed
effects): no draw is demeaned. The draws reduce to five B-vectors (the draw's coefficient and
squared score norm are affine and quadratic in h0); every h0 is then O(B).
The test checks t*_b and the p-value against a brute-force loop that re-estimates each
bootstrap sample with ``pyfixest.feols``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy.linalg import lapack

from .fe import FESample, demean, feols

__all__ = ["WildResult", "draw_weights", "wild_cluster_bootstrap"]

_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def draw_weights(n_clusters: int, B: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """``(n_clusters, B)`` bootstrap weights: ``"rademacher"`` or ``"webb"``."""
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(n_clusters, B))
    if kind == "webb":
        return rng.choice(_WEBB, size=(n_clusters, B))
    raise ValueError(f"unknown weights {kind!r}")


@dataclass
class WildResult:
    param: str
    h0: float
    tstat: float
    pvalue: float
    t_boot: np.ndarray
    conf_int: tuple[float, float] | None
    B: int
    weights: str
    method: str = "exact (projection)"


MAX_CELLS = 20_000  # non-nested fixed-effect levels above which draws are demeaned instead


def _reprojection(
    sample: FESample,
    cluster: str,
    S: sp.csr_matrix,
    h: np.ndarray,
    bases: tuple[np.ndarray, ...],
    cl: np.ndarray,
) -> _NonNestedProjection | _DemeanedDraws | None:
    """What re-demeaning the bootstrap residuals subtracts from their score sums: nothing
    when every fixed effect is nested in the clusters, else a projection."""
    nested = sample.nested_in(cluster)
    if nested.all():
        return None
    inner = int(np.argmax(np.where(nested, sample.fe_sizes, -1))) if nested.any() else -1
    cells = int(sum(sample.fe_sizes[i] for i in range(len(sample.fe)) if i != inner))
    if cells > MAX_CELLS:
        return _DemeanedDraws(sample, S, h, bases, cl)
    return _NonNestedProjection(sample, inner, S, h, bases)


class _NonNestedProjection:
    """Exact re-demeaning of bootstrap residuals without demeaning any draw.

    Let D = [D_n, D_o]: the fixed effect with the most levels that is nested in the clusters
    (the firm effect under firm clustering) and the others. By Frisch-Waugh-Lovell,
    ``M_D = M_n - P_Z`` with ``Z = M_n D_o``. A restricted residual ``u`` is orthogonal to
    every fixed effect and a draw's weights are constant within each cluster, hence within
    each nested group, so ``M_n (u * w) = u * w`` and the re-demeaned bootstrap residuals are
    ``M_D (u * w) = u * w - P_Z (u * w)``. ``Z`` is sparse (a row has one entry per cell its
    nested group visits) with as many columns as non-nested cells (industry x year plus
    city x year: a few thousand), so ``P_Z`` comes from a Cholesky factor of ``Z'Z`` on a basis
    of its columns (pivoted Cholesky drops the collinear cells), and the score sums
    ``S diag(h) P_Z diag(u) S' w`` of a block of draws cost sparse products and two
    triangular solves: ``E = S diag(h) Z`` (G x p) and ``C = Z' diag(u) S'`` (p x G) once.
    """

    name = "exact (projection)"

    def __init__(
        self,
        sample: FESample,
        inner: int,
        S: sp.csr_matrix,
        h: np.ndarray,
        bases: tuple[np.ndarray, ...],
    ) -> None:
        Z = _partialled_cells(sample, inner)
        shared = _shared_factor(sample, inner)
        if shared is None:
            L, piv, rank, info = lapack.dpstrf((Z.T @ Z).toarray(), lower=1)
            if info < 0:
                raise ValueError("pivoted Cholesky of the fixed-effect cross product failed")
            # the first `rank` pivots are a basis of Z's columns; L's leading block factors them
            shared = piv[:rank] - 1, np.ascontiguousarray(L[:rank, :rank])
        Z = Z[:, shared[0]]
        self.chol = (shared[1], True)
        self.E = (S @ sp.diags(h) @ Z).tocsr()
        self.C = [(Z.T @ sp.diags(b) @ S.T).tocsr() for b in bases]

    def scores(self, i: int, W: np.ndarray) -> np.ndarray:
        """``S diag(h) P_Z (bases[i] * w_b)`` for the draws ``W`` (clusters x draws)."""
        return self.E @ linalg.cho_solve(self.chol, self.C[i] @ W)


def _shared_factor(sample: FESample, inner: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The basis and Cholesky factor of ``Z'Z`` the sample's demeaner already computed
    (:mod:`cbec.estimation.direct`) when it partialled out the same effect ``inner`` and
    orders the others as :func:`_partialled_cells` does; else ``None``."""
    p = sample.prepared() if sample.weights is None else None
    if p is None or p.direct is None or p.perm[0] != inner:
        return None
    if list(p.perm[1:]) != [j for j in range(len(sample.fe)) if j != inner]:
        return None
    return p.direct.basis, p.direct.chol


def _partialled_cells(sample: FESample, inner: int) -> sp.csc_matrix:
    """``Z = M_n D_o``: dummies of every fixed effect but ``inner``, demeaned within ``inner``."""
    n = sample.nobs
    others = [j for j in range(len(sample.fe)) if j != inner]
    offsets = np.concatenate([[0], np.cumsum(sample.fe_sizes[others])]).astype(np.int64)
    rows = np.tile(np.arange(n), len(others))
    cols = np.concatenate(
        [sample.codes[:, j].astype(np.int64) + offsets[i] for i, j in enumerate(others)]
    )
    Do = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, int(offsets[-1])))
    if inner < 0:
        return Do.tocsc()
    g = sample.codes[:, inner].astype(np.int64)
    Sn = sp.csr_matrix((np.ones(n), (g, np.arange(n))), shape=(int(sample.fe_sizes[inner]), n))
    means = sp.diags(1.0 / np.asarray(Sn.sum(axis=1)).ravel()) @ (Sn @ Do)
    return (Do - Sn.T @ means).tocsc()


class _DemeanedDraws:
    """Exact re-demeaning by demeaning every draw (for many non-nested levels; slow)."""

    name = "exact (demeaned draws)"

    def __init__(
        self,
        sample: FESample,
        S: sp.csr_matrix,
        h: np.ndarray,
        bases: tuple[np.ndarray, ...],
        cl: np.ndarray,
    ) -> None:
        self.sample, self.S, self.h, self.bases, self.cl = sample, S, h, bases, cl
        self.codes = np.ascontiguousarray(sample.codes, dtype=np.uint64)

    def scores(self, i: int, W: np.ndarray) -> np.ndarray:
        s = self.sample
        V = self.bases[i][:, None] * W[self.cl]
        prep = s.prepared() if s.weights is None else None  # the sample's factored solver
        P = V - demean(V, self.codes, None, s.tol, s.maxiter, s.method, prepared=prep)
        return self.S @ (self.h[:, None] * P)


class _WCR:
    """Precomputed pieces so that p(h0) costs O(B) for any h0.

    Everything in a bootstrap draw is affine in h0: the draw's coefficient is
    ``b0 + h0 * b1`` and its cluster score sums ``Q0 + h0 * Q1`` (G x B). So the squared
    score norms reduce, once, to three B-vectors (``Q0'Q0``, ``Q0'Q1``, ``Q1'Q1``), as in
    boottest; the G x B matrices are built in chunks of draws and never kept.

    ``redemean=True`` (exact) projects the bootstrap residuals on the fixed effects again
    (through :class:`_NonNestedProjection`, or by demeaning every draw when the fixed effects
    not nested in the clusters have too many levels); ``False`` is the fast approximation
    that skips it (exact when every fixed effect is nested in the clusters)."""

    def __init__(
        self,
        sample: FESample,
        y: str,
        x: list[str],
        j: int,
        cluster: str,
        W: np.ndarray,
        chunk: int,
        redemean: bool = True,
    ) -> None:
        if sample.weights is not None:
            raise ValueError("the wild cluster bootstrap is implemented for unweighted OLS only")
        fit = feols(sample, y, x, vcov=f"CRV1:{cluster}")
        if fit.names != list(x):
            raise ValueError("collinear regressors; drop them before bootstrapping")
        D = sample.demeaned([y, *x])
        Yd, Xd = D[:, 0], D[:, 1:]
        n, k = Xd.shape
        self.fit, self.j, self.ssc = fit, j, fit.ssc
        bread = np.linalg.inv(Xd.T @ Xd)
        cl = sample.cluster_codes(cluster)
        G = int(cl.max()) + 1
        S = sp.csr_matrix((np.ones(n), (cl, np.arange(n))), shape=(G, n))
        others = [i for i in range(k) if i != j]
        Xo = Xd[:, others]
        Po = np.linalg.lstsq(Xo, np.column_stack([Yd, Xd[:, j]]), rcond=None)[0] if others else None
        u0 = Yd - Xo @ Po[:, 0] if others else Yd.copy()
        r = Xd[:, j] - Xo @ Po[:, 1] if others else Xd[:, j].copy()
        h = Xd @ bread[:, j]
        A0 = Yd - u0
        XA0, XA1 = Xd.T @ A0, Xd.T @ r
        sA0, sA1 = S @ (h * A0), S @ (h * r)
        SHX = np.asarray((S @ sp.csr_matrix(h[:, None] * Xd)).todense())
        # the draw's residuals are base * w_g (base = u0 and r); Xd is already demeaned, so
        # Xd' M_D (base * w) = Xd' (base * w) and only the score sums need the projection
        C0, C1 = np.asarray(S @ (Xd * u0[:, None])), np.asarray(S @ (Xd * r[:, None]))
        s0, s1 = np.asarray(S @ (h * u0)), np.asarray(S @ (h * r))
        proj = _reprojection(sample, cluster, S, h, (u0, r), cl) if redemean else None
        if not redemean:
            self.method = "fast"
        else:
            self.method = "exact (nested fixed effects)" if proj is None else proj.name
        Bn = W.shape[1]
        self.b0, self.b1 = np.empty(Bn), np.empty(Bn)
        self.q00, self.q01, self.q11 = np.empty(Bn), np.empty(Bn), np.empty(Bn)
        for s in range(0, Bn, chunk):
            Wc = W[:, s : s + chunk]
            XV0, XV1 = C0.T @ Wc, C1.T @ Wc
            SV0, SV1 = s0[:, None] * Wc, s1[:, None] * Wc
            if proj is not None:
                SV0 = SV0 - proj.scores(0, Wc)
                SV1 = SV1 - proj.scores(1, Wc)
            # beta*(h0) = bread @ (XA0 + XV0 + h0 * (XA1 - XV1)) = c0 + h0 * c1
            c0 = bread @ (XA0[:, None] + XV0)
            c1 = bread @ (XA1[:, None] - XV1)
            Q0 = sA0[:, None] + SV0 - SHX @ c0
            Q1 = sA1[:, None] - SV1 - SHX @ c1
            sl = slice(s, s + Wc.shape[1])
            self.b0[sl], self.b1[sl] = c0[j], c1[j]
            self.q00[sl] = np.einsum("gb,gb->b", Q0, Q0)
            self.q01[sl] = np.einsum("gb,gb->b", Q0, Q1)
            self.q11[sl] = np.einsum("gb,gb->b", Q1, Q1)

    def t_original(self, h0: float) -> float:
        return float((self.fit.params[self.j] - h0) / self.fit.se[self.j])

    def t_boot(self, h0: float) -> np.ndarray:
        ss = self.q00 + 2 * h0 * self.q01 + h0 * h0 * self.q11
        se = np.sqrt(self.ssc * np.maximum(ss, 0.0))
        return (self.b0 + h0 * self.b1 - h0) / se

    def pvalue(self, h0: float) -> float:
        return float(np.mean(np.abs(self.t_boot(h0)) >= abs(self.t_original(h0))))


def wild_cluster_bootstrap(
    sample: FESample,
    y: str,
    x: list[str],
    param: str,
    *,
    rng: np.random.Generator,
    h0: float = 0.0,
    cluster: str = "firm_id",
    B: int = 999,
    weights: str = "rademacher",
    alpha: float = 0.05,
    conf_int: bool = True,
    W: np.ndarray | None = None,
    chunk: int = 64,
    redemean: bool = True,
) -> WildResult:
    """WCR bootstrap p-value for H0: ``param`` = ``h0`` in ``feols(sample, y, x)``, clustered by
    ``cluster``; optional (1 - ``alpha``) confidence interval by test inversion. ``W``
    (clusters x B) overrides the drawn weights (used by the tests). ``redemean=False`` is
    the fast approximation: the bootstrap residuals are not projected on the fixed effects again
    (exact only when every fixed effect is nested in the clusters; on the paper preset's
    Table 2 column (2) its bootstrap t statistics are up to 0.04 away from the exact ones)."""
    j = list(x).index(param)
    G = int(sample.cluster_codes(cluster).max()) + 1
    if W is None:
        W = draw_weights(G, B, weights, rng)
    wcr = _WCR(sample, y, list(x), j, cluster, W, chunk, redemean=redemean)
    ci = None
    if conf_int:
        b, se = float(wcr.fit.params[j]), float(wcr.fit.se[j])
        ci = (_invert(wcr, b, -se, alpha), _invert(wcr, b, se, alpha))
    return WildResult(
        param=param,
        h0=h0,
        tstat=wcr.t_original(h0),
        pvalue=wcr.pvalue(h0),
        t_boot=wcr.t_boot(h0),
        conf_int=ci,
        B=W.shape[1],
        weights=weights,
        method=wcr.method,
    )


def _invert(wcr: _WCR, b: float, step: float, alpha: float) -> float:
    """Bisection for the h0 (on the side of ``step``) where p(h0) crosses ``alpha``."""
    inner, outer = b, b + 2 * step
    for _ in range(60):
        if wcr.pvalue(outer) < alpha:
            break
        inner, outer = outer, outer + 2 * step
    for _ in range(60):
        mid = (inner + outer) / 2
        if wcr.pvalue(mid) < alpha:
            outer = mid
        else:
            inner = mid
        if abs(outer - inner) < 1e-7 * abs(step):
            break
    return (inner + outer) / 2

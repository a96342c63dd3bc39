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
u~(0) - h0 * M_{X_-j} x_j is affine in h0, we demean the two n x B matrices u~(0) * w and
(M_{X_-j} x_j) * w once (in chunks of draws) and reduce them to five B-vectors (the draw's
coefficient and squared score norm are affine and quadratic in h0); every h0 is then O(B).
The test checks t*_b and the p-value against a brute-force loop that re-estimates each
bootstrap sample with ``pyfixest.feols``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .fe import FESample, feols

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


class _WCR:
    """Precomputed pieces so that p(h0) costs O(B) for any h0.

    Everything in a bootstrap draw is affine in h0: the draw's coefficient is
    ``b0 + h0 * b1`` and its cluster score sums ``Q0 + h0 * Q1`` (G x B). So the squared
    score norms reduce, once, to three B-vectors (``Q0'Q0``, ``Q0'Q1``, ``Q1'Q1``), as in
    boottest; the G x B matrices are built in chunks of draws and never kept."""

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
        Bn = W.shape[1]
        self.b0, self.b1 = np.empty(Bn), np.empty(Bn)
        self.q00, self.q01, self.q11 = np.empty(Bn), np.empty(Bn), np.empty(Bn)
        if not redemean:
            # V = base * w_g: every cross product is a cluster sum times the weights
            C0, C1 = np.asarray(S @ (Xd * u0[:, None])), np.asarray(S @ (Xd * r[:, None]))
            s0, s1 = np.asarray(S @ (h * u0)), np.asarray(S @ (h * r))
        else:
            from .fe import demean

            codes = np.ascontiguousarray(sample.codes, dtype=np.uint64)
        for s in range(0, Bn, chunk):
            Wc = W[:, s : s + chunk]
            if not redemean:
                XV0, XV1 = C0.T @ Wc, C1.T @ Wc
                SV0, SV1 = s0[:, None] * Wc, s1[:, None] * Wc
            else:
                w = Wc[cl]
                pieces = []
                for base in (u0, r):
                    V = base[:, None] * w
                    if sample.fe:
                        V = demean(V, codes, None, sample.tol, sample.maxiter, sample.method)
                    pieces += [Xd.T @ V, S @ (h[:, None] * V)]
                XV0, SV0, XV1, SV1 = pieces
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
    the fast variant (see :func:`wild_cluster_bootstrap_fwl`)."""
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


def wild_cluster_bootstrap_fwl(
    sample: FESample,
    y: str,
    x: list[str],
    param: str,
    *,
    rng: np.random.Generator,
    h0: float = 0.0,
    cluster: str = "firm_id",
    B: int = 999,
    weights: str = "webb",
    alpha: float = 0.05,
    conf_int: bool = True,
    W: np.ndarray | None = None,
) -> WildResult:
    """Fast WCR: as :func:`wild_cluster_bootstrap` without demeaning the bootstrap residuals.

    Each replicate costs cluster sums only (O(G·k)), no demeaning. It is exact when the fixed
    effects are nested in the clusters (the restricted residuals are already demeaned within
    each cluster, so ``M_D(u * w) = u * w``). With fixed effects not nested in the clusters
    (the paper's industry × year and city × year under firm clustering) the bootstrap
    residuals are not re-projected on those fixed effects: the standard fast approximation,
    good when each non-nested cell holds many clusters. Measured on the paper preset's Table 2
    column (2) (221,846 firm-years, 999 Webb draws, same weights): 95 % CI
    [0.08497, 0.09068] here against [0.08495, 0.09071] with re-demeaning; bootstrap t
    statistics correlated 0.999999 (largest difference 0.044); 4.6 s against 286 s.
    """
    return wild_cluster_bootstrap(
        sample,
        y,
        x,
        param,
        rng=rng,
        h0=h0,
        cluster=cluster,
        B=B,
        weights=weights,
        alpha=alpha,
        conf_int=conf_int,
        W=W,
        redemean=False,
    )

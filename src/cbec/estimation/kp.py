"""Kleibergen-Paap (2006) rk statistics, cluster-robust, as ivreg2/ranktest report them.

Inputs are the endogenous regressors ``Y`` (n x K) and the excluded instruments ``Z`` (n x L),
both already partialled out with respect to the included exogenous regressors and the fixed
effects (FWL), as ``ranktest (endog) (exexog), partial(inexog)`` does after ivreg2/ivreghdfe
absorb them. The test is of H0: rank(Pi) = K - 1 (ranktest's ``fullrank`` row, which ivreg2
reports as the under-identification test and, in Wald form, the weak-identification test).

Algorithm (KP 2006, section 3; ranktest's implementation):
  Pi = (Z'Z)^-1 Z'Y; Theta = F Pi G' with F = chol(Z'Z)' and G' = chol(Y'Y)'^-1;
  SVD Theta = U S V'; with q = K - 1, A_q = U[:, q:] U22^-1 (U22 U22')^1/2 and
  B_q = (V22 V22')^1/2 V22'^-1 V[:, q:]'; lambda = (B_q kron A_q') vec(Theta);
  Omega = (B_q kron A_q') W (B_q kron A_q')', W the cluster-robust covariance of vec(Theta):
  W = (G kron F'^-1)(sum_g s_g s_g')(G kron F'^-1)' with s_g = sum_{i in g} e_i kron z_i;
  rk = lambda' Omega^-1 lambda ~ chi2((L-q)(K-q)).
The LM version uses e = Y (the residuals under Pi = 0); the Wald version e = Y - Z Pi.

Wald F convention. ivreg2 reports the "Kleibergen-Paap rk Wald F" in the clustered case as
rk_wald / (N-1) * (N - k) * (G-1)/G / L, i.e. the Wald statistic with the CRV1 small-sample
factor (N-1)/(N-k) * G/(G-1) divided out, over L. We use exactly that with k = the first-stage
``k`` of pyfixest's default ssc (regressors + fixed-effect levels not nested in the cluster;
ivreg2's ``iv1_ct + sdofminus``). With one endogenous regressor this equals pyfixest's
clustered first-stage F (``Feiv._f_stat_1st_stage``) identically; the tests check it to 1e-6.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["kp_stats", "rk_stat"]


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _score_sums(e: np.ndarray, z: np.ndarray, clusters: np.ndarray | None) -> np.ndarray:
    """Rows s_g = sum_{i in g} e_i kron z_i (column index k*L + l); rows per obs if no clusters."""
    n, k = e.shape
    l_ = z.shape[1]
    if clusters is None:
        return (e[:, :, None] * z[:, None, :]).reshape(n, k * l_)
    g = int(clusters.max()) + 1
    out = np.empty((g, k * l_))
    for a in range(k):
        for b in range(l_):
            out[:, a * l_ + b] = np.bincount(clusters, weights=e[:, a] * z[:, b], minlength=g)
    return out


def rk_stat(
    Y: np.ndarray,
    Z: np.ndarray,
    clusters: np.ndarray | None = None,
    kind: str = "lm",
) -> tuple[float, int]:
    """Kleibergen-Paap rk statistic (``kind`` "lm" or "wald") for H0: rank(Pi) = K-1.

    ``clusters``: integer codes 0..G-1 (cluster-robust); ``None`` gives the
    heteroskedasticity-robust version. Returns (statistic, degrees of freedom).
    """
    Y = np.asarray(Y, dtype=np.float64)
    Z = np.asarray(Z, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Z.ndim == 1:
        Z = Z[:, None]
    K, L = Y.shape[1], Z.shape[1]
    if L < K:
        raise ValueError("need at least as many excluded instruments as endogenous regressors")
    zz = Z.T @ Z
    yy = Y.T @ Y
    pihat = np.linalg.solve(zz, Z.T @ Y)
    ry = np.linalg.cholesky(yy)
    rz = np.linalg.cholesky(zz)
    iry_t = np.linalg.inv(ry)  # = (ry')^-1 transposed
    irz_t = np.linalg.inv(rz)
    theta = rz.T @ pihat @ iry_t.T
    e = Y if kind.lower() == "lm" else Y - Z @ pihat
    S = _score_sums(e, Z, clusters)
    T = np.kron(iry_t, irz_t)
    # variance of vec(theta): T (I kron zz^-1 zz?) -- pihat = zz^-1 Z'Y, so Var(vec pihat) =
    # (I kron zz^-1) S'S (I kron zz^-1); mapping to theta gives T S'S T' with T as above.
    TS = S @ T.T
    W = TS.T @ TS
    U, _, Vh = np.linalg.svd(theta, full_matrices=True)
    V = Vh.T
    q = K - 1
    u22 = U[q:, q:]
    v22 = V[q:, q:]
    aq = U[:, q:] @ np.linalg.solve(u22, _sqrtm_psd(u22 @ u22.T))
    bq = _sqrtm_psd(v22 @ v22.T) @ np.linalg.inv(v22.T) @ V[:, q:].T
    M = np.kron(bq, aq.T)
    lam = M @ theta.ravel(order="F")
    om = M @ W @ M.T
    om = (om + om.T) / 2
    rk = float(lam @ np.linalg.solve(om, lam))
    return rk, (L - q) * (K - q)


def kp_stats(
    Y: np.ndarray,
    Z: np.ndarray,
    clusters: np.ndarray | None,
    df_k: int,
) -> dict[str, float]:
    """rk LM (under-identification) and rk Wald F (weak identification), ivreg2-style.

    ``df_k``: the first-stage small-sample ``k`` (see module docstring). Returns ``kp_lm``,
    ``kp_lm_df``, ``kp_lm_p``, ``kp_wald`` (chi2) and ``kp_wald_f``.
    """
    n = np.asarray(Y).shape[0]
    L = 1 if np.asarray(Z).ndim == 1 else np.asarray(Z).shape[1]
    lm, df = rk_stat(Y, Z, clusters, "lm")
    wald, _ = rk_stat(Y, Z, clusters, "wald")
    if clusters is not None:
        g = int(np.asarray(clusters).max()) + 1
        f = wald / (n - 1) * (n - df_k) * (g - 1) / g / L
    else:
        f = wald / n * (n - df_k) / L
    return {
        "kp_lm": lm,
        "kp_lm_df": df,
        "kp_lm_p": float(stats.chi2.sf(lm, df)),
        "kp_wald": wald,
        "kp_wald_f": float(f),
    }

"""Kleibergen-Paap rk statistics (cbec.estimation.kp).

(1) rk Wald F under ivreg2's clustered df convention equals pyfixest's clustered first-stage F
    (one endogenous regressor; one and two instruments) to 1e-6;
(2) rk LM and rk Wald equal a direct, slow implementation of KP (2006)'s formula written here
    (explicit FE dummies for partialling, per-observation Kronecker products e_i (x) z_i,
    scipy.linalg.sqrtm, the paper's A_q / B_q construction) to 1e-8, for K = 1 and K = 2;
(3) invariance: rk is unchanged by nonsingular transformations Y -> Y A, Z -> Z B.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import scipy.linalg as sla
from estimation._estimation_sim import FE, simulate
from pyfixest.demeaners import MapDemeaner

from cbec.estimation.fe import FESample
from cbec.estimation.iv import iv2sls
from cbec.estimation.kp import kp_stats, rk_stat

TIGHT = MapDemeaner(fixef_tol=1e-13, fixef_maxiter=200_000)


@pytest.fixture(scope="module")
def panel():
    return simulate(n_firms=150, n_years=6, seed=11, n_ind=3, n_city=4, mover_share=0.0)


def _dummies(df: pd.DataFrame) -> np.ndarray:
    parts = [
        pd.get_dummies(df["firm_id"].astype(str)),
        pd.get_dummies(df["ind2"].astype(str) + "_" + df["year"].astype(str)),
        pd.get_dummies(df["city"].astype(str) + "_" + df["year"].astype(str)),
    ]
    return np.column_stack([p.to_numpy(dtype=float) for p in parts])


def _partial(df: pd.DataFrame, cols: list[str], exog: list[str]) -> np.ndarray:
    W = np.column_stack([_dummies(df), df[exog].to_numpy(float)]) if exog else _dummies(df)
    A = df[cols].to_numpy(float)
    return A - W @ np.linalg.lstsq(W, A, rcond=None)[0]


def _kp_direct(Y: np.ndarray, Z: np.ndarray, cl: np.ndarray, kind: str) -> tuple[float, int]:
    """KP (2006) rk statistic for H0: rank(Pi) = K - 1, written out term by term."""
    n, K = Y.shape
    L = Z.shape[1]
    Pi = np.linalg.inv(Z.T @ Z) @ Z.T @ Y  # L x K
    F = sla.cholesky(Z.T @ Z, lower=False)  # F'F = Z'Z (upper triangular)
    Gt = np.linalg.inv(sla.cholesky(Y.T @ Y, lower=False))  # G' = R^-1 with R'R = Y'Y
    Theta = F @ Pi @ Gt
    E = Y if kind == "lm" else Y - Z @ Pi
    # cluster-robust covariance of vec(Pi): (I (x) (Z'Z)^-1) [sum_g s_g s_g'] (I (x) (Z'Z)^-1)
    S = np.zeros((K * L, K * L))
    for g in np.unique(cl):
        s = np.zeros(K * L)
        for i in np.flatnonzero(cl == g):
            s += np.kron(E[i], Z[i])
        S += np.outer(s, s)
    Jz = np.kron(np.eye(K), np.linalg.inv(Z.T @ Z))
    Vpi = Jz @ S @ Jz
    T = np.kron(Gt.T, F)  # vec(F Pi G') = (G (x) F) vec(Pi)
    Vth = T @ Vpi @ T.T
    U, sv, Vh = np.linalg.svd(Theta)
    V = Vh.T
    q = K - 1
    U12, U22 = U[:q, q:], U[q:, q:]
    V12, V22 = V[:q, q:], V[q:, q:]
    Aq = np.vstack([U12, U22]) @ np.linalg.inv(U22) @ np.real(sla.sqrtm(U22 @ U22.T))
    Bq = np.real(sla.sqrtm(V22 @ V22.T)) @ np.linalg.inv(V22.T) @ np.hstack([V12.T, V22.T])
    lam = np.kron(Bq, Aq.T) @ Theta.flatten(order="F")
    Om = np.kron(Bq, Aq.T) @ Vth @ np.kron(Bq, Aq.T).T
    return float(lam @ np.linalg.inv(Om) @ lam), (L - q) * (K - q)


@pytest.mark.parametrize("inst", [["z1"], ["z1", "z2"]])
def test_kp_wald_f_equals_pyfixest_first_stage_f(panel, inst):
    s = FESample.from_frame(panel, FE, ["y_iv", "d", "lnqygm", "z1", "z2"], tol=1e-13)
    r = iv2sls(s, "y_iv", "d", inst, ["lnqygm"], vcov="CRV1:firm_id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            f"y_iv ~ lnqygm | firm_id + ind2^year + city^year | d ~ {' + '.join(inst)}",
            data=panel.to_pandas(),
            vcov={"CRV1": "firm_id"},
            demeaner=TIGHT,
        )
        fit.first_stage()
    assert r.stats["kp_wald_f"] == pytest.approx(fit._f_stat_1st_stage, rel=1e-6)
    assert r.stats["first_stage_f"] == pytest.approx(fit._f_stat_1st_stage, rel=1e-6)


@pytest.mark.parametrize(
    "endog,inst", [(["d"], ["z1"]), (["d"], ["z1", "z2"]), (["d", "d2"], ["z1", "z2", "z3"])]
)
def test_rk_matches_direct_formula(panel, endog, inst):
    s = FESample.from_frame(panel, FE, [*endog, *inst, "lnqygm"], tol=1e-13)
    df = s.data.to_pandas()  # singletons removed, same rows
    Y = _partial(df, endog, ["lnqygm"])
    Z = _partial(df, inst, ["lnqygm"])
    cl = df["firm_id"].to_numpy()
    codes = s.cluster_codes("firm_id")
    for kind in ("lm", "wald"):
        ours, dfree = rk_stat(Y, Z, codes, kind)
        ref, dref = _kp_direct(Y, Z, cl, kind)
        assert dfree == dref == len(inst) - len(endog) + 1
        assert ours == pytest.approx(ref, rel=1e-8), kind
    st = kp_stats(Y, Z, codes, df_k=0)
    assert st["kp_lm"] == pytest.approx(_kp_direct(Y, Z, cl, "lm")[0], rel=1e-8)


def test_rk_invariant_to_linear_transformations(panel):
    rng = np.random.default_rng(0)
    s = FESample.from_frame(panel, FE, ["d", "d2", "z1", "z2", "z3"], tol=1e-13)
    Y = s.demeaned(["d", "d2"])
    Z = s.demeaned(["z1", "z2", "z3"])
    cl = s.cluster_codes("firm_id")
    A = rng.normal(size=(2, 2)) + 2 * np.eye(2)
    B = rng.normal(size=(3, 3)) + 2 * np.eye(3)
    for kind in ("lm", "wald"):
        a, _ = rk_stat(Y, Z, cl, kind)
        b, _ = rk_stat(Y @ A, Z @ B, cl, kind)
        assert a == pytest.approx(b, rel=1e-8)


def test_iv_kp_stats_via_fwl_equal_direct(panel):
    s = FESample.from_frame(panel, FE, ["y_iv", "d", "lnqygm", "z1", "z2"], tol=1e-13)
    r = iv2sls(s, "y_iv", "d", ["z1", "z2"], ["lnqygm"])
    df = s.data.to_pandas()
    Y = _partial(df, ["d"], ["lnqygm"])
    Z = _partial(df, ["z1", "z2"], ["lnqygm"])
    cl = df["firm_id"].to_numpy()
    assert r.stats["kp_lm"] == pytest.approx(_kp_direct(Y, Z, cl, "lm")[0], rel=1e-7)
    assert r.stats["kp_wald"] == pytest.approx(_kp_direct(Y, Z, cl, "wald")[0], rel=1e-7)
    assert r.stats["kp_lm_df"] == 2

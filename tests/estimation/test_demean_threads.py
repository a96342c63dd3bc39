"""The deterministic multithreaded demeaner (cbec.estimation.cg)."""

from __future__ import annotations

import warnings

import numpy as np
import pyfixest as pf
import pytest
from estimation._estimation_sim import FE, X_VARS, simulate
from pyfixest.demeaners import MapDemeaner

from cbec.estimation.cg import demean_cg, prepare
from cbec.estimation.fe import FESample, demean, feols

TIGHT = MapDemeaner(fixef_tol=1e-13, fixef_maxiter=200_000)


@pytest.fixture(scope="module")
def movers():
    """A panel where a fifth of the firms move between cities (projections converge slowly)."""
    return simulate(n_firms=1500, n_years=8, seed=3, mover_share=0.2, n_ind=5, n_city=12)


@pytest.fixture(scope="module")
def msample(movers) -> FESample:
    return FESample.from_frame(movers, FE, ["cu", *X_VARS], cluster="firm_id")


def _raw(s: FESample) -> np.ndarray:
    return np.column_stack([s.column(c) for c in ["cu", *X_VARS]])


@pytest.mark.parametrize("method", ["auto", "cg"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_identical_for_1_2_4_threads(msample, method, weighted):
    raw = _raw(msample)
    w = np.linspace(0.5, 2.0, msample.nobs) if weighted else None
    out = [demean(raw, msample.codes, w, tol=1e-10, method=method, threads=t) for t in (1, 2, 4)]
    assert out[0].tobytes() == out[1].tobytes() == out[2].tobytes()


def test_feols_identical_for_1_2_4_threads(movers, monkeypatch):
    res = []
    for t in ("1", "2", "4"):
        monkeypatch.setenv("CBEC_THREADS", t)
        s = FESample.from_frame(movers, FE, ["cu", *X_VARS], cluster="firm_id")
        r = feols(s, "cu", X_VARS)
        res.append((r.params.tobytes(), r.cov.tobytes()))
    assert res[0] == res[1] == res[2]


def test_cg_agrees_with_tight_lsmr_with_movers(msample):
    """CG at 1e-10 finishes every column (no LSMR fallback) and agrees with LSMR at 1e-13."""
    raw = _raw(msample)
    out, sweeps = demean_cg(raw, msample.codes, tol=1e-10, prepared=prepare(msample.codes, None))
    assert (sweeps >= 0).all()
    ref = demean(raw, msample.codes, tol=1e-13, method="lsmr")
    np.testing.assert_allclose(out, ref, atol=1e-8)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_default_tolerance_matches_pyfixest_to_1e8(movers, weighted):
    """At the default tolerance (not the tests' 1e-13) the layer equals a tight pyfixest fit."""
    df = movers.with_columns(wt=(movers["firm_id"] % 3 + 1).cast(float)) if weighted else movers
    s = FESample.from_frame(
        df, FE, ["cu", *X_VARS], cluster="firm_id", weights="wt" if weighted else None
    )
    r = feols(s, "cu", X_VARS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            f"cu ~ {' + '.join(X_VARS)} | firm_id + ind2^year + city^year",
            data=df.to_pandas(),
            vcov={"CRV1": "firm_id"},
            demeaner=TIGHT,
            weights="wt" if weighted else None,
        )
    np.testing.assert_allclose(r.params, fit.coef().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(r.se, fit.se().to_numpy(), rtol=1e-8)


def test_cg_residuals_orthogonal_to_every_level(msample):
    raw = _raw(msample)
    out, sweeps = demean_cg(raw, msample.codes, tol=1e-11)
    assert (sweeps >= 0).all()
    for j in range(msample.codes.shape[1]):
        c = msample.codes[:, j]
        means = np.bincount(c, weights=out[:, 0]) / np.bincount(c)
        assert np.abs(means).max() < 1e-10

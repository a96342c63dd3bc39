"""2SLS layer (cbec.estimation.iv) against pyfixest's IV estimator and a planted effect."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pyfixest as pf
import pytest
from estimation._estimation_sim import FE, IV_BETA, simulate
from pyfixest.demeaners import MapDemeaner

from cbec.estimation.fe import FESample, feols
from cbec.estimation.iv import iv2sls

TIGHT = MapDemeaner(fixef_tol=1e-13, fixef_maxiter=200_000)


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return simulate(n_firms=500, n_years=7, seed=5, mover_share=0.0)


def _pf_iv(panel, inst, vcov):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            f"y_iv ~ lnqygm + fc | firm_id + ind2^year + city^year | d ~ {' + '.join(inst)}",
            data=panel.to_pandas(),
            vcov=vcov,
            demeaner=TIGHT,
        )
        fit.first_stage()
    return fit


@pytest.mark.parametrize("inst", [["z1"], ["z2"], ["z1", "z2"]], ids=["dist", "bartik", "both"])
@pytest.mark.parametrize("vcov", ["CRV1:firm_id", "hetero"], ids=["crv1", "hc1"])
def test_iv2sls_matches_pyfixest(panel, inst, vcov):
    s = FESample.from_frame(panel, FE, ["y_iv", "d", "lnqygm", "fc", "z1", "z2"], tol=1e-13)
    r = iv2sls(s, "y_iv", "d", inst, ["lnqygm", "fc"], vcov=vcov)
    fit = _pf_iv(panel, inst, {"CRV1": "firm_id"} if vcov.startswith("CRV1") else vcov)
    np.testing.assert_allclose(r.params, fit.coef()[r.names].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(r.se, fit.se()[r.names].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(r.pvalue, fit.pvalue()[r.names].to_numpy(), rtol=1e-5, atol=1e-12)
    assert r.nobs == fit._N
    # first stage: same coefficients and SEs as pyfixest's first-stage model
    fs = fit._model_1st_stage
    np.testing.assert_allclose(
        r.first_stage.params, fs.coef()[r.first_stage.names].to_numpy(), rtol=1e-6
    )
    np.testing.assert_allclose(r.first_stage.se, fs.se()[r.first_stage.names].to_numpy(), rtol=1e-6)
    assert r.stats["first_stage_f"] == pytest.approx(fit._f_stat_1st_stage, rel=1e-6)
    # KP rk Wald F (ivreg2 df convention) = pyfixest's robust first-stage F, K = 1
    assert r.stats["kp_wald_f"] == pytest.approx(fit._f_stat_1st_stage, rel=1e-6)
    d = r.to_dict("(1)")
    assert d["estimator"] == "iv2sls" and {"kp_lm", "kp_wald_f"} <= set(d["stats"])


def test_iv_recovers_planted_effect_and_ols_is_biased():
    df = simulate(n_firms=3000, n_years=7, seed=9, mover_share=0.0)
    s = FESample.from_frame(df, FE, ["y_iv", "d", "lnqygm", "z1", "z2"])
    r = iv2sls(s, "y_iv", "d", ["z1", "z2"], ["lnqygm"])
    lo, hi = r.conf_int()[0]
    assert lo <= IV_BETA <= hi
    ols = feols(s, "y_iv", ["d", "lnqygm"])
    assert ols["d"]["b"] - IV_BETA > 5 * ols["d"]["se"]  # endogeneity bias, corr(u, v) > 0
    assert r.stats["kp_wald_f"] > 100 and r.stats["kp_lm_p"] < 1e-6


def test_instrument_absorbed_by_city_year_fe_is_rejected(panel):
    df = panel.with_columns((pl.col("city") * 0.01 + pl.col("year") * 0.3).alias("z_cy"))
    s = FESample.from_frame(df, FE, ["y_iv", "d", "lnqygm", "z_cy"])
    with pytest.raises(ValueError, match="collinear"):
        iv2sls(s, "y_iv", "d", ["z_cy"], ["lnqygm"])


def test_absorbed_exogenous_control_is_dropped(panel):
    df = panel.with_columns((pl.col("ind2") * 0.5).alias("ind_const"))  # absorbed by firm FE
    s = FESample.from_frame(df, FE, ["y_iv", "d", "lnqygm", "ind_const", "z1"], tol=1e-13)
    with pytest.warns(UserWarning, match="collinear"):
        r = iv2sls(s, "y_iv", "d", ["z1"], ["lnqygm", "ind_const"])
    ref = iv2sls(s, "y_iv", "d", ["z1"], ["lnqygm"])
    assert r.names == ["d", "lnqygm"] and r.dropped_collinear == ["ind_const"]
    np.testing.assert_allclose(r.params, ref.params, rtol=1e-12)
    np.testing.assert_allclose(r.se, ref.se, rtol=1e-12)

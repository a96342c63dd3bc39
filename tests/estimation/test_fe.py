"""Fixed-effects OLS layer (cbec.estimation.fe) against plain pyfixest.feols and planted truths."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pyfixest as pf
import pytest
from estimation._estimation_sim import BETA, FE, X_VARS, simulate
from pyfixest.demeaners import MapDemeaner

from cbec.estimation import fe as fe_mod
from cbec.estimation.fe import FESample, demean, drop_singletons, encode_fe, feols

TIGHT = MapDemeaner(fixef_tol=1e-13, fixef_maxiter=200_000)
FML_FE = "firm_id + ind2^year + city^year"


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return simulate(n_firms=600, seed=1)


@pytest.fixture(scope="module")
def sample(panel) -> FESample:
    return FESample.from_frame(panel, FE, ["cu", *X_VARS], cluster="firm_id", tol=1e-13)


def _pf(panel: pl.DataFrame, rhs: list[str], vcov) -> pf.Feols:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(
            f"cu ~ {' + '.join(rhs)} | {FML_FE}", data=panel.to_pandas(), vcov=vcov, demeaner=TIGHT
        )


def test_encode_fe_interaction_matches_pandas_groups(panel):
    codes = encode_fe(panel, ["firm_id", "ind2^year", "city^year"])
    pdf = panel.to_pandas()
    for j, cols in enumerate([["firm_id"], ["ind2", "year"], ["city", "year"]]):
        ref = pdf.groupby(cols, sort=True).ngroup().to_numpy()
        np.testing.assert_array_equal(codes[:, j], ref)  # dense, in sorted key order
    assert codes.dtype == np.uint32


def test_encode_fe_string_columns():
    df = pl.DataFrame({"a": ["x", "y", "x", "z"], "b": [2, 1, 2, 1]})
    c = encode_fe(df, ["a^b"])[:, 0]
    assert c[0] == c[2] and len(set(c.tolist())) == 3 and c.max() == 2


def test_drop_singletons_iterates_to_fixpoint():
    # round 1: row 0 (alone in firm 0 and in g=5) and row 1 (alone in g=1) are singletons;
    # round 2: row 2 is then alone in firm 1; round 3: row 3 is then alone in g=2.
    f = np.array([0, 1, 1, 2, 2, 2, 3, 3])
    g = np.array([5, 1, 2, 2, 3, 3, 3, 3])
    keep = drop_singletons(np.column_stack([f, g]).astype(np.uint32))
    np.testing.assert_array_equal(keep, [False, False, False, False, True, True, True, True])


def test_singletons_count_matches_pyfixest(panel, sample):
    fit = _pf(panel, X_VARS, {"CRV1": "firm_id"})
    assert sample.n_dropped_singletons > 0
    assert sample.nobs == fit._N
    assert sample.n_dropped_singletons == panel.height - fit._N


@pytest.mark.parametrize(
    "vcov", ["CRV1:firm_id", "hetero", "iid", "CRV1:city"], ids=["crv1", "hc1", "iid", "crv1city"]
)
def test_feols_matches_pyfixest(panel, vcov):
    clus = vcov.split(":")[1] if ":" in vcov else "firm_id"
    s = FESample.from_frame(panel, FE, ["cu", *X_VARS], cluster=clus, tol=1e-13)
    r = feols(s, "cu", X_VARS, vcov=vcov)
    pv = {"CRV1": clus} if vcov.startswith("CRV1") else vcov
    fit = _pf(panel, X_VARS, pv)
    b = fit.coef()[r.names].to_numpy()
    se = fit.se()[r.names].to_numpy()
    np.testing.assert_allclose(r.params, b, rtol=1e-8)
    np.testing.assert_allclose(r.se, se, rtol=1e-8)
    np.testing.assert_allclose(r.pvalue, fit.pvalue()[r.names].to_numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(
        r.conf_int(), fit.confint().loc[r.names].to_numpy(), rtol=1e-8, atol=1e-12
    )
    assert r.nobs == fit._N
    assert r.r2 == pytest.approx(fit._r2, rel=1e-10)
    assert r.r2_within == pytest.approx(fit._r2_within, rel=1e-8)
    assert r.df_k == fit._df_k


def test_cache_demeans_each_column_once(panel, monkeypatch):
    calls: list[int] = []
    real = fe_mod.demean

    def counting(x, *a, **k):
        calls.append(x.shape[1])
        return real(x, *a, **k)

    monkeypatch.setattr(fe_mod, "demean", counting)
    s = FESample.from_frame(panel, FE, ["cu", *X_VARS], tol=1e-13)
    r1 = feols(s, "cu", ["platform"])
    r2 = feols(s, "cu", X_VARS)
    r3 = feols(s, "cu", X_VARS[:3])
    assert calls == [2, 6]  # (cu, platform) together, then the six new regressors; r3 cached
    fit1 = _pf(s.data, ["platform"], {"CRV1": "firm_id"})
    np.testing.assert_allclose(r1.params, fit1.coef().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(r1.se, fit1.se().to_numpy(), rtol=1e-8)
    assert r2.nobs == r3.nobs == s.nobs


def test_demean_map_and_lsmr_agree(sample):
    raw = np.column_stack([sample.column(c) for c in ["cu", "lnqygm"]])
    a = demean(raw, sample.codes, tol=1e-12, method="map", maxiter=200_000)
    b = demean(raw, sample.codes, tol=1e-12, method="lsmr")
    np.testing.assert_allclose(a, b, atol=1e-8)
    # residuals are orthogonal to every fixed-effect level (group means ~ 0)
    for j in range(sample.codes.shape[1]):
        means = np.bincount(sample.codes[:, j], weights=a[:, 0]) / np.bincount(sample.codes[:, j])
        assert np.abs(means).max() < 1e-8


def test_missing_values_dropped_and_counted(panel):
    df = panel.with_columns(
        pl.when(pl.int_range(pl.len()) % 50 == 0).then(None).otherwise(pl.col("fc")).alias("fc")
    )
    s = FESample.from_frame(df, FE, ["cu", *X_VARS], tol=1e-13)
    assert s.n_dropped_missing == (panel.height + 49) // 50
    r = feols(s, "cu", X_VARS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            f"cu ~ {' + '.join(X_VARS)} | {FML_FE}",
            data=df.to_pandas(),
            vcov={"CRV1": "firm_id"},
            demeaner=TIGHT,
        )
    np.testing.assert_allclose(r.params, fit.coef().to_numpy(), rtol=1e-8)
    assert r.nobs == fit._N


def test_collinear_regressor_dropped(panel):
    df = panel.with_columns((pl.col("ind2") * 1.0).alias("ind_const"))  # absorbed by firm FE
    s = FESample.from_frame(df, FE, ["cu", "platform", "ind_const"], tol=1e-13)
    with pytest.warns(UserWarning, match="collinear"):
        r = feols(s, "cu", ["platform", "ind_const"])
    assert r.names == ["platform"] and r.dropped_collinear == ["ind_const"]


def test_to_dict_design_format(sample):
    r = feols(sample, "cu", X_VARS)
    d = r.to_dict(label="(2)")
    assert set(d) == {
        "label",
        "depvar",
        "estimator",
        "fixed_effects",
        "vcov",
        "coef",
        "nobs",
        "r2",
        "stats",
    }
    assert d["fixed_effects"] == FE and d["vcov"] == "CRV1:firm_id" and d["estimator"] == "feols"
    assert set(d["coef"]["platform"]) == {"b", "se", "t", "p"}
    assert d["stats"]["dropped_singletons"] == sample.n_dropped_singletons
    json.dumps(d)


def test_planted_effects_recovered():
    """On a larger panel the 95% CIs cover the planted coefficients (7 intervals)."""
    df = simulate(n_firms=4000, seed=7, n_ind=6, n_city=12)
    s = FESample.from_frame(df, FE, ["cu", *X_VARS])
    r = feols(s, "cu", X_VARS)
    ci = r.conf_int()
    truth = np.array([BETA[n] for n in r.names])
    covered = (ci[:, 0] <= truth) & (truth <= ci[:, 1])
    assert covered.sum() >= 6, r.summary()  # allow one miss out of seven (p ~ 0.04)
    assert abs(r["platform"]["b"] - 0.09) < 4 * r["platform"]["se"]


def test_no_fixed_effects_matches_pyfixest(panel):
    s = FESample.from_frame(panel, [], ["cu", *X_VARS], cluster="firm_id")
    r = feols(s, "cu", X_VARS)
    fit = pf.feols(f"cu ~ {' + '.join(X_VARS)}", data=panel.to_pandas(), vcov={"CRV1": "firm_id"})
    np.testing.assert_allclose(r.params, fit.coef()[r.names].to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(r.se, fit.se()[r.names].to_numpy(), rtol=1e-10)
    assert isinstance(pd.Series(r.coef), pd.Series)


@pytest.mark.parametrize("vcov", ["CRV1:firm_id", "hetero", "iid"], ids=["crv1", "hc1", "iid"])
@pytest.mark.parametrize("with_fe", [True, False], ids=["fe", "nofe"])
def test_weighted_feols_matches_pyfixest(panel, vcov, with_fe):
    """Analytic weights (as PSM's match counts): WLS equal to pyfixest's weighted feols."""
    rng = np.random.default_rng(3)
    df = panel.with_columns(pl.Series("w", rng.integers(1, 5, panel.height).astype(float)))
    fe = FE if with_fe else []
    s = FESample.from_frame(df, fe, ["cu", *X_VARS], cluster="firm_id", tol=1e-13, weights="w")
    r = feols(s, "cu", X_VARS, vcov=vcov)
    pv = {"CRV1": "firm_id"} if vcov.startswith("CRV1") else vcov
    fml = f"cu ~ {' + '.join(X_VARS)}" + (f" | {FML_FE}" if with_fe else "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(fml, data=df.to_pandas(), vcov=pv, weights="w", demeaner=TIGHT)
    names = [n for n in r.names]
    np.testing.assert_allclose(r.params, fit.coef()[names].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(r.se, fit.se()[names].to_numpy(), rtol=1e-8)
    assert r.nobs == fit._N
    assert r.r2 == pytest.approx(fit._r2, rel=1e-8)
    # weighting matters: the unweighted estimate differs
    u = feols(FESample.from_frame(df, fe, ["cu", *X_VARS], tol=1e-13), "cu", X_VARS, vcov=vcov)
    assert not np.allclose(u.params, r.params, rtol=1e-6)


def test_weights_must_be_positive(panel):
    df = panel.with_columns(pl.lit(0.0).alias("w"))
    with pytest.raises(ValueError, match="weights column 'w' must be positive"):
        FESample.from_frame(df, FE, ["cu", *X_VARS], weights="w")


@pytest.mark.parametrize("with_fe", [True, False], ids=["fe", "nofe"])
def test_adjusted_r2_and_depvar_mean_match_pyfixest(panel, with_fe):
    """The rows "Adjusted R²" and "Mean of dependent variable": pyfixest's ``_adj_r2`` (every
    fixed-effect level counted as a parameter) and the mean of y on the estimation rows."""
    fe = FE if with_fe else []
    s = FESample.from_frame(panel, fe, ["cu", *X_VARS], cluster="firm_id", tol=1e-13)
    r = feols(s, "cu", X_VARS)
    fml = f"cu ~ {' + '.join(X_VARS)}" + (f" | {FML_FE}" if with_fe else "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(fml, data=panel.to_pandas(), vcov={"CRV1": "firm_id"}, demeaner=TIGHT)
    st = r.to_dict()["stats"]
    assert st["r2_adj"] == pytest.approx(fit._adj_r2, rel=1e-8)
    assert st["r2_adj"] < r.r2
    assert st["depvar_mean"] == pytest.approx(float(fit._Y_untransformed.to_numpy().mean()))

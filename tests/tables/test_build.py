"""The declarative table builder: one sample per distinct set of rows, pyfixest-equal columns."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pyfixest as pf
import pytest
from estimation._estimation_sim import X_VARS, simulate
from pyfixest.demeaners import MapDemeaner

from cbec.estimation import fe as fe_mod
from cbec.tables import build

FE = ["firm_id", "ind2^year", "city^year"]
CONTROLS = [v for v in X_VARS if v != "platform"]
COMMON = {
    "fixed_effects": FE,
    "cluster": "firm_id",
    "controls": CONTROLS,
    "wild_bootstrap": {"reps": 99, "weights": "webb", "method": "fast"},
}


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    df = simulate(n_firms=500, seed=4)
    rng = np.random.default_rng(0)
    n = df.height
    # two outcomes observed everywhere, two observed on the same 90 % of rows (as Table 6's
    # TFP / export outcomes), one observed on other rows
    obs = rng.random(n) < 0.9
    other = rng.random(n) < 0.8
    return df.with_columns(
        y_a=pl.col("cu") * 2,
        y_b=pl.col("cu") + pl.Series(rng.normal(0, 0.1, n)),
        y_c=pl.when(pl.Series(obs)).then(pl.col("cu") - 1),
        y_d=pl.when(pl.Series(obs)).then(pl.col("cu") * 3),
        y_e=pl.when(pl.Series(other)).then(pl.col("cu")),
    )


def test_columns_share_samples_and_equal_pyfixest(panel, monkeypatch):
    built: list[int] = []
    orig = fe_mod.FESample.from_frame.__func__

    def counting(cls, *a, **k):
        s = orig(cls, *a, **k)
        built.append(s.nobs)
        return s

    monkeypatch.setattr(build.FESample, "from_frame", classmethod(counting))
    deps = ["y_a", "y_b", "y_c", "y_d", "y_e"]
    spec = {"columns": [{"depvar": d, "treatment": "platform", "controls": True} for d in deps]}
    est = build.regression_table(panel, spec, COMMON, "t")
    assert len(built) == 3  # {y_a, y_b}, {y_c, y_d}, {y_e}
    tight = MapDemeaner(fixef_tol=1e-12, fixef_maxiter=100_000)
    for d, col in zip(deps, est["columns"], strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pf.feols(
                f"{d} ~ {' + '.join(X_VARS)} | firm_id + ind2^year + city^year",
                data=panel.to_pandas(),
                vcov={"CRV1": "firm_id"},
                demeaner=tight,
            )
        assert col["nobs"] == fit._N, d
        for v in X_VARS:
            assert col["coef"][v]["b"] == pytest.approx(fit.coef()[v], rel=1e-5, abs=1e-8)
            assert col["coef"][v]["se"] == pytest.approx(fit.se()[v], rel=1e-4)


def test_wild_bootstrap_column(panel):
    spec = {
        "columns": [
            {"depvar": "cu", "treatment": "platform", "controls": True, "wild_bootstrap": True}
        ]
    }
    a = build.regression_table(panel, spec, COMMON, "t", seed=1)["columns"][0]["stats"]
    b = build.regression_table(panel, spec, COMMON, "t", seed=1)["columns"][0]["stats"]
    assert a["wild_ci"] == b["wild_ci"] and a["wild_reps"] == 99  # seeded: reproducible
    lo, hi = a["wild_ci"]
    assert lo < 0.09 < hi and 0 <= a["wild_p"] <= 0.05


def test_iv_columns_use_their_own_rows_and_a_missing_instrument_is_reported(panel):
    n = panel.height
    df = panel.with_columns(
        z_gap=pl.when(pl.Series(np.arange(n) % 10 != 0)).then(pl.col("z2")),  # 10 % missing
        z_none=pl.lit(None, dtype=pl.Float64),
    )
    common = {**COMMON, "controls": ["lnqygm"]}
    spec = {
        "columns": [
            {"depvar": "y_iv", "endog": "d", "instruments": ["z1"], "controls": True},
            {"depvar": "y_iv", "endog": "d", "instruments": ["z_gap"], "controls": True},
            {"depvar": "y_iv", "endog": "d", "instruments": ["z_none"], "controls": True},
        ]
    }
    cols = build.regression_table(df, spec, common, "t")["columns"]
    assert [c["estimator"] for c in cols] == ["first_stage", "iv2sls"] * 3
    # the first column is not cut down to the rows where the other columns' instruments exist
    assert cols[1]["nobs"] > cols[3]["nobs"] > 0
    assert cols[1]["coef"]["d"]["b"] == pytest.approx(0.3, abs=0.1)
    assert cols[5]["coef"] == {} and "non-missing" in cols[5]["stats"]["not_estimated"]


def test_iv_columns_carry_weak_iv_statistics_and_the_note_names_the_weak_column(panel):
    # z3 does not enter d: a weak instrument
    spec = {
        "columns": [
            {"depvar": "y_iv", "endog": "d", "instruments": ["z1"]},
            {"depvar": "y_iv", "endog": "d", "instruments": ["z3"]},
        ]
    }
    est = build.regression_table(panel, spec, COMMON, "t")
    first, strong, _, weak = est["columns"]
    assert first["stats"]["eff_f"] == pytest.approx(strong["stats"]["first_stage_f"], rel=1e-9)
    assert strong["stats"]["weak_iv"] is False and weak["stats"]["weak_iv"] is True
    lo, hi = strong["stats"]["ar_ci"]
    assert lo < strong["coef"]["d"]["b"] < hi
    assert weak["stats"]["ar_set"] in ("rays", "line") and isinstance(weak["stats"]["ar_ci"], str)
    en = est["notes"]["en"]
    assert "Column (4): weak instrument" in en and "Column (2)" not in en
    assert en.isascii() and "第(4)列为弱工具变量" in est["notes"]["zh"]

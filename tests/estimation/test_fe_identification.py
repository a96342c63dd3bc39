"""Scale-free identification in the FE layer (feols, 2SLS, did2s stage 1, the table builder).

A regressor is dropped when 1 - R^2 of it on the fixed effects and the regressors before it is
at most ``COLLIN_TOL`` (:func:`cbec.estimation.fe.collinear_columns`), whatever its units. The
panel has firms moving between cities, so the demeaning is iterative and an exactly collinear
column keeps a residual of the size of the solver's error. Before, the FE layer used an
absolute 1e-9 tolerance on the pivots of X'X and an absolute CG criterion: a city x year
control kept or dropped depending on whether it was in yuan or 10k yuan (cases marked OLD
below fail on that code).
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import polars as pl
import pyfixest as pf
import pytest
from estimation._estimation_sim import FE, simulate, simulate_staggered
from pyfixest.demeaners import MapDemeaner

from cbec.estimation import staggered as st
from cbec.estimation.fe import (
    COLLIN_TOL,
    CollinearityError,
    FESample,
    collinear_columns,
    feols,
)
from cbec.estimation.iv import iv2sls
from cbec.tables import build
from cbec.tables.event_notes import event_study_notes

X = ["platform", "lnqygm", "lnage"]


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    """The simulated panel (a tenth of the firms move) plus ``cy``, a combination of city x
    year effects (in the span of ``city^year``), and ``own``, a dummy constant within firm."""
    df = simulate(n_firms=600, seed=1)
    rng = np.random.default_rng(5)
    cy = rng.normal(size=(4000, 40))[df["city"].to_numpy(), df["year"].to_numpy() - 2001]
    return df.with_columns(
        pl.Series("cy", cy),
        pl.Series("noise", rng.normal(size=df.height)),
        ((pl.col("firm_id") % 3 == 0) | (pl.col("ind2") == 14)).cast(pl.Float64).alias("own"),
    )


def _ols(df: pl.DataFrame, x: list[str], y: str = "cu", **kw):
    s = FESample.from_frame(df, FE, [y, *x], cluster="firm_id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return feols(s, y, x, **kw)


def _near_cy(df: pl.DataFrame, scale: float, noise: float) -> pl.DataFrame:
    """``ctl`` = ``scale`` * (city x year combination + ``noise`` * N(0, 1))."""
    return df.with_columns(((pl.col("cy") + noise * pl.col("noise")) * scale).alias("ctl"))


def test_collinear_columns_is_scale_free():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 200))
    D = np.column_stack([a, b, a + 2 * b + 1e-6 * rng.normal(size=200)])
    ref = (D**2).sum(axis=0)
    base = collinear_columns(D.T @ D, ref)
    assert base.tolist() == [False, False, True]
    for s in (1e-9, 1e9):
        Ds = D * np.array([1.0, s, 1.0])
        assert collinear_columns(Ds.T @ Ds, ref * [1, s * s, 1]).tolist() == base.tolist()
    # with the columns in the other order the later one goes (as fixest)
    D2 = D[:, [2, 0, 1]]
    assert collinear_columns(D2.T @ D2, ref[[2, 0, 1]]).tolist() == [False, False, True]


@pytest.mark.parametrize("scale", [1e-6, 1e6])  # OLD: 1e6 keeps `ctl` and moves the others
def test_rescaling_a_control_changes_nothing_else(panel, scale):
    ref = _ols(_near_cy(panel, 1.0, 1e-12), [*X, "ctl", "own"])
    res = _ols(_near_cy(panel, scale, 1e-12), [*X, "ctl", "own"])
    assert ref.dropped_collinear == res.dropped_collinear == ["ctl", "own"]
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-9)
    np.testing.assert_allclose(res.se, ref.se, rtol=1e-9)


def test_rescaled_identified_control_scales_its_coefficient_only(panel):
    ref = _ols(panel, X)
    res = _ols(panel.with_columns(pl.col("lnqygm") * 1e-6), X)
    assert res.names == ref.names and res.dropped_collinear == []
    np.testing.assert_allclose(res.params, ref.params * [1, 1e6, 1], rtol=1e-9)


def test_dummy_constant_within_firm_is_dropped_as_pyfixest(panel):
    res = _ols(panel, [*X, "own"])
    assert res.dropped_collinear == ["own"] and res.names == X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols(
            f"cu ~ {' + '.join([*X, 'own'])} | firm_id + ind2^year + city^year",
            data=panel.to_pandas(),
            vcov={"CRV1": "firm_id"},
            demeaner=MapDemeaner(fixef_tol=1e-13, fixef_maxiter=200_000),
        )
    assert list(ref._coefnames) == X  # pyfixest drops it too
    np.testing.assert_allclose(res.params, ref.coef().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(res.se, ref.se().to_numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    ("scale", "noise"),
    [(1.0, 1e-12), (1e6, 1e-12), (1e4, 1e-7)],  # OLD: the last two are kept, huge coefficient
)
def test_control_spanned_by_city_year_effects_is_dropped(panel, scale, noise):
    ref = _ols(panel, X)
    res = _ols(_near_cy(panel, scale, noise), [*X, "ctl"])
    assert res.dropped_collinear == ["ctl"] and res.names == X
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-9)


def test_control_identified_above_the_tolerance_is_kept(panel):
    """1 - R^2 of ``ctl`` on the fixed effects ~ (1e-3)^2 / var(cy) > COLLIN_TOL: kept."""
    res = _ols(_near_cy(panel, 1e4, 1e-3), [*X, "ctl"])
    assert res.dropped_collinear == [] and res.names == [*X, "ctl"]
    assert COLLIN_TOL < 1e-6


TABLE_COMMON = {
    "fixed_effects": FE,
    "cluster": "firm_id",
    "controls": ["lnqygm", "lnage"],
    "wild_bootstrap": {"reps": 99, "weights": "webb", "method": "fast"},
}


def test_treatment_collinear_with_fixed_effects_is_an_error(panel):
    """A treatment that is a city x year combination (up to 1e-12 of its scale): the table
    stops naming it (OLD: dropped silently, the column printed without it)."""
    df = _near_cy(panel, 1e4, 1e-12)
    spec = {"columns": [{"depvar": "cu", "treatment": "ctl", "controls": True}]}
    with pytest.raises(CollinearityError, match=r"t \(1\): regressor ctl is collinear"):
        build.regression_table(df, spec, TABLE_COMMON, "t")
    with pytest.raises(CollinearityError, match="ctl"):
        _ols(df, ["ctl", "lnqygm"], required=["ctl"])


def test_table_names_dropped_controls(panel):
    spec = {"columns": [{"depvar": "cu", "treatment": "platform", "exog": ["own", "ctl"]}]}
    est = build.regression_table(_near_cy(panel, 1e4, 1e-7), spec, TABLE_COMMON, "t")
    col = est["columns"][0]
    assert col["absorbed"] == ["own", "ctl"] and set(col["coef"]) == {"platform"}


@pytest.mark.parametrize(("scale", "noise"), [(1e6, 0.0), (1e4, 1e-7)])  # OLD: no error
def test_instrument_collinear_with_fixed_effects_is_an_error(panel, scale, noise):
    df = _near_cy(panel, scale, noise)
    s = FESample.from_frame(df, FE, ["y_iv", "d", "lnqygm", "ctl", "z1"])
    with pytest.raises(CollinearityError, match="instrument ctl is collinear"):
        iv2sls(s, "y_iv", "d", ["z1", "ctl"], ["lnqygm"])


def test_endogenous_regressor_collinear_with_fixed_effects_is_an_error(panel):
    s = FESample.from_frame(_near_cy(panel, 1e4, 1e-9), FE, ["y_iv", "ctl", "z1", "z2"])
    with pytest.raises(CollinearityError, match="endogenous regressor ctl"):
        iv2sls(s, "y_iv", "ctl", ["z1", "z2"])


def test_did2s_drops_stage1_control_collinear_with_fixed_effects():
    """A control that is a city x year combination (in 10k yuan) is dropped from stage 1 and
    named in the notes; the estimates equal those without it."""
    sim = simulate_staggered(400, seed=3)
    rng = np.random.default_rng(1)
    cy = rng.normal(size=(4000, 40))[sim["city"].to_numpy(), sim["year"].to_numpy() - 2000]
    sim = sim.with_columns(pl.Series("cyx", 1e4 * cy))
    design = st.EventDesign("cu", "firm_id", "year", "cohort", fe=st.PAPER_FE)
    ref = st.did2s(sim, replace(design, controls=["lnqygm"]))
    res = st.did2s(sim, replace(design, controls=["lnqygm", "cyx"]))
    assert any(n.endswith("dropped: ['cyx']") for n in res.notes)
    notes = event_study_notes({"notes": [f"did2s: {n}" for n in res.notes]})
    assert "first-stage controls that the fixed effects absorb" in notes["en"]
    assert "'cyx'" in notes["en"] and "'cyx'" in notes["zh"]
    np.testing.assert_allclose(
        res.path["estimate"].to_numpy(), ref.path["estimate"].to_numpy(), rtol=1e-8
    )

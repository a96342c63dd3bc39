"""Staggered-adoption event studies: recovery of a planted, tenure-growing effect.

The synthetic panel (``simulate_staggered``) has staggered cohorts 2001-2015 (including the
2008-2010 gap years), never-treated firms, entry/exit, firm + ind2 x year + city x year effects and
an effect ``0.03 + 0.02 * tenure (+0.03 for cohorts <= 2004)``. Truth per event time = mean planted
effect over the treated firm-years each estimator actually used (``result.sample``).
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pyfixest as pf
import pytest
from estimation._estimation_sim import simulate_staggered

from cbec.estimation import staggered as st

FE = st.PAPER_FE
SEED = 0  # fixed seed of the headline test; 20-seed check: SA 117/120, did2s 114/120 post cells covered
ARGS = ("cu", "firm_id", "year", "cohort")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _truth(sim: pl.DataFrame, res: st.EventStudyResult, window=st.DEFAULT_WINDOW) -> pl.DataFrame:
    """Planted effect per binned event time on the estimator's sample (0 for leads)."""
    d = st.event_time(
        sim.join(res.sample, on=["firm_id", "year"]), "firm_id", "year", "cohort", window
    )
    post = d.filter(pl.col("treated")).group_by("rel_time").agg(pl.col("tau").mean().alias("truth"))
    att = float(d.filter(pl.col("treated"))["tau"].mean())
    leads = pl.DataFrame({"rel_time": list(range(window[0], -1)), "truth": 0.0})
    return pl.concat([leads, post.cast({"rel_time": pl.Int64})]).with_columns(
        pl.lit(att).alias("att_true")
    )


def _compare(sim: pl.DataFrame, res: st.EventStudyResult) -> pl.DataFrame:
    return (
        res.path.filter(~pl.col("is_reference"))
        .join(_truth(sim, res), on="rel_time", how="left")
        .with_columns(
            ((pl.col("truth") >= pl.col("ci_low")) & (pl.col("truth") <= pl.col("ci_high"))).alias(
                "covered"
            )
        )
    )


@pytest.fixture(scope="module")
def world() -> dict:
    sim = simulate_staggered(1500, seed=SEED)
    res = {
        f.__name__: f(sim, st.EventDesign(*ARGS, fe=FE, cluster="firm_id"))
        for f in (st.dynamic_twfe, st.sun_abraham, st.did2s)
    }
    static = st.static_twfe(sim, st.EventDesign(*ARGS, fe=FE, cluster="firm_id"))
    return {"sim": sim, "res": res, "static": static}


# --------------------------------------------------------------------------- event time


def test_event_time_bins_gaps_and_never_treated():
    df = pl.DataFrame(
        {
            "firm": [1] * 6 + [2] * 3 + [3] * 2,
            "year": [2001, 2002, 2007, 2011, 2014, 2015, 2005, 2011, 2012, 2003, 2004],
            "g": [2009] * 6 + [0] * 3 + [None] * 2,
        }
    )
    out = st.event_time(df, "firm", "year", "g", window=(-3, 3))
    f1 = out.filter(pl.col("firm") == 1)
    assert f1["rel_time_raw"].to_list() == [-8, -7, -2, 2, 5, 6]
    assert f1["rel_time"].to_list() == [-3, -3, -2, 2, 3, 3]
    assert f1["treated"].to_list() == [False, False, False, True, True, True]
    never = out.filter(pl.col("firm") != 1)
    assert never["rel_time"].to_list() == [-1] * 5  # never-treated coded as the reference
    assert never["rel_time_raw"].null_count() == 5
    assert not never["ever_treated"].any() and not never["treated"].any()
    with pytest.raises(ValueError, match="varies within"):
        bad = df.with_columns(
            pl.when(pl.col("year") == 2005).then(2012).otherwise(pl.col("g")).alias("g")
        )
        st.event_time(bad, "firm", "year", "g")
    with pytest.raises(ValueError, match="reference period"):
        st.event_time(df, "firm", "year", "g", window=(-1, 3))


def test_simulator_is_deterministic_and_has_gaps():
    a = simulate_staggered(200, seed=7)
    assert a.equals(simulate_staggered(200, seed=7))
    assert not a["year"].is_in([2008, 2009, 2010]).any()
    assert (a["cohort"] == 0).any() and a["cohort"].is_in([2008, 2009, 2010]).any()
    t = a.filter(pl.col("platform") == 1)
    expect = 0.03 + 0.02 * (t["year"] - t["cohort"]) + 0.03 * (t["cohort"] <= 2004)
    np.testing.assert_allclose(t["tau"].to_numpy(), expect.to_numpy())


# --------------------------------------------------------------------------- recovery


def test_static_twfe_is_off_the_average_effect(world):
    s, res = world["static"], world["res"]
    att_true = float(world["sim"].filter(pl.col("platform") == 1)["tau"].mean())
    # measured (seed 0): static 0.0485 (CI 0.0427-0.0544) vs true ATT 0.1334
    assert not s["ci_low"] <= att_true <= s["ci_high"]
    assert att_true - s["estimate"] > 5 * s["se"]
    for name in ("sun_abraham", "did2s"):
        r = res[name]
        t = _truth(world["sim"], r)["att_true"][0]
        assert r.att["ci_low"] <= t <= r.att["ci_high"], (name, r.att, t)


@pytest.mark.parametrize("name", ["sun_abraham", "did2s"])
def test_robust_estimators_recover_planted_path(world, name):
    cmp = _compare(world["sim"], world["res"][name])
    post = cmp.filter(pl.col("rel_time") >= 0)
    assert post.height == 6 and post["estimate"].null_count() == 0
    assert post["covered"].all(), post.select("rel_time", "estimate", "ci_low", "ci_high", "truth")
    # the planted path grows with tenure: +0.02 a year -> estimated slope near 0.02
    slope = np.polyfit(post["rel_time"][:5].to_numpy(), post["estimate"][:5].to_numpy(), 1)[0]
    assert slope == pytest.approx(0.02, abs=0.006)
    # no planted pre-trend: joint lead test does not reject
    assert world["res"][name].pretrend["p_value"] > 0.05


def test_dynamic_twfe_runs_with_paper_fe(world):
    r = world["res"]["dynamic_twfe"]
    from cbec.estimation.fe import drop_singletons, encode_fe

    kept = int(drop_singletons(encode_fe(world["sim"], list(FE))).sum())
    assert r.fixed_effects == FE and r.vcov == "CRV1:firm_id" and r.nobs == kept
    assert any("singleton firm-years" in n for n in r.notes) == (kept < world["sim"].height)
    assert r.path.height == 11 and r.path.filter(pl.col("is_reference"))["rel_time"].to_list() == [
        -1
    ]
    # contamination: the binned TWFE ATT lies below the true average effect
    assert r.att["ci_high"] < _truth(world["sim"], r)["att_true"][0]


def test_coverage_over_seeds():
    """Post-period 95% intervals of SA and did2s cover the truth in most (seed, period) cells;
    static TWFE misses the true ATT in every seed."""
    covered, total, static_miss = 0, 0, 0
    seeds = [1, 2, 3]
    for seed in seeds:
        sim = simulate_staggered(800, seed=seed)
        for f in (st.sun_abraham, st.did2s):
            post = _compare(sim, f(sim, st.EventDesign(*ARGS, fe=FE))).filter(
                pl.col("rel_time") >= 0
            )
            covered += int(post["covered"].sum())
            total += post.height
        s = st.static_twfe(sim, st.EventDesign(*ARGS, fe=FE))
        static_miss += (
            not s["ci_low"] <= sim.filter(pl.col("platform") == 1)["tau"].mean() <= s["ci_high"]
        )
    assert covered / total >= 0.8, (covered, total)
    assert static_miss == len(seeds)


def test_pretrend_test_detects_planted_violation():
    sim = simulate_staggered(900, seed=5, pretrend_slope=0.01)
    for f in (st.sun_abraham, st.did2s):
        assert f(sim, st.EventDesign(*ARGS, fe=FE)).pretrend["p_value"] < 1e-4


# --------------------------------------------------------------------------- against pyfixest


def test_sun_abraham_matches_pyfixest_saturated():
    """Where pyfixest's SaturatedEventStudy applies (unit + year FE, no gaps, no always-treated),
    our saturated IW estimator reproduces its aggregate() estimates and CRV1 standard errors."""
    sim = simulate_staggered(
        400, years=range(2001, 2016), adoption_years=range(2003, 2014), balanced=True, seed=11
    )
    ours = st.sun_abraham(
        sim, st.EventDesign(*ARGS, fe=["firm_id", "year"], cluster="firm_id")
    ).path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.event_study(
            sim.to_pandas(),
            yname="cu",
            idname="firm_id",
            tname="year",
            gname="cohort",
            estimator="saturated",
        )
        agg = fit.aggregate()
    for k in (-4, -3, -2, 0, 1, 2, 3, 4):  # interior bins = single event times
        row = ours.filter(pl.col("rel_time") == k)
        assert row["estimate"][0] == pytest.approx(float(agg.loc[float(k), "Estimate"]), abs=1e-10)
        assert row["se"][0] == pytest.approx(float(agg.loc[float(k), "Std. Error"]), rel=1e-8)


def test_did2s_sparse_engine_matches_pyfixest_did2s():
    """Against ``pf.did2s``, whose stage 1 is pyfixest's MAP at its default tolerance (it has
    no tolerance argument): the imputed outcomes differ by up to ~1e-5 from the exact fit
    (ours: 1e-10, :func:`test_did2s_first_stage_equals_direct_dense_two_stage`)."""
    sim = simulate_staggered(300, seed=12)
    design = st.EventDesign(*ARGS, fe=FE, cluster="firm_id", controls=["lnqygm"])
    a = st.did2s(sim, design, engine="cbec", drop_singletons=True)
    b = st.did2s(sim, design, engine="pyfixest", drop_singletons=True)
    assert a.nobs == b.nobs
    np.testing.assert_allclose(
        a.path["estimate"].to_numpy(), b.path["estimate"].to_numpy(), atol=2e-6
    )
    np.testing.assert_allclose(
        a.path["se"].drop_nulls().to_numpy(), b.path["se"].drop_nulls().to_numpy(), rtol=1e-4
    )
    assert a.pretrend["wald"] == pytest.approx(b.pretrend["wald"], rel=1e-4)


def _dense_did2s(pdf, y, controls, fe_cols, regs, cluster):
    """Gardner's two stages and the Butts-Gardner variance with dense matrices (lstsq)."""
    import pandas as pd

    unt = ~pdf["treated"].to_numpy(bool)
    X1 = np.column_stack(
        [pd.get_dummies(pdf[fe_cols].astype(str)).to_numpy(float), pdf[controls].to_numpy(float)]
    )
    X10 = X1 * unt[:, None]
    yv = pdf[y].to_numpy(float)
    u1 = yv - X1 @ np.linalg.lstsq(X10, yv, rcond=None)[0]
    X2 = pdf[regs].to_numpy(float)
    beta = np.linalg.lstsq(X2, u1, rcond=None)[0]
    u2 = u1 - X2 @ beta
    proj = X10 @ np.linalg.pinv(X10.T @ X10) @ (X1.T @ X2)
    scores = X2 * u2[:, None] - proj * u1[:, None]
    _, cl = np.unique(pdf[cluster].to_numpy(), return_inverse=True)
    sg = np.zeros((cl.max() + 1, X2.shape[1]))
    np.add.at(sg, cl, scores)
    bread = np.linalg.inv(X2.T @ X2)
    return beta, bread @ sg.T @ sg @ bread


def test_did2s_first_stage_equals_direct_dense_two_stage(monkeypatch):
    """The paper's FE (firm + ind2^year + city^year; firms move between cities), singletons
    kept: our stage 1 on the FE layer and the sparse variance equal a dense two-stage
    computation to 1e-9."""
    sim = _movers(simulate_staggered(250, seed=3))
    got = {}
    orig = st._did2s_cbec

    def spy(ts):
        got.update(ts=ts)
        return orig(ts)

    monkeypatch.setattr(st, "_did2s_cbec", spy)
    res = st.did2s(sim, st.EventDesign(*ARGS, fe=FE, cluster="firm_id", controls=["lnqygm"]))
    b, v = orig(got["ts"])
    b0, v0 = _dense_did2s(*got["ts"])
    np.testing.assert_allclose(b, b0, atol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.diag(v)), np.sqrt(np.diag(v0)), rtol=1e-7)
    assert res.fixed_effects == list(FE)
    assert any("not estimable from the untreated" in n for n in res.notes)


def _movers(sim: pl.DataFrame) -> pl.DataFrame:
    """Every 7th firm moves to the next city in 2006."""
    move = (pl.col("firm_id").cast(pl.Int64) % 7 == 0) & (pl.col("year") >= 2006)
    cities = sorted(sim["city"].unique().to_list())
    nxt = dict(zip(cities, cities[1:] + cities[:1], strict=True))
    sim = sim.with_columns(
        pl.when(move).then(pl.col("city").replace_strict(nxt)).otherwise(pl.col("city"))
    )
    assert sim.group_by("firm_id").agg(pl.col("city").n_unique() > 1)["city"].any()
    return sim


def test_non_estimable_rows_equal_the_null_space_of_the_untreated_dummies():
    """Rows flagged by :func:`st.non_estimable` are exactly those with a component in the
    null space of the untreated rows' dummy matrix (dense SVD)."""
    import pandas as pd

    d = _movers(simulate_staggered(250, seed=3))
    d = st.event_time(d, "firm_id", "year", "cohort", st.DEFAULT_WINDOW, -1)
    exprs, fe_cols = st._combined_fe(FE)
    d = st._drop_unimputable(d.with_columns(exprs), fe_cols, [])
    pdf = d.select(fe_cols).to_pandas()
    unt = ~d["treated"].to_numpy()
    got = st.non_estimable(pdf, fe_cols, unt)
    X = pd.get_dummies(pdf.astype(str)).to_numpy(float)
    _, sv, vt = np.linalg.svd(X[unt], full_matrices=True)
    null = vt[int((sv > 1e-9 * sv[0]).sum()) :].T
    want = np.abs(X @ null).max(axis=1) > 1e-8
    assert want.sum() > 0 and not want[unt].any()
    assert got.tolist() == want.tolist()


# --------------------------------------------------------------------------- output shape


def test_tidy_output_and_table(world):
    tab = pl.concat([r.tidy() for r in world["res"].values()], how="vertical_relaxed")
    assert set(tab["estimator"].unique()) == {"twfe", "sun_abraham", "did2s"}
    assert tab.height == 3 * 12
    assert {"estimator", "term", "rel_time", "estimate", "se", "ci_low", "ci_high", "n_obs"} <= set(
        tab.columns
    )
    att = tab.filter(pl.col("term") == "ATT")
    assert att.height == 3 and att["rel_time"].null_count() == 3
    d = world["res"]["did2s"].to_dict()
    assert d["pretrend"]["df"] == 4 and d["att"]["n_treated"] > 0


def test_sun_abraham_without_never_treated_uses_last_cohort():
    sim = simulate_staggered(600, never_share=0.0, seed=13)
    r = st.sun_abraham(sim, st.EventDesign(*ARGS, fe=["firm_id", "year"]))
    assert any("used as control" in n for n in r.notes)
    assert r.sample["year"].max() < sim["cohort"].max()
    post = _compare(sim, r).filter(pl.col("rel_time").is_between(0, 4))
    assert post["covered"].mean() >= 0.6


def test_event_study_regression_keeps_singletons_as_pyfixest_none():
    """The FE-layer fit behind TWFE / Sun-Abraham equals ``pf.feols(fixef_rm="none")``."""
    from pyfixest.demeaners import MapDemeaner

    sim = simulate_staggered(400, seed=3).with_columns(
        pl.col("platform").cast(pl.Float64).alias("d")
    )
    fml = "cu ~ d | firm_id + ind2^year + city^year"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tight = MapDemeaner(fixef_tol=1e-12, fixef_maxiter=100_000)
        keep = pf.feols(
            fml, sim.to_pandas(), vcov={"CRV1": "firm_id"}, fixef_rm="none", demeaner=tight
        )
        drop = pf.feols(fml, sim.to_pandas(), vcov={"CRV1": "firm_id"}, demeaner=tight)
    assert drop._N < keep._N == sim.height  # the panel has singletons
    b, v, names = st._fit_feols(sim, "cu", ["d"], FE, "firm_id")
    assert b["d"] == pytest.approx(keep.coef()["d"], rel=1e-6)
    assert np.sqrt(v[0, 0]) == pytest.approx(keep.se()["d"], rel=1e-6)
    assert np.sqrt(v[0, 0]) != pytest.approx(drop.se()["d"], rel=1e-6)


def test_sun_abraham_reports_each_cohorts_reference_period(world):
    """2008-2010 are missing: joiners of 2009, 2010, 2011 are not observed at -1 and use their
    2007 firm-years (-2, -3, -4); every other cohort uses -1. JSON and note say so."""
    sa = world["res"]["sun_abraham"]
    refs = sa.reference_periods
    cohorts = sorted(int(g) for g in world["sim"]["cohort"].unique() if 2001 < g <= 2015)
    assert sorted(refs) == [g for g in cohorts if g in refs] and len(refs) >= 10
    assert {g: refs[g] for g in (2009, 2010, 2011)} == {2009: -2, 2010: -3, 2011: -4}
    assert all(r == -1 for g, r in refs.items() if g not in (2009, 2010, 2011))
    assert sa.to_dict()["reference_periods"]["2011"] == -4
    note = next(n for n in sa.notes if "reference" in n)
    assert note.endswith("joined 2009: -2 (year 2007), joined 2010: -3 (year 2007), "
                         "joined 2011: -4 (year 2007)")  # fmt: skip


def test_static_twfe_drops_singletons_like_the_tables():
    """Table 8's static TWFE has the N, clusters and estimate of Table 2's regression (the FE
    layer, singletons dropped: pyfixest's default), not those of a fit keeping singletons."""
    from pyfixest.demeaners import MapDemeaner

    sim = simulate_staggered(400, seed=3).with_columns(
        (pl.col("year") >= pl.col("cohort")).fill_null(False).cast(pl.Float64).alias("d")
    )
    r = st.static_twfe(sim, st.EventDesign(*ARGS, fe=FE))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tight = MapDemeaner(fixef_tol=1e-12, fixef_maxiter=100_000)
        drop = pf.feols(
            "cu ~ d | firm_id + ind2^year + city^year",
            sim.to_pandas(),
            vcov={"CRV1": "firm_id"},
            demeaner=tight,
        )
    assert drop._N < sim.height  # the panel has singletons
    assert r["nobs"] == drop._N
    assert r["n_clusters"] == drop._G[0]
    assert r["estimate"] == pytest.approx(drop.coef()["d"], rel=1e-6)
    assert r["se"] == pytest.approx(drop.se()["d"], rel=1e-6)

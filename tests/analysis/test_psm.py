"""Tests for cbec.analysis.psm (Table 4: propensity-score matching).

Planted truth: a simulated firm panel (2001-2007) where adoption depends on observables
(a firm factor x drives TFP, size and turnover; P(ever adopt) = logistic(-2 + x + 0.5 u)),
and CU has a firm-specific trend 0.02 * x * (t - 2004) plus the planted platform effect
tau = 0.09. Adopters have higher x, hence steeper CU trends: the naive two-way FE estimate on
the full panel is biased upwards (about 0.14), while the FE regression on the matched sample
(ATT weights) recovers tau.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.special import expit

from cbec.analysis.psm import (
    LOGIT_COL,
    PSM_COVARIATES,
    PropensityScoreError,
    add_psm_covariates,
    industry_concentration,
    industry_concentration_table,
    match,
    propensity_score,
)

TAU = 0.09


def simulate(
    n_firms: int = 4000,
    seed: int = 1,
    *,
    tau: float = TAU,
    slope: float = 0.02,
    n_prov: int = 3,
    n_ind: int = 4,
) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n_firms)
    u = rng.normal(size=n_firms)
    treated = rng.random(n_firms) < expit(-2.0 + 1.0 * x + 0.5 * u)
    join = np.where(treated, rng.integers(2003, 2008, n_firms), -1)
    prov = rng.integers(0, n_prov, n_firms)
    ind = rng.integers(13, 13 + n_ind, n_firms)
    yrs = np.arange(2001, 2008)
    fid = np.repeat(np.arange(n_firms), yrs.size)
    yr = np.tile(yrs, n_firms)
    xi, ui = x[fid], u[fid]

    def e(s: float) -> np.ndarray:
        return rng.normal(scale=s, size=fid.size)

    ln_a = 10 + 0.7 * xi + 0.5 * ui + e(0.1)
    turn = np.exp(0.2 * xi - 0.2 * ui + e(0.1))
    lev = expit(0.5 * ui - 0.3 * xi + e(0.1))
    ja = join[fid]
    platform = ((ja > 0) & (yr >= ja)).astype(np.int8)
    cu = 0.7 + 0.03 * xi + slope * xi * (yr - 2004) + tau * platform + 0.01 * (yr - 2001) + e(0.05)
    df = pl.DataFrame(
        {
            "firm_id": fid,
            "year": yr,
            "province_code": prov[fid].astype(str),
            "ind2": ind[fid].astype(str),
            "tfp_lp": xi + e(0.15),
            "total_assets": np.exp(ln_a),
            "sales": turn * np.exp(ln_a),
            "total_liabilities": lev * np.exp(ln_a),
            "platform": platform,
            "join_year": pl.Series(np.where(ja > 0, ja, None).tolist(), dtype=pl.Int64),
            "cu": cu,
        }
    )
    # the simulated frame is the whole population: its concentration (as analysis_sample does)
    return df.join(industry_concentration_table(df), on=["ind2", "year"], how="left")


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return add_psm_covariates(simulate())


@pytest.fixture(scope="module")
def m11(panel):
    return match(panel, treat="platform", covariates=PSM_COVARIATES, k=1)


@pytest.fixture(scope="module")
def m13(panel):
    return match(panel, treat="platform", covariates=PSM_COVARIATES, k=3)


@pytest.fixture(scope="module")
def mseq(panel):
    return match(
        panel, treat="platform", covariates=PSM_COVARIATES, k=1, exact=["province_code", "ind2"]
    )


def _fe(d: pl.DataFrame, weights: str | None = None) -> tuple[float, float]:
    import pyfixest as pf

    fit = pf.feols(
        "cu ~ platform | firm_id + year",
        data=d.to_pandas(),
        weights=weights,
        vcov={"CRV1": "firm_id"},
    )
    return float(fit.coef()["platform"]), float(fit.se()["platform"])


# ----------------------------------------------------------------------------- covariates


def test_industry_concentration_is_top_share_per_industry_year():
    df = pl.DataFrame(
        {
            "ind2": ["13", "13", "13", "13", "14", "14"],
            "year": [2001, 2001, 2001, 2002, 2001, 2001],
            "sales": [10.0, 30.0, None, 5.0, 0.0, 0.0],
        }
    )
    got = industry_concentration(df).to_list()
    assert got[:3] == [0.75, 0.75, 0.75]  # 30 / 40, missing sales ignored
    assert got[3] == 1.0
    assert got[4] is None and got[5] is None  # no positive sales


def test_add_psm_covariates_definitions():
    df = pl.DataFrame(
        {
            "ind2": ["13", "13"],
            "year": [2001, 2001],
            "sales": [50.0, 150.0],
            "total_assets": [100.0, 0.0],
            "total_liabilities": [40.0, 10.0],
        }
    )
    out = add_psm_covariates(df)
    assert out["asset_turnover"].to_list() == [0.5, None]
    assert out["leverage"].to_list() == [0.4, None]
    assert out["ln_assets"][0] == pytest.approx(np.log(100.0))
    # not from the frame at hand: the concentration needs the whole ASIF
    assert "ind_conc" not in out.columns


def test_industry_concentration_table_one_row_per_industry_year():
    pop = pl.DataFrame(
        {
            "ind2": ["13", "13", "13", "13", None, "14"],
            "year": [2001, 2001, 2001, 2002, 2001, 2001],
            "sales": [10.0, 30.0, 60.0, 5.0, 1000.0, 0.0],
        }
    )
    got = industry_concentration_table(pop)
    assert got.rows() == [("13", 2001, 0.6), ("13", 2002, 1.0), ("14", 2001, None)]


# ----------------------------------------------------------------------------- score


def test_propensity_score_equals_statsmodels_logit_with_dummies():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    n = 3000
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    yr = rng.integers(0, 3, n)
    d = (rng.random(n) < expit(-1 + 0.8 * x1 - 0.5 * x2 + 0.3 * (yr == 2))).astype(int)
    df = pl.DataFrame({"d": d, "x1": x1, "x2": x2, "year": yr})
    ps = propensity_score(df, "d", ["x1", "x2"], by=["year"]).to_numpy()
    X = sm.add_constant(np.column_stack([x1, x2, yr == 1, yr == 2]).astype(float))
    ref = sm.Logit(d, X).fit(disp=0).predict(X)
    np.testing.assert_allclose(ps, ref, rtol=1e-7, atol=1e-10)
    lg = propensity_score(df, "d", ["x1", "x2"], by=["year"], logit=True).to_numpy()
    np.testing.assert_allclose(expit(lg), ref, rtol=1e-7)


def test_propensity_score_missing_covariates_get_null():
    df = pl.DataFrame(
        {"d": [0, 1, 0, 1, 0, 1, 1, 0], "x": [1.0, 2.0, None, 1.5, 0.2, 0.9, 3.0, 1.1]}
    )
    ps = propensity_score(df, "d", ["x"])
    assert ps[2] is None and ps.null_count() == 1


def test_perfect_separation_raises_and_ridge_regularises():
    df = pl.DataFrame(
        {"d": [0, 0, 0, 0, 1, 1, 1, 1], "x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]}
    )
    with pytest.raises(PropensityScoreError, match="separation"):
        propensity_score(df, "d", ["x"])
    ps = propensity_score(df, "d", ["x"], ridge=1.0).to_numpy()
    assert np.all(np.isfinite(ps)) and np.all(np.diff(ps) > 0)
    assert ps[:4].max() < 0.5 < ps[4:].min()


def test_dummy_category_without_variation_raises():
    df = pl.DataFrame(
        {"d": [0, 1, 0, 1, 0, 0], "x": [0.1, 0.5, 0.3, 0.2, 0.9, 0.4], "year": [1, 1, 2, 2, 3, 3]}
    )
    with pytest.raises(PropensityScoreError, match="constant within"):
        propensity_score(df, "d", ["x"], by=["year"])


# ----------------------------------------------------------------------------- balance / ATT


def test_matching_balances_covariates(m11, m13, mseq):
    for r in (m11, m13, mseq):
        b = {row["covariate"]: row for row in r.balance.iter_rows(named=True)}
        # selection on observables: large imbalance before matching
        assert b["tfp_lp"]["smd_before"] > 0.6
        assert b["ln_assets"]["smd_before"] > 0.6
        assert b[LOGIT_COL]["smd_before"] > 0.8
        assert r.balance["smd_after"].abs().max() < 0.1, r.balance
        assert (r.balance["var_ratio_after"] - 1).abs().max() < 0.25


def test_fe_on_matched_sample_recovers_planted_effect(panel, m11, m13, mseq):
    naive_b, _ = _fe(panel)
    assert naive_b - TAU > 0.03  # selection on trends: the full-panel FE estimate is biased
    for r in (m11, m13, mseq):
        b, se = _fe(r.sample, "psm_weight")
        assert abs(b - TAU) < 0.012, (b, se)
        assert abs(b - TAU) < abs(naive_b - TAU) / 3


def test_groups_and_counts(panel, m11):
    n_treated = panel.filter(pl.col("platform") == 1)["firm_id"].n_unique()
    assert m11.n_treated == n_treated
    assert m11.n_matched + sum(m11.n_unmatched.values()) == m11.n_treated
    s = m11.sample
    # treated firms are ever-users, matched controls never use the platform
    assert (
        s.filter(pl.col("psm_group") == 0)["join_year"].null_count()
        == s.filter(pl.col("psm_group") == 0).height
    )
    # every firm-year of each matched firm is in the sample
    firms = s["firm_id"].unique()
    assert s.height == panel.filter(pl.col("firm_id").is_in(firms.implode())).height
    # reference year = the year before adoption (panel is complete here)
    ref = m11.pairs.join(
        panel.select("firm_id", "join_year").unique(), left_on="treated", right_on="firm_id"
    )
    assert (ref["year"] == ref["join_year"] - 1).all()
    # ATT weights of the controls sum to the number of matched treated
    w = s.filter(pl.col("psm_group") == 0).unique("firm_id")["psm_weight"].sum()
    assert w == pytest.approx(m11.n_matched)


# ----------------------------------------------------------------------------- the algorithm


def test_nearest_neighbours_equal_exhaustive_search(panel, m13):
    # recompute the pool's logit score exactly as match() does, then search exhaustively
    pt = m13.pairs.unique("treated").select("treated", "year", "logit_treated")
    ctrl = panel.filter(pl.col("join_year").is_null()).join(
        pt.select(pl.col("year").unique()), on="year", how="semi"
    )
    pool = pl.concat(
        [
            panel.join(
                pt, left_on=["firm_id", "year"], right_on=["treated", "year"], how="semi"
            ).with_columns(pl.lit(1).alias("_t")),
            ctrl.with_columns(pl.lit(0).alias("_t")),
        ]
    )
    lg = propensity_score(pool, "_t", PSM_COVARIATES, by=["year"], logit=True).to_numpy()
    pool = pool.with_columns(pl.Series("lg", lg))
    ctl = pool.filter(pl.col("_t") == 0)
    by_year = {
        y: (g["lg"].to_numpy(), g["firm_id"].to_numpy()) for (y,), g in ctl.group_by(["year"])
    }
    got = m13.pairs.group_by("treated").agg(pl.col("distance").sort(), pl.col("year").first())
    rows = got.sample(n=200, seed=1).iter_rows(named=True)
    for row in rows:
        t_lg = pt.filter(pl.col("treated") == row["treated"])["logit_treated"][0]
        c_lg, _ = by_year[row["year"]]
        best = np.sort(np.abs(c_lg - t_lg))[:3]
        np.testing.assert_allclose(row["distance"], best, rtol=1e-7, atol=1e-8)


def test_one_to_three_uses_three_distinct_controls(m13):
    per = m13.pairs.group_by("treated").agg(
        pl.len().alias("n"),
        pl.col("control").n_unique().alias("nu"),
        pl.col("rank").sort().alias("ranks"),
        pl.col("distance").sort_by("rank").alias("d"),
    )
    assert (per["n"] == 3).all() and (per["nu"] == 3).all()
    assert all(r == [1, 2, 3] for r in per["ranks"].to_list())
    assert all(np.all(np.diff(d) >= 0) for d in per["d"].to_list())
    assert m13.diagnostics["matches_per_treated"] == [(3, m13.n_matched)]


def test_sequential_matching_never_crosses_cells(panel, mseq):
    keys = panel.select("firm_id", "year", "province_code", "ind2")
    p = mseq.pairs.join(keys, left_on=["treated", "year"], right_on=["firm_id", "year"]).join(
        keys, left_on=["control", "year"], right_on=["firm_id", "year"], suffix="_c"
    )
    assert p.height == mseq.pairs.height
    assert (p["province_code"] == p["province_code_c"]).all()
    assert (p["ind2"] == p["ind2_c"]).all()
    assert (p["level"] == 0).all()


def test_deterministic_for_a_seed_and_ties_use_the_seed():
    # every control duplicated 4 times (identical covariates): each treated has tied neighbours
    base = add_psm_covariates(simulate(n_firms=1500, seed=7))
    ctrl = base.filter(pl.col("join_year").is_null())
    copies = [
        ctrl.with_columns((pl.col("firm_id") + 10_000 * (i + 1)).alias("firm_id")) for i in range(3)
    ]
    df = pl.concat([base, *copies])
    a = match(df, treat="platform", covariates=PSM_COVARIATES, k=1, seed=11)
    b = match(
        df.sample(fraction=1.0, shuffle=True, seed=3),
        treat="platform",
        covariates=PSM_COVARIATES,
        k=1,
        seed=11,
    )
    c = match(df, treat="platform", covariates=PSM_COVARIATES, k=1, seed=12)
    assert a.pairs.equals(b.pairs)  # same seed, row order irrelevant
    assert a.sample.equals(b.sample)
    assert not a.pairs["control"].equals(c.pairs["control"])  # ties broken by the seed
    np.testing.assert_allclose(a.pairs["distance"], c.pairs["distance"], atol=1e-12)
    # the chosen twin is spread over the copies, not always the first
    assert (a.pairs["control"] // 10_000).n_unique() == 4


def test_cell_without_controls_is_counted_and_fallback_matches():
    df = add_psm_covariates(simulate(n_firms=2000, seed=4))
    # a province-industry cell where every firm adopts: its treated have no control
    lonely = df.filter(pl.col("join_year").is_not_null())["firm_id"].unique().sort()[:25]
    df = df.with_columns(
        pl.when(pl.col("firm_id").is_in(lonely.implode()))
        .then(pl.lit("99"))
        .otherwise(pl.col("province_code"))
        .alias("province_code")
    )
    r = match(df, treat="platform", covariates=PSM_COVARIATES, exact=["province_code", "ind2"])
    assert r.n_unmatched == {"no_control_in_cell": 25}
    assert r.n_matched == r.n_treated - 25
    assert r.diagnostics["treated_cells_without_controls"][0] > 0
    assert set(r.unmatched["firm_id"].to_list()) == set(lonely.to_list())
    f = match(
        df,
        treat="platform",
        covariates=PSM_COVARIATES,
        exact=["province_code", "ind2"],
        fallback=[["ind2"]],
    )
    assert f.n_unmatched == {} and f.n_matched == f.n_treated
    lv = f.pairs.filter(pl.col("level") == 1)["treated"].sort()
    assert lv.to_list() == lonely.to_list()


def test_caliper_and_missing_covariates():
    df = add_psm_covariates(simulate(n_firms=2000, seed=5))
    first_t = df.filter(pl.col("join_year").is_not_null()).sort("firm_id")["firm_id"][0]
    df = df.with_columns(
        pl.when(pl.col("firm_id") == first_t).then(None).otherwise(pl.col("tfp_lp")).alias("tfp_lp")
    )
    r = match(df, treat="platform", covariates=PSM_COVARIATES, k=1, caliper=0.01)
    width = r.diagnostics["caliper_width"]
    assert width == pytest.approx(0.01 * r.diagnostics["sd_logit"])
    assert r.pairs["distance"].max() <= width
    assert r.n_unmatched["missing_covariates"] == 1
    assert r.n_unmatched.get("caliper", 0) > 0
    assert r.n_matched + sum(r.n_unmatched.values()) == r.n_treated


def test_group_definitions_and_reference_year_fallback():
    df = add_psm_covariates(simulate(n_firms=1500, seed=6))
    # firm A: joins in 2012, after the sample ends -> a control (never a user in the period)
    # firm B: joins in 2005 but leaves the panel in 2004 -> neither group
    # firm C: on the platform from its first year -> no pre-adoption year
    ctrl = df.filter(pl.col("join_year").is_null())["firm_id"].unique().sort()
    a_id, b_id = ctrl[0], ctrl[1]
    c_id = df.filter(pl.col("join_year").is_not_null())["firm_id"].unique().sort()[0]
    df = df.with_columns(
        pl.when(pl.col("firm_id") == a_id)
        .then(2012)
        .when(pl.col("firm_id") == b_id)
        .then(2005)
        .when(pl.col("firm_id") == c_id)
        .then(1999)
        .otherwise(pl.col("join_year"))
        .alias("join_year")
    ).with_columns(
        pl.when(pl.col("firm_id") == c_id).then(1).otherwise(pl.col("platform")).alias("platform")
    )
    df = df.filter(~((pl.col("firm_id") == b_id) & (pl.col("year") >= 2005)))
    r = match(df, treat="platform", covariates=PSM_COVARIATES)
    assert r.diagnostics["excluded_joined_unobserved"] == 1
    assert r.diagnostics["ref_first_observed"] == 1
    assert b_id not in r.pairs["control"].to_list()
    c_pair = r.pairs.filter(pl.col("treated") == c_id)
    assert c_pair["year"].to_list() == [2001]
    assert (
        r.diagnostics["n_control_units"]
        == df.filter(pl.col("join_year").is_null() | (pl.col("join_year") > 2007))[
            "firm_id"
        ].n_unique()
    )
    strict = match(df, treat="platform", covariates=PSM_COVARIATES, ref_fallback=False)
    assert strict.n_unmatched == {"no_pre_adoption_year": 1}


def test_missing_exact_key_is_not_a_cell():
    df = add_psm_covariates(simulate(n_firms=1500, seed=8))
    t_id = df.filter(pl.col("join_year").is_not_null())["firm_id"].unique().sort()[0]
    c_ids = df.filter(pl.col("join_year").is_null())["firm_id"].unique().sort()[:50]
    df = df.with_columns(
        pl.when(pl.col("firm_id").is_in([t_id, *c_ids.to_list()]))
        .then(None)
        .otherwise(pl.col("province_code"))
        .alias("province_code")
    )
    r = match(df, treat="platform", covariates=PSM_COVARIATES, exact=["province_code", "ind2"])
    assert r.n_unmatched == {"missing_exact_key": 1}
    assert r.unmatched["firm_id"].to_list() == [t_id]
    assert not r.pairs["control"].is_in(c_ids.implode()).any()


def test_cell_with_fewer_controls_than_k_gives_fewer_matches():
    df = add_psm_covariates(simulate(n_firms=1500, seed=9))
    t_id = df.filter(pl.col("join_year").is_not_null())["firm_id"].unique().sort()[0]
    c_ids = df.filter(pl.col("join_year").is_null())["firm_id"].unique().sort()[:2]
    df = df.with_columns(
        pl.when(pl.col("firm_id").is_in([t_id, *c_ids.to_list()]))
        .then(pl.lit("77"))
        .otherwise(pl.col("province_code"))
        .alias("province_code"),
        pl.when(pl.col("firm_id").is_in([t_id, *c_ids.to_list()]))
        .then(pl.lit("13"))
        .otherwise(pl.col("ind2"))
        .alias("ind2"),
    )
    r = match(df, treat="platform", covariates=PSM_COVARIATES, k=3, exact=["province_code", "ind2"])
    got = r.pairs.filter(pl.col("treated") == t_id)
    assert sorted(got["control"].to_list()) == sorted(c_ids.to_list())
    assert (2, 1) in r.diagnostics["matches_per_treated"]
    w = r.sample.filter(pl.col("firm_id").is_in(c_ids.implode())).unique("firm_id")["psm_weight"]
    assert w.to_list() == [0.5, 0.5]

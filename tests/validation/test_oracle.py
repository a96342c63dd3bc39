"""Oracle tables: the paper's specifications on the world's true data (the scorecard's
like-for-like truth; its use there: tests/validation/test_scorecard.py)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cbec.validation.oracle import oracle_sample, oracle_table, realized_interactions

COMMON = {
    "fixed_effects": ["firm_id", "ind2^year", "city_code^year"],
    "cluster": "firm_id",
    "controls": ["lnqygm"],
    "min_firms": 10,
    "wild_bootstrap": {"reps": 9, "weights": "webb", "method": "exact"},
}


def _world(n_firms: int = 600, years: int = 8, seed: int = 3):
    """A panel whose measured CU is a compressed, noisy reading of the true u (slope 0.5),
    with staggered adoption; the truth knows every row but one firm's."""
    rng = np.random.default_rng(seed)
    firm = np.repeat(np.arange(n_firms), years)
    year = np.tile(np.arange(2001, 2001 + years), n_firms)
    join = rng.integers(2002, 2001 + 2 * years, n_firms)[firm]
    plat = (year >= join).astype(np.int8)
    u = 0.7 + rng.normal(0, 0.05, n_firms)[firm] + 0.09 * plat + rng.normal(0, 0.03, firm.size)
    cu = 0.2 + 0.5 * u + rng.normal(0, 0.01, firm.size)
    ln_x = 1.0 + 0.25 * plat + rng.normal(0, 0.2, firm.size)
    sample = pl.DataFrame(
        {
            "firm_id": firm + 100,
            "year": year,
            "ind2": (firm % 3).astype(str),
            "city_code": (firm % 5).astype(str),
            "cu": cu,
            "cu_sfa_cd": cu,
            "ln_export": np.where(rng.random(firm.size) < 0.05, np.nan, ln_x - 0.1),
            "lnqygm": rng.normal(2, 1, firm.size),
            "platform": plat,
        }
    ).with_columns(pl.col("ln_export").fill_nan(None))
    row = np.arange(firm.size)
    panel = pl.DataFrame({"row_id": year * 10_000_000 + row, "year": year, "firm_id": firm + 100})
    fy = pl.DataFrame(
        {
            "true_firm": firm,
            "year": year,
            "asif_row": row,
            "u": u,
            "export_usd": np.exp(ln_x),
            "n_markets": np.ones(firm.size, dtype=np.int64),
            "n_products": np.ones(firm.size, dtype=np.int64),
            "newprod_share": np.zeros(firm.size),
            "platform": plat.astype(bool),
            "platform_mic": np.zeros(firm.size, dtype=bool),
        }
    ).filter(pl.col("true_firm") != 0)  # the truth does not know firm 0's rows
    return sample, panel, fy


def test_oracle_sample_replaces_the_outcome_and_keeps_the_rows():
    sample, panel, fy = _world()
    # one row mislinked: the pipeline says treated, the truth not
    sample = sample.with_columns(
        pl.when((pl.col("firm_id") == 101) & (pl.col("year") == 2001))
        .then(1)
        .otherwise(pl.col("platform"))
        .cast(pl.Int8)
        .alias("platform")
    )
    df, dropped = oracle_sample(sample, panel, fy)
    assert dropped == 8 and df.height == sample.height - 8
    assert df.columns == sample.columns  # no helper columns left behind
    joined = df.join(fy.with_columns(pl.col("true_firm") + 100), left_on=["firm_id", "year"],
                     right_on=["true_firm", "year"])  # fmt: skip
    assert np.allclose(joined["cu"], joined["u"])  # measured CU replaced by the true u
    assert (joined["platform"] == joined["platform_right"].cast(pl.Int8)).all()
    # the true outcome only where the pipeline's variable exists (same rows per column)
    known = sample.filter(pl.col("firm_id") != 100)
    assert df["ln_export"].null_count() == known["ln_export"].null_count() > 0
    assert df["cu_sfa_cd"].equals(known["cu_sfa_cd"])  # no true counterpart: untouched


def test_oracle_table_is_the_same_specification_on_true_data():
    sample, panel, fy = _world()
    df, _ = oracle_sample(sample, panel, fy)
    spec = {
        "kind": "feols",
        "columns": [
            {"depvar": "cu", "treatment": "platform", "controls": True, "wild_bootstrap": True},
            {"depvar": "cu_sfa_cd", "treatment": "platform", "controls": True},
            {"depvar": "ln_export", "treatment": "platform", "controls": True},
        ],
    }
    out = oracle_table(df, spec, COMMON, "t")
    cu, sfa, lx = out["columns"]
    assert sfa is None  # no like-for-like truth for an SFA measure
    # the columns keep the table's labels (log lines name the table's columns)
    assert (cu["label"], lx["label"]) == ("(1)", "(3)")
    # measured CU has slope 0.5 on u: the pipeline's 0.045, the oracle the planted 0.09
    assert cu["coef"]["platform"]["b"] == pytest.approx(0.09, abs=0.006)
    assert "wild_p" not in cu["stats"]
    assert lx["coef"]["platform"]["b"] == pytest.approx(0.25, abs=0.03)
    assert (
        lx["nobs"]
        == sample.filter((pl.col("firm_id") != 100) & pl.col("ln_export").is_not_null()).height
    )


def test_realized_interactions_are_the_group_difference_of_realized_effects():
    fy = pl.DataFrame(
        {
            "true_firm": [1, 1, 2, 2, 3, 4],
            "year": [2005, 2009, 2005, 2006, 2005, 2005],
            "in_asif": [True, True, True, True, True, True],
            "platform": [True, True, True, True, False, True],
            "tau_cu": [0.10, 0.90, 0.06, 0.08, 0.0, 0.5],  # 2009 excluded; firm 4 no exporter
        }
    )
    firms = pl.DataFrame(
        {
            "true_firm": [1, 2, 3, 4],
            "exporter": [True, True, True, False],
            "high_ict": [True, False, True, True],
            "early": [True, True, False, False],
            "high_score": [False, False, False, False],
        }
    )
    out = realized_interactions(fy, firms, [2008, 2009, 2010])
    assert out["sfhighict"]["difference"] == pytest.approx(0.10 - 0.07)
    assert out["sfhighict"]["group0"] == pytest.approx(0.07)
    assert out["sfold"]["group0"] is None and out["sfold"]["difference"] is None
    assert out["sfhighscore"]["group1"] is None


# ---------------------------------------------------------------- Table 4 (matching) oracle

PSM_SPEC = {
    "kind": "psm",
    "covariates": ["tfp_lp", "asset_turnover", "leverage", "ln_assets", "ind_conc"],
    "columns": [
        {"depvar": "cu", "treatment": "platform", "controls": True, "k": 1},
        {"depvar": "cu", "treatment": "platform", "controls": True, "k": 3},
        {"depvar": "cu", "treatment": "platform", "controls": True, "k": 1,
         "exact": ["province_code", "ind2"]},
    ],
}  # fmt: skip
PSM_COMMON = {"fixed_effects": ["firm_id", "year"], "cluster": "firm_id", "controls": []}


def _psm_world(measured_is_truth: bool):
    """A matching panel (tests/analysis/test_psm.py) as the truth, and the pipeline's reading
    of it: unless ``measured_is_truth``, a compressed noisy CU, a tenth of the members
    missed, some never-members linked by mistake and some join years read a year late."""
    from analysis.test_psm import simulate

    true = simulate(n_firms=900, seed=11).with_columns(pl.col("firm_id") + 100)
    rng = np.random.default_rng(5)
    n = true["firm_id"].n_unique()
    ever = true.group_by("firm_id").agg(pl.col("join_year").min()).sort("firm_id")
    draw = pl.DataFrame({"firm_id": ever["firm_id"], "r": rng.random(n)}).join(ever, on="firm_id")
    wrong = draw.select(
        "firm_id",
        pl.when(pl.col("join_year").is_not_null() & (pl.col("r") < 0.1))
        .then(None)  # missed member
        .when(pl.col("join_year").is_null() & (pl.col("r") < 0.03))
        .then(2004)  # a never-member linked by mistake
        .when(pl.col("r") > 0.8)
        .then(pl.col("join_year") + 1)  # "N YRS" one year short
        .otherwise(pl.col("join_year"))
        .alias("m_join"),
    )
    measured = (
        true.join(wrong, on="firm_id")
        .with_columns(
            pl.col("m_join").alias("join_year"),
            (pl.col("year") >= pl.col("m_join")).fill_null(False).cast(pl.Int8).alias("platform"),
            (0.2 + 0.5 * pl.col("cu") + 0.01 * pl.Series(rng.normal(size=true.height))).alias("cu"),
        )
        .drop("m_join")
    )
    sample = true if measured_is_truth else measured
    row = np.arange(true.height)
    panel = true.select("firm_id", "year", pl.Series("row_id", true["year"] * 10_000_000 + row))
    fy = true.select(
        pl.col("firm_id").alias("true_firm"),
        "year",
        pl.Series("asif_row", row),
        pl.col("cu").alias("u"),
        pl.lit(1.0).alias("export_usd"),
        pl.lit(1).alias("n_markets"),
        pl.lit(1).alias("n_products"),
        pl.lit(0.0).alias("newprod_share"),
        pl.col("platform").cast(pl.Boolean),
        pl.lit(False).alias("platform_mic"),
    )
    firms = true.group_by("firm_id").agg(pl.col("join_year").min()).rename({"firm_id": "true_firm"})
    return true, sample, panel, fy, firms


def _coefs(table: dict) -> np.ndarray:
    """(b, s.e., N) of the platform coefficient per column."""
    return np.array([(c["coef"]["platform"]["b"], c["coef"]["platform"]["se"], c["nobs"])
                     for c in table["columns"]])  # fmt: skip


@pytest.mark.parametrize("measured_is_truth", [True, False])
def test_table4_oracle_is_the_matching_run_again_on_true_data(measured_is_truth):
    from cbec.tables.psm_table import psm_table

    true, sample, panel, fy, firms = _psm_world(measured_is_truth)
    df, dropped = oracle_sample(sample, panel, fy, firms)
    assert dropped == 0
    oracle = oracle_table(df, PSM_SPEC, PSM_COMMON, "table4", seed=3)
    # the same matching and regression on the truth itself (re-matched on the true status)
    expected = psm_table(true, PSM_SPEC, PSM_COMMON, "table4", seed=3)
    np.testing.assert_allclose(_coefs(oracle), _coefs(expected), rtol=1e-9)
    ours = psm_table(sample, PSM_SPEC, PSM_COMMON, "table4", seed=3)
    if measured_is_truth:  # measured data equal to the truth: the oracle is our Table 4
        np.testing.assert_allclose(_coefs(oracle), _coefs(ours), rtol=1e-9)
    else:  # the mismeasured world: ours attenuated (CU slope 0.5), the oracle not
        for (bo, _, no), (bu, _, nu) in zip(_coefs(oracle), _coefs(ours), strict=True):
            assert bu < 0.7 * bo and no != nu


def test_outcome_only_sample_keeps_our_treatment_and_the_same_rows():
    from cbec.validation.oracle import oracle_tables

    sample, panel, fy = _world()
    flip = (pl.col("firm_id") % 7 == 0) & (pl.col("year") >= 2005)  # links wrong for some
    sample = sample.with_columns(
        pl.when(flip).then(1 - pl.col("platform")).otherwise(pl.col("platform")).alias("platform")
    )
    full, _ = oracle_sample(sample, panel, fy)
    only, dropped = oracle_sample(sample, panel, fy, treatment=False)
    assert dropped == 8 and only.select("firm_id", "year").equals(full.select("firm_id", "year"))
    assert only["cu"].equals(full["cu"])  # the true outcome in both
    ours = sample.filter(pl.col("firm_id") != 100)
    assert only["platform"].equals(ours["platform"]) and not full["platform"].equals(
        ours["platform"]
    )
    spec = {"kind": "feols", "columns": [{"depvar": "cu", "treatment": "platform"}]}
    out = oracle_tables(full, {"table2": spec}, COMMON, dropped, outcome_only=only)
    b_full = out["tables"]["table2"]["columns"][0]["coef"]["platform"]["b"]
    b_only = out["tables_true_outcome"]["table2"]["columns"][0]["coef"]["platform"]["b"]
    assert b_full == pytest.approx(0.09, abs=0.006) and b_only < b_full - 0.01


def test_oracle_table_jobs_gather_into_the_tables_of_one_job():
    """One job per table (oracle_part), put together (gather_oracle_tables): the same JSON,
    byte for byte, as the tables estimated in one job (oracle_tables); parts on different
    rows are refused."""
    import json

    from cbec.validation.oracle import gather_oracle_tables, oracle_part, oracle_tables

    sample, panel, fy = _world(n_firms=300)
    full, dropped = oracle_sample(sample, panel, fy)
    only, _ = oracle_sample(sample, panel, fy, treatment=False)
    # a table the oracle skips (2SLS), a psm-less pair of OLS tables, in the config's order
    specs = {
        "table3": {"kind": "feols", "columns": [{"depvar": "ln_export", "treatment": "platform"}]},
        "table2": {"kind": "feols", "columns": [{"depvar": "cu", "treatment": "platform"}]},
        "table5": {"kind": "feols", "columns": [{"depvar": "cu", "treatment": "platform"}]},
    }
    whole = oracle_tables(full, specs, COMMON, dropped, outcome_only=only)
    names = ["table2", "table3"]
    parts = {n: oracle_part(full, only, specs[n], COMMON, n, dropped) for n in names}
    realized = {"sfold": {"group1": 0.1, "group0": None, "difference": None}}
    gathered = gather_oracle_tables(parts, realized)
    assert json.dumps(gathered) == json.dumps({**whole, "realized_interactions": realized})
    parts["table3"] = {**parts["table3"], "rows": full.height - 1}
    with pytest.raises(ValueError, match="different rows"):
        gather_oracle_tables(parts)

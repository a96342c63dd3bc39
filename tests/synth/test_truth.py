"""Truth consistency and the planted effects (oracle regressions on the truth)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pyfixest as pf
import pytest

from cbec.synth.writer import asif_headers

EXCLUDED = [2008, 2009, 2010]


def _analysis(raw, truth) -> pl.DataFrame:
    fy = pl.read_parquet(truth / "firm_year.parquet")
    firms = pl.read_parquet(truth / "firms.parquet")
    return (
        fy.join(firms.select("true_firm", "exporter", "ind2", "city_code"), on="true_firm")
        .filter(pl.col("in_asif") & pl.col("exporter") & ~pl.col("year").is_in(EXCLUDED))
        .with_columns(pl.col("platform").cast(pl.Float64), pl.col("platform_mic").cast(pl.Float64))
    )


def test_every_asif_row_maps_to_one_true_firm(tiny_world):
    raw, truth, _ = tiny_world
    fy = pl.read_parquet(truth / "firm_year.parquet")
    for year in range(2001, 2016):
        df = pl.read_parquet(raw / "asif" / f"asif_{year}.parquet")
        code = asif_headers(year)["firm_code"]
        t = fy.filter((pl.col("year") == year) & pl.col("in_asif"))
        assert t["asif_row"].null_count() == 0
        assert sorted(t["asif_row"].to_list()) == list(range(df.height))  # a bijection
        assert t["true_firm"].n_unique() == t.height
        raw_codes = df[code].gather(t["asif_row"]).to_list()
        assert raw_codes == t["firm_code"].to_list()  # code as written that year
        # (year, 法人代码) identifies the firm except for rare duplicated codes
        assert df[code].n_unique() >= 0.99 * df.height
    assert (
        fy.filter(~pl.col("in_asif"))["asif_row"].null_count()
        == fy.filter(~pl.col("in_asif")).height
    )


def test_ids_and_names_change(tiny_world):
    _, truth, _ = tiny_world
    fy = pl.read_parquet(truth / "firm_year.parquet").filter(pl.col("in_asif"))
    changed = fy.group_by("true_firm").agg(
        pl.col("firm_code").str.replace("-", "").n_unique().alias("k")
    )
    share = (changed["k"] > 1).mean()
    assert 0.02 < share < 0.2


def test_customs_and_member_truth(tiny_world):
    raw, truth, _ = tiny_world
    parties = pl.read_parquet(truth / "customs_parties.parquet")
    for year in (2002, 2013):
        df = pl.read_parquet(raw / "customs" / f"customs_{year}.parquet")
        codes = set(df[df.columns[0]].unique())
        t = parties.filter(pl.col("year") == year)
        assert codes == set(t["party_code"]) and t["party_code"].n_unique() == t.height
        inter = t.filter(pl.col("kind") == "intermediary")
        assert inter["true_firm"].null_count() == inter.height and inter.height > 0.15 * t.height
    mem = pl.read_parquet(truth / "members.parquet")
    firms = pl.read_parquet(truth / "firms.parquet")
    for lst in ("alibaba", "mic"):
        df = pl.read_parquet(raw / "members" / f"{lst}.parquet")
        m = mem.filter(pl.col("list") == lst)
        assert set(df[df.columns[0]]) == set(m["member_id"]) and m.height == df.height
        assert (
            m.filter(pl.col("kind") != "manufacturer")["true_firm"].null_count()
            == m.filter(pl.col("kind") != "manufacturer").height
        )
        assert (m["kind"] == "branch").sum() > 0 and m["unmatchable"].sum() > 0
    # listed manufacturers are true members with the join year of the truth
    ali = mem.filter((pl.col("list") == "alibaba") & (pl.col("kind") == "manufacturer")).join(
        firms.select("true_firm", pl.col("join_year").alias("jy")), on="true_firm"
    )
    assert (ali["join_year"] == ali["jy"]).all()


def test_adoption_share_and_calibration(tiny_world):
    raw, truth, _ = tiny_world
    a = _analysis(raw, truth)
    assert abs(a["platform"].mean() - 0.1026) < 0.005
    assert abs(a["u"].mean() - 0.7381) < 0.005
    assert 0.10 < a["u"].std() < 0.15
    p = json.loads((truth / "params.json").read_text())
    # default calibrate_to: twfe -> the paper's TWFE on the true u gives tau_cu exactly
    assert abs(p["calibration"]["utilization"]["oracle_twfe_alibaba"] - 0.09) < 1e-3
    # absorbing: platform never switches off
    fy = pl.read_parquet(truth / "firm_year.parquet").sort("true_firm", "year")
    back = fy.with_columns(d=pl.col("platform").diff().over("true_firm")).filter(pl.col("d") < 0)
    assert back.height == 0


@pytest.fixture(scope="module")
def small_analysis(small_world):
    raw, truth = small_world
    return _analysis(raw, truth).to_pandas()


def test_oracle_fe_recovers_planted_effect(small_analysis):
    fit = pf.feols(
        "u ~ platform | true_firm + ind2^year + city_code^year",
        data=small_analysis,
        vcov={"CRV1": "true_firm"},
    )
    b, se = fit.coef()["platform"], fit.se()["platform"]
    assert abs(b - 0.09) < max(1.96 * se, 0.01), (b, se)
    fit2 = pf.feols(
        "u ~ platform + platform_mic | true_firm + ind2^year + city_code^year",
        data=small_analysis,
        vcov={"CRV1": "true_firm"},
    )
    bm, sem = fit2.coef()["platform_mic"], fit2.se()["platform_mic"]
    assert abs(bm - 0.045) < max(1.96 * sem, 0.01), (bm, sem)


def test_pooled_ols_biased_upward(small_analysis):
    fe = pf.feols(
        "u ~ platform | true_firm + ind2^year + city_code^year", data=small_analysis
    ).coef()["platform"]
    pooled = pf.feols("u ~ platform", data=small_analysis, vcov="hetero")
    b = pooled.coef()["platform"]
    assert b > 0.09 + 0.015 and b > fe + 0.015, (b, fe)


def test_other_planted_effects(small_analysis):
    df = small_analysis.copy()
    df["ln_export"] = np.log(df["export_usd"])
    df["ln_markets"] = np.log(df["n_markets"])
    for dep, tau, tol in [
        ("ln_export", 0.257, 0.05),
        ("omega", 0.13, 0.03),
        ("newprod_share", 0.106, 0.02),
    ]:
        b = pf.feols(f"{dep} ~ platform | true_firm + ind2^year + city_code^year", data=df).coef()[
            "platform"
        ]
        assert abs(b - tau) < tol, (dep, b)
    b = pf.feols("ln_markets ~ platform | true_firm + ind2^year + city_code^year", data=df).coef()[
        "platform"
    ]
    assert 0.12 < b < 0.3


def test_calibrate_to_twfe(tmp_path):
    """With effects.calibrate_to = twfe the paper's TWFE on the true u gives tau_cu."""
    from cbec.synth import generate

    params = {"presets": {"tiny": {"n_firms_2001": 1500}}, "effects": {"calibrate_to": "twfe"}}
    generate(params, "tiny", 11, tmp_path / "raw", tmp_path / "truth")
    cal = json.loads((tmp_path / "truth" / "params.json").read_text())["calibration"]["utilization"]
    assert abs(cal["oracle_twfe_alibaba"] - 0.09) < 1e-6
    assert abs(cal["oracle_twfe_mic"] - 0.045) < 1e-6
    df = _analysis(tmp_path / "raw", tmp_path / "truth").to_pandas()
    fit = pf.feols("u ~ platform + platform_mic | true_firm + ind2^year + city_code^year", data=df)
    # pyfixest drops singleton fixed effects, the generator's projection keeps them
    assert abs(fit.coef()["platform"] - 0.09) < 0.003


def test_dynamic_slope(tmp_path):
    """dynamic_slope makes the effect grow with years since joining; the ATT stays tau_cu."""
    from cbec.synth import generate

    generate(
        # without the idiosyncratic firm effect of the platform: it pushes more treated
        # firm-years to the upper bound of u, where growth of the effect is clipped
        # (realized slope 0.006 at the default tau_cu_sd 0.15)
        {"effects": {"dynamic_slope": 0.01, "calibrate_to": "att", "tau_cu_sd": 0.0}},
        "tiny",
        5,
        tmp_path / "raw",
        tmp_path / "truth",
    )
    fy = pl.read_parquet(tmp_path / "truth" / "firm_year.parquet").join(
        pl.read_parquet(tmp_path / "truth" / "firms.parquet").select("true_firm", "join_year"),
        on="true_firm",
    )
    tr = fy.filter(pl.col("platform") == 1).with_columns(since=pl.col("year") - pl.col("join_year"))
    slope = np.polyfit(tr["since"].to_numpy(), tr["tau_cu"].to_numpy(), 1)[0]
    assert 0.007 < slope < 0.012
    cal = json.loads((tmp_path / "truth" / "params.json").read_text())["calibration"]["utilization"]
    assert abs(cal["realized_att_alibaba"] - 0.09) < 1e-4

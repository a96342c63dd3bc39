"""Panel construction: perpetual inventory dated for production."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cbec.data.panel import (
    IDENTIFIERS,
    LEVEL_STEP,
    assemble_panel,
    capital_counts,
    perpetual_inventory,
    sort_firm_year,
)


def test_perpetual_inventory_with_gap_and_deflator():
    df = pl.DataFrame(
        {
            "firm_id": [1, 1, 1, 2, 2],
            "year": [2001, 2002, 2003, 2001, 2003],
            "fixed_assets_orig": [120.0, 170.0, 170.0, 220.0, 280.0],
            "fixed_assets_net": [100.0, 140.0, 130.0, 200.0, 230.0],
            "capital_deflator": [1.0, 1.0, 1.0, 1.0, 2.0],
        }
    )
    out = perpetual_inventory(df, delta=0.09).sort(["firm_id", "year"])
    k_end = out["real_capital_end"].to_list()
    k = out["real_capital"].to_list()
    # firm 1: starts from net assets; invests 50 in 2002, nothing in 2003
    assert k_end[0] == pytest.approx(100)
    assert k_end[1] == pytest.approx(0.91 * 100 + 50)
    assert k_end[2] == pytest.approx(0.91 * (0.91 * 100 + 50))
    # production uses the stock at the start of the year (last year's end stock)
    assert k[0] == pytest.approx(100)
    assert k[1] == pytest.approx(100)
    assert k[2] == pytest.approx(0.91 * 100 + 50)
    # firm 2: a missing year depreciates the stock once more; deflated investment
    assert k_end[4] == pytest.approx(0.91**2 * 200 + 60 / 2)
    assert k[4] == pytest.approx(0.91 * 200)
    inv = out["real_investment"].to_list()
    assert inv[0] is None and inv[1] == pytest.approx(50) and inv[2] is None
    assert not any(math.isnan(x) for x in k)


def test_assemble_panel_drops_the_identifiers():
    """After matching the firm is its firm_id: no name, code, legal rep, phone or zip."""
    names = ["宁波华东电子有限公司", "宁波振新五金厂"]
    phones = ["0574-87654321", "057487654322"]
    panel = pl.DataFrame(
        {
            "firm_id": [1, 1, 2],
            "year": [2001, 2002, 2001],
            "firm_code": ["12345678X", "12345678X", "87654321Y"],
            "firm_name": [names[0], names[0], names[1]],
            "legal_rep": ["张伟", "张伟", "李强"],
            "phone": [phones[0], phones[0], phones[1]],
            "zip": ["315800", "315800", "315000"],
            "ind2": ["39", "39", "34"],
            "city_code": ["3302"] * 3,
            "region_code": ["330206"] * 3,
            "main_product": ["电机", "电机", "五金"],
            "gross_output": [100.0, 120.0, 80.0],
            "value_added": [30.0, 35.0, None],
            "intermediate": [70.0, 85.0, 60.0],
            "fixed_assets_orig": [50.0, 60.0, 40.0],
            "fixed_assets_net": [40.0, 45.0, 30.0],
            "total_assets": [90.0, 100.0, 70.0],
            "found_year": [1995, 1995, 2000],
            "paidin_capital": [20.0, 20.0, 10.0],
            "cap_state": [0.0, 0.0, 6.0],
            "cap_hmt": [None, None, None],
            "cap_foreign": [10.0, 10.0, 0.0],
            "employees": [50.0, 55.0, 30.0],
            "interest": [1.0, 1.0, 0.5],
            "new_product": [0.0, 10.0, 0.0],
            "depreciation": [4.0, 5.0, 3.0],
        }
    )
    deflators = pl.DataFrame(
        {
            "ind2": ["39", "39", "34", "34", "K", "K"],
            "year": [2001, 2002, 2001, 2002, 2001, 2002],
            "output_deflator": [1.0, 1.1, 1.0, 1.05, 1.0, 1.02],
            "input_deflator": [1.0, 1.08, 1.0, 1.04, 1.0, 1.02],
        }
    )
    exports = pl.DataFrame(
        {"firm_id": [1], "year": [2002], "export_value": [5.0], "n_markets": [2], "n_products": [3]}
    )
    members = pl.DataFrame(
        {
            "member_id": ["M1"],
            "firm_id": [1],
            "join_year": [2002],
            "member_years": [23],
            "rating": [4.5],
        }
    )
    out = assemble_panel(
        panel,
        exports,
        members,
        members.clear(),
        deflators,
        pim_delta=0.09,
        foreign_includes_hmt=True,
    )
    assert out.height == panel.height
    assert not set(out.columns) & {"firm_code", "firm_name", "legal_rep", "phone", "zip"}
    assert not set(out.columns) & set(IDENTIFIERS)
    strings = {v for c in out.columns if out[c].dtype == pl.String for v in out[c].to_list()}
    assert not strings & {*names, *phones, "张伟", "李强", "12345678X", "315800"}
    # what the analysis needs is still there
    assert {"firm_id", "year", "ind2", "city_code", "region_code", "platform", "ln_va"} <= set(
        out.columns
    )
    assert out["platform"].to_list() == [0, 1, 0]


def _two_firms(dep_b3: float | None) -> pl.DataFrame:
    """Two firms of one industry, identical books except their depreciation: firm 2 runs
    its plant harder (book rate 0.15 against 0.05)."""
    orig = [100.0, 120.0, 150.0]
    dep_b = [15.0, 18.0, dep_b3]
    return pl.DataFrame(
        {
            "firm_id": [1, 1, 1, 2, 2, 2],
            "year": [2001, 2002, 2003] * 2,
            "ind2": ["31"] * 6,
            "fixed_assets_orig": orig * 2,
            "fixed_assets_net": [80.0, 90.0, 100.0] * 2,
            "depreciation": [5.0, 6.0, 7.5, *dep_b],
            "capital_deflator": [1.0, 1.0, 1.0] * 2,
        }
    )


def test_capital_in_use_depreciates_at_each_firms_book_rate():
    out = perpetual_inventory(_two_firms(22.5), delta=0.09, in_use=True).sort("firm_id", "year")
    k = out["real_capital_use"].to_numpy().reshape(2, 3)
    # both start from net assets (production in 2001 and 2002 uses 80); in 2002 the rates
    # 0.05 and 0.15 are scaled so that the industry's real depreciation equals its book
    # depreciation deflated: 6 + 18 = level * (0.05 + 0.15) * 80
    assert k[:, :2] == pytest.approx(np.full((2, 2), 80.0))
    level = 24.0 / (0.2 * 80.0)
    assert k[:, 2] == pytest.approx(
        [80.0 * (1 - 0.05 * level) + 20, 80.0 * (1 - 0.15 * level) + 20]
    )
    assert k[0, 2] > k[1, 2]  # the harder-run plant has less capital left
    # the fixed-rate stock ignores use: identical for both firms
    fixed = out["real_capital"].to_numpy().reshape(2, 3)
    assert fixed[0] == pytest.approx(fixed[1])


def test_capital_in_use_carries_the_last_rate_over_missing_depreciation():
    full = perpetual_inventory(_two_firms(22.5), delta=0.09, in_use=True)
    gap = perpetual_inventory(
        _two_firms(None).with_columns(
            pl.when(pl.col("year") == 2002)
            .then(None)
            .otherwise("depreciation")
            .alias("depreciation")
        ),
        delta=0.09,
        in_use=True,
    ).sort("firm_id", "year")
    k = gap["real_capital_use"].to_numpy().reshape(2, 3)
    # 2002 has no depreciation: each firm keeps its 2001 rate (5 + 15 = level * 0.2 * 80)
    level = 20.0 / (0.2 * 80.0)
    assert k[:, 2] == pytest.approx(
        [80.0 * (1 - 0.05 * level) + 20, 80.0 * (1 - 0.15 * level) + 20]
    )
    assert gap["real_capital_use"].is_not_null().all()
    assert full.height == gap.height


def _counted_firms() -> pl.DataFrame:
    """Firm 1: a book rate in 2007, none in 2008-2009 (ASIF), its original value missing in
    2010 (restart in 2010 and 2011: Δ original value unknown both years); firm 2 enters in
    2009 without a rate (pim_delta in 2009 and 2010, its own rate in 2011); firm 3 enters
    with net fixed assets of 0 (no ln_k_use)."""
    return pl.DataFrame(
        {
            "firm_id": [1] * 5 + [2] * 3 + [3],
            "year": [2007, 2008, 2009, 2010, 2011, 2009, 2010, 2011, 2011],
            "ind2": ["31"] * 9,
            "fixed_assets_orig": [100.0, 110.0, 120.0, None, 140.0, 50.0, 60.0, 70.0, 30.0],
            "fixed_assets_net": [80.0, 85.0, 90.0, 95.0, 100.0, 40.0, 45.0, 50.0, 0.0],
            "depreciation": [8.0, None, None, None, 12.0, None, None, 6.0, 3.0],
            "capital_deflator": [1.0] * 9,
        }
    )


def test_capital_counts_add_up_per_year():
    out = perpetual_inventory(_counted_firms(), delta=0.09, in_use=True, flags=True)
    c = {r["year"]: r for r in capital_counts(out).iter_rows(named=True)}
    assert [c[y]["firm_years"] for y in range(2007, 2012)] == [1, 1, 2, 2, 3]
    assert (c[2010]["start_restart"], c[2011]["start_restart"]) == (1, 1)
    assert (c[2009]["start_entry"], c[2011]["start_entry"]) == (1, 1)
    assert (c[2008]["rate_carried"], c[2009]["rate_carried"], c[2010]["rate_carried"]) == (1, 1, 1)
    # a new firm without a book rate is at pim_delta, and stays "default" until it has one
    assert (c[2009]["rate_default"], c[2010]["rate_default"]) == (1, 1)
    # 2011: firms 1 and 2 at their book rate; firm 3 has no stock to charge it on
    assert (c[2011]["rate_book"], c[2011]["rate_default"]) == (2, 1)
    assert c[2011]["k_use_missing"] == 1
    for r in c.values():
        n = r["firm_years"]
        assert r["start_entry"] + r["start_restart"] + r["continued"] == n
        assert r["rate_book"] + r["rate_carried"] + r["rate_default"] == n
    # the counted firm-years are those without a usable ln_k_use
    bad = out.filter(~pl.col("real_capital_use").log().is_finite())
    assert bad.height == sum(r["k_use_missing"] for r in c.values())
    # without flags the panel carries no bookkeeping columns
    plain = perpetual_inventory(_counted_firms(), delta=0.09, in_use=True)
    assert "pim_start" not in plain.columns and "pim_rate" not in plain.columns
    assert_frame_equal(
        plain.sort("firm_id", "year"), out.drop("pim_start", "pim_rate").sort("firm_id", "year")
    )


def test_default_rate_is_pim_delta_until_the_firms_own():
    out = perpetual_inventory(_counted_firms(), delta=0.09, in_use=True).sort("firm_id", "year")
    k = out.filter(pl.col("firm_id") == 2)["real_capital_use"].to_list()
    # enters 2009 at net 40; 2010: 40 * (1 - 0.09) + 10 at the end, used in 2011
    assert k[0] == pytest.approx(40.0) and k[1] == pytest.approx(40.0)
    assert k[2] == pytest.approx(40.0 * 0.91 + 10.0)


def _random_panel(seed: int, n_firms: int = 40) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A panel of firms with gaps (about one firm-year in five missing) and its deflators."""
    rng = np.random.default_rng(seed)
    firm, year = np.meshgrid(np.arange(1, n_firms + 1), np.arange(2001, 2006), indexing="ij")
    keep = rng.random(firm.size) > 0.2
    firm, year = firm.ravel()[keep], year.ravel()[keep]
    n = firm.size
    orig = 100 + rng.gamma(2.0, 50.0, n)

    def money(scale: float) -> np.ndarray:
        return rng.gamma(2.0, scale, n)

    panel = pl.DataFrame(
        {
            "firm_code": [f"{f:08d}X" for f in firm],
            "row_id": firm * 10_000 + year,  # a column no step reads: must stay with its row
            "firm_id": firm,
            "year": year,
            "ind2": np.where(firm % 2 == 0, "31", "39"),
            "gross_output": money(60.0),
            "value_added": np.where(rng.random(n) < 0.1, np.nan, money(20.0)),
            "intermediate": money(40.0),
            "fixed_assets_orig": orig,
            "fixed_assets_net": orig * rng.uniform(0.5, 0.9, n),
            "total_assets": money(100.0),
            "found_year": 1990 + firm % 10,
            "paidin_capital": money(20.0),
            "cap_state": money(5.0),
            "cap_hmt": money(2.0),
            "cap_foreign": money(5.0),
            "employees": money(30.0),
            "interest": money(1.0),
            "new_product": money(5.0),
            "depreciation": orig * rng.uniform(0.02, 0.2, n),
        }
    ).with_columns(pl.col("value_added").fill_nan(None))
    years = list(range(2001, 2006))
    deflators = pl.DataFrame(
        {
            "ind2": [i for i in ["31", "39", "K"] for _ in years],
            "year": years * 3,
            "output_deflator": rng.uniform(0.9, 1.3, 15),
            "input_deflator": rng.uniform(0.9, 1.3, 15),
        }
    )
    return panel, deflators


def test_assemble_panel_is_the_same_in_any_row_order():
    """Each step works on a few columns and sets its results beside the panel's: in any
    input order, every value stays with its firm-year and the panel comes out sorted."""
    panel, deflators = _random_panel(7)
    exports = panel.filter(pl.col("firm_id") % 3 == 0).select(
        "firm_id",
        "year",
        (pl.col("row_id") % 97 + 1.0).alias("export_value"),
        pl.lit(2).alias("n_markets"),
        pl.lit(3).alias("n_products"),
    )
    members = pl.DataFrame(
        {
            "member_id": ["M1", "M2"],
            "firm_id": [4, 9],
            "join_year": [2003, 2002],
            "member_years": [2, 3],
            "rating": [4.5, 3.0],
        }
    )
    args = (exports, members, members.clear(), deflators)
    kw = {"pim_delta": 0.09, "foreign_includes_hmt": True}
    out = assemble_panel(panel, *args, **kw)
    for seed in (1, 2):
        shuffled = panel.sample(fraction=1.0, shuffle=True, seed=seed)
        assert_frame_equal(assemble_panel(shuffled, *args, **kw), out)
    assert out.height == panel.height
    assert_frame_equal(out, out.sort("firm_id", "year"))
    assert (
        out["firm_id"].is_sorted()
        and (out["row_id"] == out["firm_id"] * 10_000 + out["year"]).all()
    )
    expected = panel.join(deflators, on=["ind2", "year"]).select(
        "row_id", (pl.col("gross_output") / pl.col("output_deflator")).alias("expected")
    )
    check = out.join(expected, on="row_id")
    assert (check["real_output"] == check["expected"]).all()
    # a firm's first year starts its stock from net fixed assets deflated
    first = out.filter(pl.col("year") == pl.col("year").min().over("firm_id"))
    assert first["real_capital"].to_numpy() == pytest.approx(
        (first["fixed_assets_net"] / first["capital_deflator"]).to_numpy()
    )
    exp = out.filter(pl.col("export_value").is_not_null())
    assert (exp["export_value"] == exp["row_id"] % 97 + 1.0).all()
    assert exp.height == exports.height
    assert out.filter(pl.col("firm_id") == 4)["platform"].to_list() == [
        int(y >= 2003) for y in out.filter(pl.col("firm_id") == 4)["year"]
    ]


def test_sort_firm_year_copies_only_when_unsorted():
    panel, _ = _random_panel(3, n_firms=5)
    ordered = panel.sort("firm_id", "year")
    assert sort_firm_year(ordered) is ordered
    for unsorted in (panel.sort("year", "firm_id"), ordered.reverse()):
        assert_frame_equal(sort_firm_year(unsorted), ordered)


def test_level_derivative_is_the_stocks_response_to_the_level_of_the_book_rates():
    out = perpetual_inventory(_two_firms(22.5), delta=0.09, in_use=True).sort("firm_id", "year")
    d = out["ln_k_use_dlevel"].to_numpy().reshape(2, 3)
    # 2001 and 2002 produce with the start value, which no rate has touched yet
    assert d[:, :2] == pytest.approx(np.zeros((2, 2)))
    # 2003: 80 (1 − r λ s) + 20 with λ = 24 / (0.2 · 80) and every rate times s = 1.01
    lam = 24.0 / (0.2 * 80.0)
    for i, r in enumerate([0.05, 0.15]):
        k1 = 80.0 * (1 - r * lam) + 20
        k2 = 80.0 * (1 - r * lam * (1 + LEVEL_STEP)) + 20
        assert d[i, 2] == pytest.approx((np.log(k2) - np.log(k1)) / np.log1p(LEVEL_STEP))
    # wear lowers the stock, the more so the harder the plant is run
    assert d[1, 2] < d[0, 2] < 0

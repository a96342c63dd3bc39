"""ASIF cleaning: each filter drops what it should, and the attrition table adds up."""

from __future__ import annotations

import polars as pl
import pytest

from cbec.data.clean import (
    ANALYSIS_VARS,
    check_attrition,
    check_city_codes,
    check_needed_vars,
    check_nonnegative,
    clean_asif_year,
    drop_summary_rows,
    number_rows,
    resolve_duplicates,
    shared_codes,
)
from cbec.data.io import load_dictionary
from cbec.errors import InputError


def _frame(n: int = 8) -> pl.DataFrame:
    spec = load_dictionary()["asif"]
    base = {c: [None] * n for c in spec}
    base.update(
        firm_code=[f"{i:09d}" for i in range(n)],
        firm_name=[f"企业{i}有限公司" for i in range(n)],
        region_code=["330201"] * n,
        industry_code=["3911"] * n,
        found_year=[2000] * n,
        found_month=[5] * n,
        employees=[50.0] * n,
        gross_output=[1000.0] * n,
        value_added=[300.0] * n,
        total_assets=[2000.0] * n,
        current_assets=[800.0] * n,
        fixed_assets_orig=[900.0] * n,
        fixed_assets_net=[700.0] * n,
        intermediate=[700.0] * n,
    )
    schema = {
        c: {"str": pl.String, "int": pl.Int64, "float": pl.Float64}[v["dtype"]]
        for c, v in spec.items()
    }
    return pl.DataFrame(base, schema=schema)


def test_each_filter_and_sums():
    df = _frame(8)
    df = df.with_columns(
        firm_name=pl.Series(["a", None, "c", "d", "e", "f", "g", "h"]),  # row 1 missing name
        employees=pl.Series([50.0, 50, 5, 50, 50, 50, 50, 50]),  # row 2 too few
        total_assets=pl.Series(
            [2000.0, 2000, 2000, 500, 2000, 2000, 2000, 2000]
        ),  # row 3 < current
        found_year=pl.Series([2000, 2000, 2000, 2000, 2009, 2000, 2000, 2000]),  # row 4 after year
        fixed_assets_net=pl.Series([700.0, 700, 700, 700, 700, 0, 700, 700]),  # row 5 non-positive
        found_month=pl.Series([5, 5, 5, 5, 5, 5, 13, 5]),  # row 6 invalid month
    )
    kept, attr = clean_asif_year(df, 2005, min_employees=8, min_found_year=1900)
    assert kept["firm_code"].to_list() == ["000000000", "000000007"]
    d = dict(zip(attr["reason"], attr["rows"], strict=True))
    assert d["read"] == 8 and d["kept"] == 2
    assert d["missing key variable"] == 1
    assert d["fewer than 8 employees"] == 1
    assert d["invalid founding year or month"] == 2
    assert d["total assets below current or net fixed assets"] == 1
    assert d["non-positive output, capital or intermediate inputs"] == 1
    check_attrition(attr)
    assert set(kept.columns) >= {"city_code", "province_code", "ind2", "row_id", "year"}
    assert kept["city_code"][0] == "3302" and kept["ind2"][0] == "39"


def test_attrition_mismatch_detected():
    _, attr = clean_asif_year(_frame(3), 2003, min_employees=8, min_found_year=1900)
    broken = attr.with_columns(
        pl.when(pl.col("reason") == "kept")
        .then(pl.col("rows") - 1)
        .otherwise(pl.col("rows"))
        .alias("rows")
    )
    with pytest.raises(AssertionError, match="read 3"):
        check_attrition(broken)


def test_identical_duplicate_firm_years_stop_naming_rows_not_firms():
    df = number_rows(pl.concat([_frame(3), _frame(3).head(1)]))
    with pytest.raises(InputError, match="firm_code.*identical duplicates.*rows 1, 4") as err:
        resolve_duplicates(df, "asif_2003.parquet")
    assert "000000000" not in str(err.value)


def test_conflicting_duplicate_firm_years_stop_or_follow_the_configured_rule():
    twin = _frame(3).head(1).with_columns(gross_output=pl.lit(9999.0))
    df = number_rows(pl.concat([_frame(3), twin]))
    with pytest.raises(InputError, match="1 duplicate firm-years.*different values.*rows 1, 4"):
        resolve_duplicates(df, "asif_2003.parquet")
    first, n = resolve_duplicates(df, "asif_2003.parquet", "keep_first")
    assert n == 1 and first.filter(pl.col("firm_code") == "000000000")["gross_output"][0] == 1000
    dropped, n = resolve_duplicates(df, "asif_2003.parquet", "drop")
    assert n == 2 and dropped.height == 2
    kept, attr = clean_asif_year(
        first, 2003, min_employees=8, min_found_year=1900, pre_drops=[("duplicate firm-year", n)]
    )
    check_attrition(attr)
    assert dict(zip(attr["reason"], attr["rows"], strict=True))["read"] == 5


def test_shared_codes_are_counted_not_fatal():
    df = _frame(3).with_columns(firm_code=pl.Series(["111", "111", "222"]))
    assert resolve_duplicates(df, "asif_2003.parquet")[1] == 0
    assert shared_codes(df) == 2


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("000000009", "合计"),
        (None, "浙江省小计"),
        ("", "总计"),
        (None, "TOTAL"),
        ("x", "其中：合计"),
    ],
)
def test_summary_rows_are_dropped_and_counted(code, name):
    total = _frame(1).with_columns(firm_code=pl.lit(code, pl.String), firm_name=pl.lit(name))
    kept, n = drop_summary_rows(pl.concat([_frame(3), total]))
    assert n == 1 and kept.height == 3


def test_a_firm_named_like_an_accountant_is_not_a_total():
    firm = _frame(1).with_columns(firm_name=pl.lit("宁波合计五金有限公司"))
    assert drop_summary_rows(firm)[1] == 0


def test_impossible_values_are_dropped_with_a_reason():
    df = _frame(4).with_columns(
        gross_output=pl.Series([1000.0, 5e12, 1000, 1000]),
        new_product=pl.Series([None, None, 2000.0, 10.0]),
    )
    kept, attr = clean_asif_year(
        df, 2003, min_employees=8, min_found_year=1900, max_value=1e10, max_employees=2e6
    )
    d = dict(zip(attr["reason"], attr["rows"], strict=True))
    assert d["impossible value: output, assets or employment beyond any firm"] == 1
    assert d["impossible value: a part exceeds its whole (share outside [0, 1])"] == 1
    assert kept.height == 2
    check_attrition(attr)


def test_negative_stock_names_the_row_not_the_firm():
    df = number_rows(_frame(3).with_columns(total_assets=pl.Series([1.0, -5.0, 1.0])))
    with pytest.raises(InputError, match="total_assets.*negative value.*in row 2") as err:
        check_nonnegative(df, "asif_2003.parquet")
    assert "000000001" not in str(err.value)


def test_unknown_city_stops():
    df = _frame(2).with_columns(region_code=pl.Series(["330201", "999901"]))
    with pytest.raises(InputError, match="region_code.*unknown city code.*9999"):
        check_city_codes(df, {"3302"}, "asif_2003.parquet")


def test_a_year_that_loses_an_analysis_variable_stops_unless_known():
    df = _frame(3).with_columns(
        depreciation=pl.lit(5.0), value_added=pl.lit(None, pl.Float64), new_product=pl.lit(1.0)
    )
    df = df.with_columns(
        [pl.lit(1.0).alias(c) for c in ANALYSIS_VARS if c not in {"value_added", "depreciation"}]
    )
    with pytest.raises(InputError, match="column 'value_added'.*2003 has no value of value_added"):
        check_needed_vars(df, 2003, "asif_2003.parquet", {})
    known = {"value_added": [2003]}
    assert check_needed_vars(df, 2003, "asif_2003.parquet", known) == ["value_added"]
    with pytest.raises(InputError, match="2004 has no value"):
        check_needed_vars(df, 2004, "asif_2004.parquet", known)

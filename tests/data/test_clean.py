"""ASIF cleaning: each filter drops what it should, and the attrition table adds up."""

from __future__ import annotations

import polars as pl
import pytest

from cbec.data.clean import (
    check_attrition,
    check_city_codes,
    check_unique_firm_year,
    clean_asif_year,
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


def test_duplicate_firm_years_stop():
    df = _frame(3)
    df = pl.concat([df, df.head(1)])
    with pytest.raises(InputError, match="firm_code.*duplicate firm-years"):
        check_unique_firm_year(df, "asif_2003.parquet")


def test_shared_codes_are_counted_not_fatal():
    df = _frame(3).with_columns(firm_code=pl.Series(["111", "111", "222"]))
    assert check_unique_firm_year(df, "asif_2003.parquet") == 2


def test_unknown_city_stops():
    df = _frame(2).with_columns(region_code=pl.Series(["330201", "999901"]))
    with pytest.raises(InputError, match="region_code.*unknown city code.*9999"):
        check_city_codes(df, {"3302"}, "asif_2003.parquet")

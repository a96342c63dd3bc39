"""Plausibility checks of the scraped member lists (issue 17, item 1)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from cbec.data.members import check_members, member_problems, parse_scrape_dates
from cbec.errors import InputError
from cbec.matching.platform import member_info

CHECKS = {"launch_year": 1999, "scrape_window": ("2016-01-01", "2025-12-31"), "last_year": 2015}


def _list(dates: list, years: list) -> pl.DataFrame:
    n = len(dates)
    return pl.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(n)],
            "name_cn": ["某某有限公司"] * n,
            "member_years": years,
            "scrape_date": dates,
            "rating": [None] * n,
        },
        schema_overrides={"rating": pl.Float64},
    )


def test_scrape_dates_in_the_formats_researchers_meet():
    s = pl.Series(
        [
            "2024-06-30",
            "2024/6/30",
            "2024年6月30日",
            "2024.06.30",
            "2024-06-30 12:00:00",
            "２０２４-06-30",
        ]
    )
    assert parse_scrape_dates(s).to_list() == [date(2024, 6, 30)] * 6
    bad = parse_scrape_dates(pl.Series(["30/06/2024", "2024-02-31", "2024-13-01", "", None]))
    assert bad.null_count() == 5


def test_join_year_uses_each_rows_scrape_date():
    # the old code used the first row's date for every row
    info = member_info(_list(["2024-06-30", "2023/6/30"], ["3 YRS", "3 YRS"]), "a.csv")
    assert info["join_year"].to_list() == [2022, 2021]


@pytest.mark.parametrize(
    ("dates", "years", "column", "problem", "row"),
    [
        (["2024-06-30", "2042-06-30"], ["3 YRS", "3 YRS"], "scrape_date", "outside", 2),
        (["2014-06-30", "2024-06-30"], ["3 YRS", "3 YRS"], "scrape_date", "outside", 1),
        (["2024-06-30", "2024-06-31"], ["3 YRS", "3 YRS"], "scrape_date", "unparseable", 2),
        (["2024-06-30", None], ["3 YRS", "3 YRS"], "scrape_date", "blank scrape date", 2),
        (["2024-06-30"] * 3, ["3 YRS", "30 YRS", "2"], "member_years", "launch", 2),
        (["2024-06-30"] * 2, ["0 YRS", "2"], "member_years", "N >= 1", 1),
    ],
)
def test_implausible_rows_stop_naming_file_column_row_and_value(dates, years, column, problem, row):
    members = _list(dates, years)
    with pytest.raises(InputError, match=f"alibaba.csv, column '{column}'") as err:
        check_members(members, "alibaba.csv", **CHECKS)
    msg = str(err.value)
    assert problem in msg and f"row {row} has" in msg
    assert "某某" not in msg  # never a firm's name


def test_window_must_begin_after_the_last_sample_year():
    members = _list(["2015-12-30"], ["3 YRS"])
    wide = {**CHECKS, "scrape_window": ("2010-01-01", "2025-12-31")}
    with pytest.raises(InputError, match="not after the last sample year 2015"):
        check_members(members, "mic.csv", **wide)


def test_drop_counts_each_problem_and_keeps_the_rest(caplog):
    members = _list(["2024-06-30", "2042-06-30", "2024-06-30", "2024/6/30"], ["3", "3", "40", "1"])
    kept, dropped = check_members(members, "alibaba.csv", **CHECKS, on_implausible="drop")
    assert kept["member_id"].to_list() == ["m0", "m3"]
    assert sum(dropped.values()) == 2 and len(dropped) == 2
    assert "alibaba.csv: 1 member row(s) dropped" in caplog.text


def test_a_plausible_list_passes_untouched():
    members = _list(["2024-06-30", "2024年6月30日", None], ["3 YRS", "26 YRS", None])
    assert member_problems(members, **CHECKS).height == 0
    kept, dropped = check_members(members, "alibaba.csv", **CHECKS)
    assert kept.equals(members) and dropped == {}

"""Coverage alarms (issue 17, item 6)."""

from __future__ import annotations

import polars as pl

from cbec.data.coverage import (
    blank_name_alarm,
    blank_share,
    coverage_alarms,
    match_rate_alarms,
    thin_years,
)


def test_a_year_far_below_its_neighbours_is_flagged():
    assert thin_years({2001: 100, 2002: 40, 2003: 110}) == [(2002, 40, 105.0)]
    assert thin_years({2001: 100, 2002: 80, 2003: 110}) == []


def test_row_counts_and_variable_coverage_alarms_name_the_numbers():
    cov = pl.DataFrame(
        {
            "year": [2007, 2008, 2009, 2007, 2008, 2009],
            "column": ["depreciation"] * 3 + ["sales"] * 3,
            "share": [0.99, 0.0, 0.98, 0.99, 0.1, 0.98],
        }
    )
    msgs = coverage_alarms({2007: 1000, 2008: 300, 2009: 1100}, cov, {"depreciation": [2008]})
    assert msgs[0].startswith("2008: 300 rows, below 50%")
    assert any(m.startswith("2008: sales observed in 10% of rows") for m in msgs)
    assert not any("depreciation" in m for m in msgs)  # knowingly absent


def test_blank_share_counts_null_and_whitespace():
    assert blank_share(pl.Series(["a", None, " ", "b"])) == 0.5


def test_customs_years_that_match_no_or_few_firms_are_flagged():
    parties = {2001: 355, 2002: 363, 2003: 415, 2004: 516, 2005: 533}
    matched = {2001: 266, 2002: 0, 2003: 308, 2004: 90, 2005: 393}
    msgs = match_rate_alarms(parties, matched)
    assert msgs == [
        "customs 2002: none of its 363 exporting parties matched an ASIF firm",
        "customs 2004: 17% of its parties matched an ASIF firm, below 50% of the neighbouring "
        "years' mean (74%)",
    ]
    # keys as in the JSON report (strings), a normal delivery: no alarm
    ok = {str(y): round(0.75 * n) for y, n in parties.items()}
    assert match_rate_alarms({str(y): n for y, n in parties.items()}, ok) == []


def test_blank_name_alarm_above_half_of_the_list():
    """A quarter of members listed under an English name only is ordinary; most is not."""
    quarter = pl.Series(["海天", None, "宁波", "", "天马", "金龙", "华美", "  "])
    assert blank_name_alarm(quarter.head(4), "m.parquet") is None  # half: not above
    most = pl.Series(["海天", None, "", " ", None])
    msg = blank_name_alarm(most, "m.parquet")
    assert msg is not None and "m.parquet: 80% of 5 members have no Chinese name" in msg

"""Reading and checking a scraped platform member list (Alibaba, Made-in-China.com).

A member's join year is inferred from its "N YRS" badge and the date of the scrape, so one
mistyped scrape date moves every join year it touches. The scrape date is therefore read
per row, in the formats researchers meet (``2024-06-30``, ``2024/6/30``, ``2024.6.30``,
``2024年6月30日``, a time of day after the date is ignored), and each row is checked:

* the scrape date parses and lies in the configured window (``members.scrape_window``),
  which must begin after the last sample year (joins later in the sample would be invisible);
* ``N YRS`` parses and N >= 1 (a join year after the scrape date is impossible);
* the join year is not before the platform's launch (``members.launch_year``): a membership
  longer than the platform has existed.

Rows are numbered from 1 for the first data row (the header is not counted). Messages name
the file, the column that is wrong, the row and the value, never a firm's name or phone.
"""

from __future__ import annotations

import logging
from datetime import date

import polars as pl

from cbec.errors import InputError

#: the "N YRS" badge (also "N YR", "N years", "N年", a bare number)
YRS_PATTERN = r"^\s*(\d{1,3})\s*(?i:YRS?|YEARS?|年)?\s*$"
#: year, month, day separated by -, /, . or 年/月(/日), optionally followed by a time
_DATE_PATTERN = r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$"


def parse_scrape_dates(s: pl.Series) -> pl.Series:
    """Scrape dates as ``pl.Date`` (nulls where the text is not a valid calendar date)."""
    if s.dtype == pl.Date:
        return s
    if s.dtype == pl.Datetime:
        return s.dt.date()
    t = s.cast(pl.String).str.normalize("NFKC")
    parts = t.str.extract_groups(_DATE_PATTERN).struct.unnest()
    iso = parts.select(
        pl.concat_str(
            [pl.col("1"), pl.col("2").str.zfill(2), pl.col("3").str.zfill(2)], separator="-"
        )
    ).to_series()
    # strict=False: an impossible calendar date (2024-02-31) becomes null
    return iso.str.to_date("%Y-%m-%d", strict=False).rename(s.name or "scrape_date")


def member_years_n(s: pl.Series) -> pl.Series:
    """N of "N YRS" as Int64 (null where blank or unparseable)."""
    return s.cast(pl.String).str.normalize("NFKC").str.extract(YRS_PATTERN, 1).cast(pl.Int64)


def _blank(s: pl.Series) -> pl.Series:
    return s.is_null() | (s.cast(pl.String).str.strip_chars() == "")


def member_problems(
    members: pl.DataFrame,
    *,
    launch_year: int,
    scrape_window: tuple[str, str],
    last_year: int,
) -> pl.DataFrame:
    """One row per implausible member row: ``row`` (1-based), ``column``, ``problem``, ``value``."""
    first, last = (date.fromisoformat(str(d)) for d in scrape_window)
    raw_date, raw_yrs = members["scrape_date"], members["member_years"]
    d = parse_scrape_dates(raw_date)
    n = member_years_n(raw_yrs)
    join = d.dt.year().cast(pl.Int64) - n + 1
    df = pl.DataFrame(
        {
            "row": pl.int_range(1, members.height + 1, eager=True),
            "date_txt": raw_date.cast(pl.String),
            "yrs_txt": raw_yrs.cast(pl.String),
            "d": d,
            "n": n,
            "join": join,
            "date_blank": _blank(raw_date),
            "yrs_blank": _blank(raw_yrs),
        }
    )
    checks = [
        ("scrape_date", pl.col("date_blank") & ~pl.col("yrs_blank"), "blank scrape date"),
        ("scrape_date", ~pl.col("date_blank") & pl.col("d").is_null(), "unparseable date"),
        (
            "scrape_date",
            pl.col("d").is_not_null() & ~pl.col("d").is_between(first, last),
            f"scrape date outside the plausible window {first}..{last} (members.scrape_window)",
        ),
        (
            "scrape_date",
            pl.col("d").is_not_null() & (pl.col("d").dt.year() <= last_year),
            f"scrape date not after the last sample year {last_year}: later joins are unseen",
        ),
        (
            "member_years",
            ~pl.col("yrs_blank") & (pl.col("n").is_null() | (pl.col("n") < 1)),
            "unparseable member years (expected 'N YRS' with N >= 1)",
        ),
        (
            "member_years",
            pl.col("join").is_not_null() & (pl.col("join") < launch_year),
            f"join year before the platform's launch in {launch_year} (members.launch_year)",
        ),
    ]
    found = []
    for column, cond, problem in checks:
        value = "date_txt" if column == "scrape_date" else "yrs_txt"
        hit = df.filter(cond.fill_null(False)).select(
            "row",
            pl.lit(column).alias("column"),
            pl.lit(problem).alias("problem"),
            pl.col(value).alias("value"),
        )
        found.append(hit)
    out = pl.concat(found)
    # a row is charged to its first problem
    return out.unique("row", keep="first", maintain_order=True).sort("row")


def check_members(
    members: pl.DataFrame,
    source: str,
    *,
    launch_year: int,
    scrape_window: tuple[str, str],
    last_year: int,
    on_implausible: str = "stop",
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Stop on implausible member rows, or drop them (``on_implausible: drop``) with counts.

    Returns the kept rows and ``{problem: rows dropped}``; a stop names the file, the column
    that is wrong, the first row and its value, and how many rows share the problem.
    """
    probs = member_problems(
        members, launch_year=launch_year, scrape_window=scrape_window, last_year=last_year
    )
    if probs.height == 0:
        return members, {}
    if on_implausible != "drop":
        first = probs.row(0, named=True)
        same = probs.filter(pl.col("problem") == first["problem"]).height
        raise InputError(
            source,
            first["column"],
            f"{first['problem']}: row {first['row']} has {first['value']!r} "
            f"({same} row(s) with this problem, {probs.height} implausible in all; "
            "members.on_implausible: drop drops them with a count)",
        )
    counts = probs.group_by("problem", maintain_order=True).len()
    dropped = dict(zip(counts["problem"].to_list(), counts["len"].to_list(), strict=True))
    for problem, k in dropped.items():
        logging.getLogger("members").warning("%s: %d member row(s) dropped: %s", source, k, problem)
    keep = ~pl.int_range(1, members.height + 1, eager=True).is_in(probs["row"].implode())
    return members.filter(keep), dropped

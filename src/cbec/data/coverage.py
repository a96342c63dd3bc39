"""Coverage alarms: a year, a variable or a list far thinner than its neighbours.

A delivery can be readable and still wrong: a year with a fraction of its usual rows, a
variable that is suddenly empty, a member list with many blank names. These do not stop the
run (a real year can be thin) but are logged as warnings with the numbers, so that the rule
log and the end-of-run summary show them.
"""

from __future__ import annotations

import polars as pl

#: a member list with a larger share of blank Chinese names is reported (real lists carry many
#: members under an English or pinyin name only: a quarter is ordinary, a half is not)
BLANK_NAME_ALARM = 0.5
#: a year is an outlier when its value is below this share of its neighbours' mean
ALARM_RATIO = 0.5


def thin_years(
    values: dict[int, float], ratio: float = ALARM_RATIO
) -> list[tuple[int, float, float]]:
    """(year, value, neighbours' mean) for years below ``ratio`` x the mean of the adjacent
    years that exist."""
    years = sorted(values)
    out = []
    for i, y in enumerate(years):
        near = [values[years[j]] for j in (i - 1, i + 1) if 0 <= j < len(years)]
        ref = sum(near) / len(near) if near else 0.0
        if ref > 0 and values[y] < ratio * ref:
            out.append((y, values[y], ref))
    return out


def coverage_alarms(
    rows: dict[int, int],
    coverage: pl.DataFrame,
    knowingly_absent: dict[str, list[int]],
    ratio: float = ALARM_RATIO,
) -> list[str]:
    """Warnings for years whose row count, or a variable's non-missing share, falls far below
    the neighbouring years'. ``coverage``: year, column, share (non-missing)."""
    msgs = [
        f"{y}: {int(v)} rows, below {ratio:.0%} of the neighbouring years' mean ({ref:.0f})"
        for y, v, ref in thin_years({y: float(n) for y, n in rows.items()}, ratio)
    ]
    for (col,), g in coverage.group_by(["column"], maintain_order=True):
        shares = dict(zip(g["year"].to_list(), g["share"].to_list(), strict=True))
        known = set(knowingly_absent.get(str(col), []))
        shares = {y: s for y, s in shares.items() if y not in known}
        for y, v, ref in thin_years(shares, ratio):
            msgs.append(
                f"{y}: {col} observed in {v:.0%} of rows, below {ratio:.0%} of the "
                f"neighbouring years' mean ({ref:.0%})"
            )
    return msgs


def blank_share(s: pl.Series) -> float:
    """Share of null or blank values."""
    if s.len() == 0:
        return 0.0
    blank = s.is_null() | (s.cast(pl.String).str.strip_chars() == "")
    return float(blank.mean())


def match_rate_alarms(
    parties_by_year: dict, matched_by_year: dict, ratio: float = ALARM_RATIO
) -> list[str]:
    """Warnings for customs years that match no firm, or whose share of matched parties falls
    below ``ratio`` x the neighbouring years' mean (e.g. a year delivered with another name
    encoding or without zips and phones). Keys are years (int or str, as in the JSON report)."""
    parties = {int(y): int(n) for y, n in parties_by_year.items()}
    matched = {
        int(y): int(matched_by_year.get(y, matched_by_year.get(str(y), 0)) or 0)
        for y in parties_by_year
    }
    msgs = [
        f"customs {y}: none of its {parties[y]} exporting parties matched an ASIF firm"
        for y in sorted(parties)
        if parties[y] > 0 and matched[y] == 0
    ]
    rate = {y: matched[y] / parties[y] for y in parties if parties[y] > 0}
    msgs += [
        f"customs {y}: {v:.0%} of its parties matched an ASIF firm, below {ratio:.0%} of the "
        f"neighbouring years' mean ({ref:.0%})"
        for y, v, ref in thin_years(rate, ratio)
        if matched[y] > 0
    ]
    return msgs


def blank_name_alarm(names: pl.Series, source: str, ratio: float = BLANK_NAME_ALARM) -> str | None:
    """A warning when more than ``ratio`` of a member list's Chinese names are blank."""
    share = blank_share(names)
    if share <= ratio:
        return None
    return (
        f"coverage: {source}: {share:.0%} of {names.len()} members have no Chinese name (matched "
        "only through an English or pinyin name, phone, zip or legal representative)"
    )

"""``snakemake check_inputs``: every configured input checked against the data contract.

Runs the readers and the checks of the rules that read raw inputs (headers, types,
duplicates, negative stocks, city codes, analysis variables per year, member-list
plausibility, external series), without running the pipeline. Each problem is one line
``file, column 'x': problem``; every file is checked even after a problem in another.
"""

from __future__ import annotations

from collections.abc import Callable

from cbec.config import year_input
from cbec.data import clean
from cbec.data.external import SERIES, read_cities, read_counties, read_series
from cbec.data.io import read_raw
from cbec.data.members import check_members
from cbec.errors import CbecError

#: required columns per kind (as the rules require them)
REQUIRED = {
    "asif": clean.KEY_VARS + clean.NUMERIC_KEYS + ["current_assets", "fixed_assets_orig"],
    "customs": ["party_name", "hs8", "destination", "value_usd"],
    "members": ["member_id", "name_cn", "member_years", "scrape_date"],
}


def _problem(fn: Callable[[], object]) -> str | None:
    try:
        fn()
    except CbecError as err:
        return str(err)
    except Exception as err:  # noqa: BLE001 - a reader's crash is a problem of the file
        return f"{type(err).__name__}: {err}"
    return None


def _check_asif(path: str, year: int, known: set[str], cfg: dict, enc: str) -> None:
    raw = clean.number_rows(read_raw(path, "asif", required=REQUIRED["asif"], encoding=enc))
    raw, _ = clean.drop_summary_rows(raw)
    clean.check_needed_vars(raw, year, path, cfg["knowingly_absent"])
    clean.resolve_duplicates(raw, path, cfg["duplicate_firm_years"])
    clean.check_city_codes(raw, known, path)
    clean.check_nonnegative(raw, path)


def _check_customs(path: str, enc: str) -> None:
    read_raw(path, "customs", required=REQUIRED["customs"], encoding=enc)


def _check_members(path: str, platform: str, members_cfg: dict, last_year: int, enc: str):
    df = read_raw(path, "members", required=REQUIRED["members"], encoding=enc)
    check_members(
        df,
        path,
        launch_year=members_cfg["launch_year"][platform],
        scrape_window=members_cfg["scrape_window"],
        last_year=last_year,
        on_implausible=members_cfg["on_implausible"],
    )


def check_all(inputs: dict, years: list[int], cleaning: dict, members: dict, last_year: int):
    """Every problem of every configured input, one message each (empty: all good)."""
    enc = inputs["csv_encoding"]
    problems: list[str | None] = []
    known: set[str] = set()

    def cities() -> None:
        known.update(read_cities(inputs["cities"])["city_code"].to_list())

    problems.append(_problem(cities))
    problems.append(_problem(lambda: read_counties(inputs["counties"])))
    for key, columns in SERIES.items():
        problems.append(_problem(lambda k=key, c=columns: read_series(inputs[k], c)))
    for year in years:
        path = inputs["asif"].format(year=year)
        problems.append(_problem(lambda p=path, y=year: _check_asif(p, y, known, cleaning, enc)))
        path = year_input(inputs, "customs", year)
        problems.append(_problem(lambda p=path: _check_customs(p, enc)))
    for platform in ("alibaba", "mic"):
        path = inputs[platform]
        problems.append(
            _problem(lambda p=path, k=platform: _check_members(p, k, members, last_year, enc))
        )
    return [p for p in problems if p]

"""Cleaning of the ASIF firm-years: the standard filters of the literature.

Brandt, Van Biesebroeck & Zhang (2012) and Feenstra, Li & Yu (2014): drop observations with
missing key variables, fewer than ``min_employees`` workers, total assets below current
assets or net fixed assets (BvBZ's "total fixed assets" is the net stock; gross fixed assets
at original value may exceed total assets in old firms), an invalid founding date, and non-positive
values where logs are taken. Every row dropped is counted with its (first) reason, so that
``read = kept + dropped`` holds for each year.
"""

from __future__ import annotations

import polars as pl

from cbec.errors import InputError

#: variables without which a firm-year is unusable
KEY_VARS = ["firm_code", "firm_name", "region_code", "industry_code", "found_year"]
NUMERIC_KEYS = ["employees", "gross_output", "total_assets", "fixed_assets_net", "intermediate"]
#: variables whose log is taken downstream (must be > 0)
LOG_VARS = ["gross_output", "fixed_assets_net", "intermediate"]

ATTRITION_SCHEMA = {
    "stage": pl.String,
    "year": pl.Int64,
    "step": pl.Int64,
    "reason": pl.String,
    "rows": pl.Int64,
}


def _blank(col: str) -> pl.Expr:
    c = pl.col(col)
    return c.is_null() | (c.cast(pl.String).str.strip_chars() == "")


def drop_rules(min_employees: float, min_found_year: int) -> list[tuple[str, pl.Expr]]:
    """Ordered (reason, condition-to-drop) pairs; a row is charged to its first true reason."""
    assets = pl.col("total_assets")
    bad_assets = (assets < pl.col("current_assets").fill_null(0)) | (
        assets < pl.col("fixed_assets_net").fill_null(0)
    )
    month = pl.col("found_month")
    bad_found = (
        (pl.col("found_year") < min_found_year)
        | (pl.col("found_year") > pl.col("year"))
        | (month.is_not_null() & ((month < 1) | (month > 12)))
    )
    nonpos = pl.any_horizontal([pl.col(c) <= 0 for c in LOG_VARS]) | (
        pl.col("value_added").is_not_null() & (pl.col("value_added") <= 0)
    )
    return [
        ("missing key variable", pl.any_horizontal([_blank(c) for c in KEY_VARS + NUMERIC_KEYS])),
        ("invalid founding year or month", bad_found),
        (f"fewer than {min_employees:g} employees", pl.col("employees") < min_employees),
        ("total assets below current or net fixed assets", bad_assets),
        ("non-positive output, capital or intermediate inputs", nonpos),
    ]


def check_unique_firm_year(df: pl.DataFrame, path: str) -> int:
    """Stop on duplicated firm-years (identical rows); return how many rows share a code.

    Rows that repeat the same firm-year (every field equal) are a broken delivery and stop the
    run. Distinct firms sharing a legal-person code happen in the real ASIF (coding errors);
    they are kept, and the linker ignores codes that are not unique within a year.
    """
    dup = df.filter(df.is_duplicated())
    if dup.height:
        codes = dup["firm_code"].cast(pl.String).fill_null("(null)").unique().sort().head(3)
        raise InputError(
            path,
            "firm_code",
            f"{dup.height} rows are identical duplicates of another row (duplicate firm-years), "
            f"e.g. legal-person code {', '.join(codes.to_list())}",
        )
    return int(
        df.filter(pl.col("firm_code").is_not_null() & pl.col("firm_code").is_duplicated()).height
    )


#: stocks and counts that cannot be negative in a valid delivery
NONNEGATIVE = [
    "employees",
    "total_assets",
    "current_assets",
    "fixed_assets_orig",
    "fixed_assets_net",
    "gross_output",
]


def check_nonnegative(df: pl.DataFrame, path: str) -> None:
    """Stop on negative stocks or counts (a corrupt delivery, not a small-firm filter)."""
    for col in NONNEGATIVE:
        bad = df.filter(pl.col(col) < 0)
        if bad.height:
            raise InputError(
                path,
                col,
                f"{bad.height} negative value(s), e.g. {bad[col][0]} "
                f"(legal-person code {bad['firm_code'][0]})",
            )


#: provincial-level municipalities: every district and county belongs to the one city PP01
MUNICIPALITIES = ("11", "12", "31", "50")


def city_of_region(region: pl.Expr) -> pl.Expr:
    """4-digit prefecture code of a 6-digit region code (municipalities' counties fold to PP01)."""
    prov = region.str.slice(0, 2)
    return (
        pl.when(prov.is_in(MUNICIPALITIES))
        .then(prov + pl.lit("01"))
        .otherwise(region.str.slice(0, 4))
    )


def check_city_codes(df: pl.DataFrame, known: set[str], path: str) -> None:
    """Stop on region codes whose city (first four digits) is not in the city list."""
    codes = df.select(city_of_region(pl.col("region_code")).alias("c")).drop_nulls()["c"]
    unknown = sorted(set(codes.unique().to_list()) - known)
    if unknown:
        raise InputError(
            path,
            "region_code",
            f"{len(unknown)} unknown city code(s) not in the city list, e.g. {', '.join(unknown[:3])}",
        )


def clean_asif_year(
    df: pl.DataFrame, year: int, *, min_employees: float, min_found_year: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply the filters to one year's canonical frame; return (kept rows, attrition rows)."""
    df = df.with_columns(
        pl.lit(year, dtype=pl.Int64).alias("year"),
        (pl.lit(year * 10_000_000, dtype=pl.Int64) + pl.int_range(pl.len(), dtype=pl.Int64)).alias(
            "row_id"
        ),
    )
    rules = drop_rules(min_employees, min_found_year)
    reason = pl.lit(None, dtype=pl.String)
    for label, cond in reversed(rules):
        reason = pl.when(cond.fill_null(False)).then(pl.lit(label)).otherwise(reason)
    tagged = df.with_columns(reason.alias("_reason"))
    counts = tagged.group_by("_reason").len()
    count = dict(zip(counts["_reason"].to_list(), counts["len"].to_list(), strict=True))
    rows = [("read", df.height)] + [(label, count.get(label, 0)) for label, _ in rules]
    kept = tagged.filter(pl.col("_reason").is_null()).drop("_reason")
    rows.append(("kept", kept.height))
    attrition = pl.DataFrame(
        {
            "stage": ["clean_asif"] * len(rows),
            "year": [year] * len(rows),
            "step": list(range(len(rows))),
            "reason": [r for r, _ in rows],
            "rows": [n for _, n in rows],
        },
        schema=ATTRITION_SCHEMA,
    )
    kept = kept.with_columns(
        city_of_region(pl.col("region_code")).alias("city_code"),
        pl.col("region_code").str.slice(0, 2).alias("province_code"),
        pl.col("industry_code").str.slice(0, 2).alias("ind2"),
    )
    return kept, attrition


def check_attrition(attrition: pl.DataFrame) -> None:
    """Assert that, per stage and year, read = kept + every drop."""
    for (stage, year), g in attrition.group_by(["stage", "year"], maintain_order=True):
        d = dict(zip(g["reason"].to_list(), g["rows"].to_list(), strict=True))
        dropped = sum(v for k, v in d.items() if k not in {"read", "kept"})
        if d["read"] != d["kept"] + dropped:
            raise AssertionError(
                f"attrition of {stage} {year}: read {d['read']} != kept {d['kept']} + dropped {dropped}"
            )

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


#: money stocks and flows checked against the largest value any firm can have
MAGNITUDE_VARS = ["gross_output", "sales", "total_assets", "fixed_assets_net", "value_added"]
#: parts that cannot exceed their whole: (part, whole)
SHARE_PARTS = [("new_product", "gross_output")] + [
    (c, "paidin_capital")
    for c in [
        "cap_state",
        "cap_collective",
        "cap_legal",
        "cap_individual",
        "cap_hmt",
        "cap_foreign",
    ]
]


def impossible_values(max_value: float, max_employees: float) -> tuple[pl.Expr, pl.Expr]:
    """(beyond any firm in the economy, a share outside [0, 1]) as drop conditions."""
    huge = pl.any_horizontal([pl.col(c) > max_value for c in MAGNITUDE_VARS]) | (
        pl.col("employees") > max_employees
    )
    # 0.1 % slack for rounding in the delivery
    share = pl.any_horizontal(
        [(pl.col(p) < 0) | (pl.col(p) > 1.001 * pl.col(w)) for p, w in SHARE_PARTS]
    )
    return huge, share


def drop_rules(
    min_employees: float,
    min_found_year: int,
    max_value: float = float("inf"),
    max_employees: float = float("inf"),
) -> list[tuple[str, pl.Expr]]:
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
    huge, share = impossible_values(max_value, max_employees)
    return [
        ("missing key variable", pl.any_horizontal([_blank(c) for c in KEY_VARS + NUMERIC_KEYS])),
        ("invalid founding year or month", bad_found),
        ("impossible value: output, assets or employment beyond any firm", huge),
        ("impossible value: a part exceeds its whole (share outside [0, 1])", share),
        (f"fewer than {min_employees:g} employees", pl.col("employees") < min_employees),
        ("total assets below current or net fixed assets", bad_assets),
        ("non-positive output, capital or intermediate inputs", nonpos),
    ]


#: the 1-based data row of the delivered file (set by :func:`number_rows`)
ROW = "_row"


def number_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Attach each row's 1-based position in the delivered file (header not counted)."""
    return df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def _rows(df: pl.DataFrame, mask: pl.Series, k: int = 3) -> str:
    """The file rows of the first ``k`` rows where ``mask`` holds (messages never name firms)."""
    idx = mask.arg_true().head(k)
    rows = df[ROW].gather(idx) if ROW in df.columns else idx + 1
    return ", ".join(str(r) for r in rows.to_list())


#: a total or subtotal line of a statistical table, not a firm
SUMMARY_NAME = (
    r"^(?:其中)?[:：]?(?:合计|总计|小计|总合计|全部合计|累计)|^(?i:total|subtotal|grand total|sum)$"
)
SUMMARY_ANYWHERE = r"合计|总计|小计"


def summary_rows(df: pl.DataFrame) -> pl.Series:
    """Rows that are totals or subtotals: a name like 合计/总计/小计 (or 'total'), or a
    blank legal-person code with such a word anywhere in the name."""
    name = df["firm_name"].cast(pl.String).str.replace_all(r"\s", "").fill_null("")
    code_blank = df["firm_code"].is_null() | (df["firm_code"].str.strip_chars() == "")
    return name.str.contains(SUMMARY_NAME) | (code_blank & name.str.contains(SUMMARY_ANYWHERE))


def drop_summary_rows(df: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Drop total and subtotal rows; return the rest and how many were dropped."""
    mask = summary_rows(df)
    return df.filter(~mask), int(mask.sum())


def resolve_duplicates(df: pl.DataFrame, path: str, rule: str = "stop") -> tuple[pl.DataFrame, int]:
    """Firm-years delivered more than once (same legal-person code and name).

    ``rule``: ``stop`` (default) raises naming the rows; ``keep_first`` keeps the first row
    of each repeated firm-year; ``drop`` drops every row of it. Returns the frame and the
    rows dropped. Distinct firms sharing a code (different names) are not duplicates.
    """
    key = ["firm_code", "firm_name"]
    has_key = pl.col("firm_code").is_not_null()
    dup = df.select((has_key & pl.struct(key).is_duplicated()).alias("d"))["d"]
    if not dup.any():
        return df, 0
    identical = df.drop(ROW, strict=False).is_duplicated() & dup
    conflicting = dup & ~identical
    if rule == "stop":
        if conflicting.any():
            n = df.filter(conflicting).select(key).unique().height
            raise InputError(
                path,
                "firm_code",
                f"{n} duplicate firm-years: the same legal-person code and name with different "
                f"values (rows {_rows(df, conflicting, 4)}); fix the delivery or set "
                "cleaning.duplicate_firm_years to keep_first or drop",
            )
        raise InputError(
            path,
            "firm_code",
            f"{int(identical.sum())} rows are identical duplicates of one another (duplicate "
            f"firm-years; rows {_rows(df, identical, 4)}); fix the delivery or set "
            "cleaning.duplicate_firm_years to keep_first or drop",
        )
    indexed = df.with_row_index("_i")
    if rule == "keep_first":
        first = pl.col("_i") == pl.col("_i").min().over(key)
        keep = ~has_key | first
    else:
        keep = ~(has_key & pl.struct(key).is_duplicated())
    out = indexed.filter(keep).drop("_i")
    return out, df.height - out.height


def shared_codes(df: pl.DataFrame) -> int:
    """Rows whose legal-person code another firm (another name) also carries this year."""
    return int(
        df.filter(
            pl.col("firm_code").is_not_null()
            & (pl.col("firm_name").n_unique().over("firm_code") > 1)
        ).height
    )


#: variables the analysis needs beyond the cleaning keys (CU needs depreciation, TFP value
#: added, mechanisms new products, controls interest and ownership capital, PSM sales and
#: liabilities): a year without one stops the run unless config lists it as knowingly absent
ANALYSIS_VARS = [
    "value_added",
    "depreciation",
    "new_product",
    "interest",
    "paidin_capital",
    "cap_state",
    "cap_hmt",
    "cap_foreign",
    "sales",
    "total_liabilities",
]


def check_needed_vars(
    df: pl.DataFrame, year: int, path: str, knowingly_absent: dict[str, list[int]]
) -> list[str]:
    """Stop on a year that lost a variable the analysis needs (no header or no value),
    unless ``knowingly_absent`` lists the year; return the knowingly absent ones."""
    lost = [c for c in ANALYSIS_VARS if df[c].null_count() == df.height]
    unexpected = [c for c in lost if year not in knowingly_absent.get(c, [])]
    if unexpected:
        raise InputError(
            path,
            unexpected[0],
            f"the year {year} has no value of {', '.join(unexpected)} (no known header or an "
            "empty column), which the analysis needs; add the header's spelling to "
            "src/cbec/data/dictionary.yaml, or list the year under "
            "cleaning.knowingly_absent if the variable was not collected",
        )
    return lost


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
        neg = (df[col] < 0).fill_null(False)
        if neg.any():
            first = int(neg.arg_true()[0])
            raise InputError(
                path,
                col,
                f"{int(neg.sum())} negative value(s), e.g. {df[col][first]} "
                f"in row {_rows(df, neg, 1)}",
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


def filter_params(cleaning: dict) -> dict:
    """The keys of ``config.cleaning`` that :func:`clean_asif_year` takes."""
    keys = ("min_employees", "min_found_year", "max_value", "max_employees")
    return {k: cleaning[k] for k in keys if k in cleaning}


def clean_asif_year(
    df: pl.DataFrame,
    year: int,
    *,
    min_employees: float,
    min_found_year: int,
    max_value: float = float("inf"),
    max_employees: float = float("inf"),
    pre_drops: list[tuple[str, int]] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply the filters to one year's canonical frame; return (kept rows, attrition rows).

    ``pre_drops`` are rows already removed before (summary rows, duplicates): counted after
    ``read``, which is then the delivered row count.
    """
    pre = list(pre_drops or [])
    df = df.drop(ROW, strict=False).with_columns(
        pl.lit(year, dtype=pl.Int64).alias("year"),
        (pl.lit(year * 10_000_000, dtype=pl.Int64) + pl.int_range(pl.len(), dtype=pl.Int64)).alias(
            "row_id"
        ),
    )
    rules = drop_rules(min_employees, min_found_year, max_value, max_employees)
    reason = pl.lit(None, dtype=pl.String)
    for label, cond in reversed(rules):
        reason = pl.when(cond.fill_null(False)).then(pl.lit(label)).otherwise(reason)
    tagged = df.with_columns(reason.alias("_reason"))
    counts = tagged.group_by("_reason").len()
    count = dict(zip(counts["_reason"].to_list(), counts["len"].to_list(), strict=True))
    read = df.height + sum(n for _, n in pre)
    rows = [("read", read), *pre] + [(label, count.get(label, 0)) for label, _ in rules]
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

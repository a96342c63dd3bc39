"""Rule clean_asif: read every ASIF year, apply the literature's filters, count every drop."""

import logging

import polars as pl

from cbec import runlog
from cbec.data import clean
from cbec.data.coverage import coverage_alarms
from cbec.data.external import read_cities
from cbec.data.io import missing_counts, read_raw, write_parquet_atomic, write_text_atomic
from cbec.errors import InputError

REQUIRED = clean.KEY_VARS + clean.NUMERIC_KEYS + ["current_assets", "fixed_assets_orig"]


def read_year(path: str, year: int, known: set[str], cfg: dict) -> tuple[pl.DataFrame, list]:
    """One year's raw rows, checked; summary rows and duplicates removed (counted)."""
    log = logging.getLogger("clean_asif")
    counts: dict[str, int] = {}
    headers: dict[str, list[str]] = {}
    enc = snakemake.params.encoding
    raw = read_raw(path, "asif", required=REQUIRED, encoding=enc, counts=counts, headers=headers)
    if headers["unknown"]:
        log.warning(
            "%s (%d): header(s) not in the data dictionary, not read: %s",
            path,
            year,
            ", ".join(headers["unknown"]),
        )
    if headers["absent"]:
        log.warning("%s (%d): no header for %s", path, year, ", ".join(headers["absent"]))
    absent = clean.check_needed_vars(raw, year, path, cfg["knowingly_absent"])
    if absent:
        log.info("%d: knowingly absent (cleaning.knowingly_absent): %s", year, ", ".join(absent))
    missing = missing_counts(raw, counts).select(pl.lit(year, pl.Int64).alias("year"), pl.all())
    raw = clean.number_rows(raw)
    raw, n_summary = clean.drop_summary_rows(raw)
    if n_summary:
        log.warning("%s: %d total or subtotal row(s) dropped", path, n_summary)
    raw, n_dup = clean.resolve_duplicates(raw, path, cfg["duplicate_firm_years"])
    if n_dup:
        log.warning(
            "%s: %d duplicate firm-year row(s) dropped (cleaning.duplicate_firm_years: %s)",
            path,
            n_dup,
            cfg["duplicate_firm_years"],
        )
    shared = clean.shared_codes(raw)
    if shared:
        log.info(
            "%d: %d rows share a legal-person code with a differently named firm", year, shared
        )
    clean.check_city_codes(raw, known, path)
    clean.check_nonnegative(raw, path)
    pre = [("summary row (total or subtotal)", n_summary), ("duplicate firm-year", n_dup)]
    return raw, pre, missing


def main() -> None:
    log = logging.getLogger("clean_asif")
    cfg = snakemake.params.cleaning
    known = set(read_cities(snakemake.input.cities)["city_code"].to_list())
    kept, attrition, missing = [], [], []
    for year, path in zip(snakemake.params.years, snakemake.input.asif, strict=True):
        raw, pre, miss = read_year(path, year, known, cfg)
        k, a = clean.clean_asif_year(raw, year, **clean.filter_params(cfg), pre_drops=pre)
        log.info("%d: read %d, kept %d", year, a["rows"][0], k.height)
        if k.height == 0:
            why = ", ".join(f"{r}: {n}" for r, n in zip(a["reason"], a["rows"], strict=True) if n)
            raise InputError(path, None, f"no row of {year} survives cleaning ({why})")
        kept.append(k)
        attrition.append(a)
        missing.append(miss)
    attrition = pl.concat(attrition)
    clean.check_attrition(attrition)
    missing = pl.concat(missing)
    read = attrition.filter(pl.col("reason") == "read").select("year", "rows")
    shares = missing.join(read, on="year").select(
        "year", "column", (1 - pl.col("missing") / pl.col("rows")).alias("share")
    )
    rows = dict(zip(read["year"].to_list(), read["rows"].to_list(), strict=True))
    for msg in coverage_alarms(rows, shares, cfg["knowingly_absent"]):
        log.warning("coverage: %s", msg)
    write_parquet_atomic(pl.concat(kept, how="vertical_relaxed"), snakemake.output.clean)
    write_text_atomic(missing.write_csv(), snakemake.output.missing)
    write_text_atomic(attrition.write_csv(), snakemake.output.attrition)


runlog.run(main, snakemake.log[0], "clean_asif")

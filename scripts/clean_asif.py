"""Rule clean_asif: read every ASIF year, apply the literature's filters, count every drop."""

import logging

import polars as pl

from cbec import runlog
from cbec.data import clean
from cbec.data.external import read_cities
from cbec.data.io import read_raw, write_parquet_atomic

REQUIRED = clean.KEY_VARS + clean.NUMERIC_KEYS + ["current_assets", "fixed_assets_orig"]


def main() -> None:
    log = logging.getLogger("clean_asif")
    known = set(read_cities(snakemake.input.cities)["city_code"].to_list())
    kept, attrition = [], []
    for year, path in zip(snakemake.params.years, snakemake.input.asif, strict=True):
        raw = read_raw(path, "asif", required=REQUIRED, encoding=snakemake.params.encoding)
        shared = clean.check_unique_firm_year(raw, path)
        if shared:
            log.warning("%d: %d rows share a legal-person code with another firm", year, shared)
        clean.check_city_codes(raw, known, path)
        clean.check_nonnegative(raw, path)
        k, a = clean.clean_asif_year(raw, year, **snakemake.params.cleaning)
        log.info("%d: read %d, kept %d", year, raw.height, k.height)
        kept.append(k)
        attrition.append(a)
    attrition = pl.concat(attrition)
    clean.check_attrition(attrition)
    write_parquet_atomic(pl.concat(kept, how="vertical_relaxed"), snakemake.output.clean)
    attrition.write_csv(snakemake.output.attrition)


runlog.run(main, snakemake.log[0], "clean_asif")

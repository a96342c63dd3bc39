"""Rules tfp, cu, measures_diagnostics: stack the per-industry results."""

import logging

import polars as pl

from cbec import runlog
from cbec.data.io import write_parquet_atomic, write_text_atomic
from cbec.measures import driver


def main() -> None:
    log = logging.getLogger("gather_measures")
    if snakemake.params.kind == "diagnostics":
        parts = [pl.read_csv(p, schema=driver.DIAGNOSTICS_SCHEMA) for p in snakemake.input]
        out = driver.gather_diagnostics(parts)
        write_text_atomic(out.write_csv(), snakemake.output[0])
        for row in out.filter(pl.col("fallback") != "none").iter_rows(named=True):
            log.warning("%s %s: fallback=%s", row["ind2"], row["measure"], row["fallback"])
    else:
        parts = [pl.read_parquet(p) for p in snakemake.input]
        for path, part in zip(snakemake.input, parts, strict=True):
            log.info("%s: %d firm-years", path, part.height)
        out = driver.gather_measures(parts, list(snakemake.params.columns))
        write_parquet_atomic(out, snakemake.output[0])
    log.info("%s: %d rows", snakemake.output[0], out.height)


runlog.run(main, snakemake.log[0], f"gather_measures.{snakemake.rule}")

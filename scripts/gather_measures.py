"""Rules tfp, cu: stack the per-industry measures (the columns the rule names)."""

import logging

import polars as pl

from cbec import runlog
from cbec.data.io import write_parquet_atomic
from cbec.measures.gather import gather_measures


def main() -> None:
    log = logging.getLogger("gather_measures")
    parts = [pl.read_parquet(p) for p in snakemake.input]
    for path, part in zip(snakemake.input, parts, strict=True):
        log.info("%s: %d firm-years", path, part.height)
    out = gather_measures(parts, list(snakemake.params.columns))
    write_parquet_atomic(out, snakemake.output[0])
    log.info("%s: %d rows", snakemake.output[0], out.height)


runlog.run(main, snakemake.log[0], f"gather_measures.{snakemake.rule}")

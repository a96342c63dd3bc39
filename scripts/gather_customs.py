"""Rule gather_customs: the per-year customs party aggregates as one party-year file."""

import logging

import polars as pl

from cbec import runlog
from cbec.data.coverage import thin_years
from cbec.data.io import write_parquet_atomic


def main() -> None:
    log = logging.getLogger("gather_customs")
    parts = [pl.read_parquet(p) for p in snakemake.input]
    parties = {y: df.height for y, df in zip(snakemake.params.years, parts, strict=True)}
    for y, n, ref in thin_years(parties):
        log.warning(
            "coverage: customs %d has %d exporting parties, below half the neighbouring "
            "years' mean (%.0f)",
            y,
            n,
            ref,
        )
    out = pl.concat(parts, how="vertical_relaxed")
    log.info("%d party-years, %d intermediaries", out.height, out["intermediary"].sum())
    write_parquet_atomic(out, snakemake.output[0])


runlog.run(main, snakemake.log[0], "gather_customs")

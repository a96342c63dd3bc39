"""Rule gather_customs: the customs party aggregates of the batches of years as one
party-year file."""

import logging

import polars as pl

from cbec import runlog
from cbec.data.coverage import thin_years
from cbec.data.io import write_parquet_atomic


def main() -> None:
    log = logging.getLogger("gather_customs")
    out = pl.concat([pl.read_parquet(p) for p in snakemake.input], how="vertical_relaxed")
    counts = dict(out["year"].value_counts().iter_rows())
    parties = {y: counts.get(y, 0) for y in snakemake.params.years}
    for y, n, ref in thin_years(parties):
        log.warning(
            "coverage: customs %d has %d exporting parties, below half the neighbouring "
            "years' mean (%.0f)",
            y,
            n,
            ref,
        )
    log.info("%d party-years, %d intermediaries", out.height, out["intermediary"].sum())
    write_parquet_atomic(out, snakemake.output[0])


runlog.run(main, snakemake.log[0], "gather_customs")

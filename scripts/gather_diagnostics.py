"""Rule measures_diagnostics: stack the per-industry diagnostics; warn of every fallback."""

import logging

import polars as pl

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.measures.gather import DIAGNOSTICS_SCHEMA, gather_diagnostics


def main() -> None:
    log = logging.getLogger("gather_diagnostics")
    out = gather_diagnostics([pl.read_csv(p, schema=DIAGNOSTICS_SCHEMA) for p in snakemake.input])
    write_text_atomic(out.write_csv(), snakemake.output[0])
    for row in out.filter(pl.col("fallback") != "none").iter_rows(named=True):
        log.warning("%s %s: fallback=%s", row["ind2"], row["measure"], row["fallback"])
    log.info("%s: %d rows", snakemake.output[0], out.height)


runlog.run(main, snakemake.log[0], "gather_diagnostics")

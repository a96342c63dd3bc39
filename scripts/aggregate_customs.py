"""Rule aggregate_customs: export value, markets and products per customs party and year."""

import logging

import polars as pl

from cbec import runlog
from cbec.data.coverage import thin_years
from cbec.data.customs import aggregate_party_year, scan_customs
from cbec.data.io import write_parquet_atomic
from cbec.matching.names import flag_intermediaries


def main() -> None:
    log = logging.getLogger("aggregate_customs")
    parts = []
    for year, path in zip(snakemake.params.years, snakemake.input.customs, strict=True):
        agg = aggregate_party_year(scan_customs(path, snakemake.params.encoding), year)
        df = agg.collect(engine="streaming")
        log.info("%d: %d parties, %d transactions", year, df.height, df["n_transactions"].sum())
        parts.append(df)
    out = pl.concat(parts, how="vertical_relaxed")
    parties = {int(df["year"][0]): df.height for df in parts if df.height}
    parties.update(
        {y: 0 for y, df in zip(snakemake.params.years, parts, strict=True) if not df.height}
    )
    for y, n, ref in thin_years(parties):
        log.warning(
            "coverage: customs %d has %d exporting parties, below half the neighbouring "
            "years' mean (%.0f)",
            y,
            n,
            ref,
        )
    out = out.with_columns(flag_intermediaries(out["party_name"]).alias("intermediary"))
    log.info("intermediaries flagged: %d of %d party-years", out["intermediary"].sum(), out.height)
    write_parquet_atomic(out, snakemake.output[0])


runlog.run(main, snakemake.log[0], "aggregate_customs")

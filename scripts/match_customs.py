"""Rule match_customs: customs parties to ASIF firms (Yu 2015: name, then zip + phone)."""

import json

import polars as pl

from cbec import runlog
from cbec.data.io import write_parquet_atomic, write_text_atomic
from cbec.matching.customs import match_customs


def main() -> None:
    parties = pl.read_parquet(snakemake.input.customs)
    panel = pl.read_parquet(
        snakemake.input.panel, columns=["year", "firm_id", "firm_name", "zip", "phone"]
    )
    links, report = match_customs(parties, panel)
    links = links.with_columns(pl.col("firm_id").cast(pl.Int64))
    write_parquet_atomic(links, snakemake.output.links)
    write_text_atomic(json.dumps(report, indent=2, default=str), snakemake.output.report)


runlog.run(main, snakemake.log[0], "match_customs")

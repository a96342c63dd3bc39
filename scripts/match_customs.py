"""Rule match_customs: one year's customs parties to ASIF firms (Yu 2015: name, then zip +
phone)."""

import json

import polars as pl

from cbec import runlog
from cbec.data.io import write_parquet_atomic, write_text_atomic
from cbec.matching.customs import PANEL_COLUMNS, link_customs


def main() -> None:
    year = int(snakemake.wildcards.year)
    panel = (
        pl.scan_parquet(snakemake.input.panel)
        .select(PANEL_COLUMNS)
        .filter(pl.col("year") == year)
        .collect()
    )
    links, report = link_customs(pl.read_parquet(snakemake.input.customs), panel)
    write_parquet_atomic(links, snakemake.output.links)
    write_text_atomic(json.dumps(report, indent=2, default=str), snakemake.output.report)


runlog.run(main, snakemake.log[0], "match_customs")

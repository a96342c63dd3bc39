"""Rule match_customs: customs parties to ASIF firms (Yu 2015: name, then zip + phone), each
year of a batch on its own (links are one-to-one within a year), written as one file."""

import json

import polars as pl

from cbec import runlog
from cbec.data.io import write_parquet_atomic, write_text_atomic
from cbec.matching.customs import PANEL_COLUMNS, link_customs_years


def main() -> None:
    years = [int(y) for y in snakemake.params.years]
    panel = (
        pl.scan_parquet(snakemake.input.panel)
        .select(PANEL_COLUMNS)
        .filter(pl.col("year").is_in(years))
        .collect()
    )
    parties = pl.read_parquet(snakemake.input.customs)
    links, report = link_customs_years(parties, panel, years)
    write_parquet_atomic(links, snakemake.output.links)
    write_text_atomic(json.dumps(report, indent=2, default=str), snakemake.output.report)


runlog.run(main, snakemake.log[0], "match_customs")

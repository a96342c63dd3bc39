"""Rule match_customs: customs parties to ASIF firms (Yu 2015: name, then zip + phone)."""

import json
import logging

import polars as pl

from cbec import runlog
from cbec.data.coverage import match_rate_alarms
from cbec.data.io import write_parquet_atomic, write_text_atomic
from cbec.matching.customs import PANEL_COLUMNS, link_customs


def main() -> None:
    links, report = link_customs(
        pl.read_parquet(snakemake.input.customs),
        pl.read_parquet(snakemake.input.panel, columns=PANEL_COLUMNS),
    )
    for msg in match_rate_alarms(report["parties_by_year"], report["matched_by_year"]):
        logging.getLogger("match_customs").warning(msg)
    write_parquet_atomic(links, snakemake.output.links)
    write_text_atomic(json.dumps(report, indent=2, default=str), snakemake.output.report)


runlog.run(main, snakemake.log[0], "match_customs")

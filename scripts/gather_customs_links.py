"""Rule gather_customs_links: the customs-ASIF links and match reports of the batches of
years as one."""

import json
import logging

import polars as pl

from cbec import runlog
from cbec.data.coverage import match_rate_alarms
from cbec.data.io import write_parquet_atomic, write_text_atomic
from cbec.matching.customs import merge_reports


def main() -> None:
    links = pl.concat([pl.read_parquet(p) for p in snakemake.input.links], how="vertical")
    reports = [json.loads(open(p, encoding="utf-8").read()) for p in snakemake.input.reports]
    report = merge_reports(reports)
    for msg in match_rate_alarms(report["parties_by_year"], report["matched_by_year"]):
        logging.getLogger("gather_customs_links").warning(msg)
    write_parquet_atomic(links.sort("year", "party_code"), snakemake.output.links)
    write_text_atomic(json.dumps(report, indent=2, default=str), snakemake.output.report)


runlog.run(main, snakemake.log[0], "gather_customs_links")

"""Rule match_customs: customs parties to ASIF firms (Yu 2015: name, then zip + phone)."""

import json
import logging
from pathlib import Path

import polars as pl

from cbec import runlog
from cbec.data.io import write_parquet_atomic, write_text_atomic
from cbec.matching.customs import match_customs
from cbec.validation import customs_link_quality, row_truth


def main() -> None:
    log = logging.getLogger("match_customs")
    parties = pl.read_parquet(snakemake.input.customs)
    panel = pl.read_parquet(
        snakemake.input.panel, columns=["row_id", "year", "firm_id", "firm_name", "zip", "phone"]
    )
    links, report = match_customs(parties, panel)
    links = links.with_columns(pl.col("firm_id").cast(pl.Int64))
    truth = snakemake.params.truth
    if truth and Path(truth).exists():
        report["truth"] = customs_link_quality(
            links, row_truth(panel, snakemake.params.truth_firms), truth
        )
        log.info("against the truth: %s", report["truth"])
    write_parquet_atomic(links, snakemake.output.links)
    write_text_atomic(json.dumps(report, indent=2, default=str), snakemake.output.report)


runlog.run(main, snakemake.log[0], "match_customs")

"""Rule match_platform: scraped platform members to panel firms; clerical review aside."""

import json
import logging

import polars as pl

from cbec import runlog
from cbec.data.coverage import blank_name_alarm
from cbec.data.io import read_raw, write_parquet_atomic, write_text_atomic
from cbec.matching.platform import MEMBER_COLUMNS, PANEL_COLUMNS, link_members


def main() -> None:
    cfg = snakemake.params.matching
    members = read_raw(
        snakemake.input.members,
        "members",
        required=MEMBER_COLUMNS,
        encoding=snakemake.params.encoding,
    )
    alarm = blank_name_alarm(members["name_cn"], snakemake.input.members)
    if alarm:
        logging.getLogger("match_platform").warning(alarm)
    links, review, report = link_members(
        members,
        pl.read_parquet(snakemake.input.panel, columns=PANEL_COLUMNS),
        accept=cfg["accept_score"],
        review=cfg["review_score"],
        high=cfg["accept_without_corroboration"],
        source=snakemake.input.members,
        checks=snakemake.params.checks,
    )
    logging.getLogger("match_platform").info(
        "%d candidates for clerical review written to %s", review.height, snakemake.output.review
    )
    write_parquet_atomic(review, snakemake.output.review)
    write_parquet_atomic(links, snakemake.output.links)
    write_text_atomic(json.dumps(report, indent=2, default=str), snakemake.output.report)


runlog.run(main, snakemake.log[0], "match_platform")

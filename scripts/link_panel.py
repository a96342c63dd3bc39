"""Rule link_panel: a stable firm_id across years (Brandt et al. 2012 sequence)."""

import json
import logging

import polars as pl

from cbec import runlog
from cbec.data.io import write_parquet_atomic, write_text_atomic
from cbec.matching.link_panel import link_asif_panel


def main() -> None:
    panel, links, report = link_asif_panel(pl.read_parquet(snakemake.input[0]))
    logging.getLogger("link_panel").info("%s", report)
    write_parquet_atomic(links, snakemake.output.links)
    write_text_atomic(json.dumps(report, indent=2), snakemake.output.report)
    write_parquet_atomic(panel, snakemake.output.panel)


runlog.run(main, snakemake.log[0], "link_panel")

"""Rule link_panel: a stable firm_id across years (Brandt et al. 2012 sequence)."""

import json
import logging

import polars as pl

from cbec import runlog
from cbec.data.io import write_parquet_atomic, write_text_atomic
from cbec.matching.link_panel import link_panel


def main() -> None:
    log = logging.getLogger("link_panel")
    df = pl.read_parquet(snakemake.input[0])
    panel, links = link_panel(df)
    panel = panel.with_columns(pl.col("firm_id").cast(pl.Int64))
    by_method = links.group_by("method").len().sort("method")
    report = {
        "firm_years": panel.height,
        "firms": panel["firm_id"].n_unique(),
        "links": links.height,
        "links_by_method": dict(zip(by_method["method"], by_method["len"], strict=True)),
    }
    log.info("%s", report)
    write_parquet_atomic(links, snakemake.output.links)
    write_text_atomic(json.dumps(report, indent=2), snakemake.output.report)
    write_parquet_atomic(panel, snakemake.output.panel)


runlog.run(main, snakemake.log[0], "link_panel")

"""Rule validate_platform: member -> firm links of one platform against the synthetic truth."""

import json
import logging

import polars as pl

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.matching.quality import ROW_TRUTH_COLUMNS, member_quality_report, row_truth


def main() -> None:
    inp = snakemake.input
    rows = row_truth(
        pl.read_parquet(inp.panel, columns=["row_id", "year", "firm_id"]),
        pl.read_parquet(inp.firm_year, columns=ROW_TRUTH_COLUMNS),
    )
    quality = member_quality_report(
        pl.read_parquet(inp.links, columns=["member_id", "firm_id", "method"]),
        rows,
        pl.read_parquet(inp.members, columns=["list", "member_id", "true_firm", "unmatchable"]),
        snakemake.wildcards.platform,
    )
    logging.getLogger("validate_platform").info("against the truth: %s", quality)
    write_text_atomic(json.dumps(quality, indent=2), snakemake.output[0])


runlog.run(main, snakemake.log[0], f"validate_platform.{snakemake.wildcards.platform}")

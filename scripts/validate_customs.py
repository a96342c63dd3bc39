"""Rule validate_customs: customs party-year links against the synthetic truth."""

import json
import logging

import polars as pl

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.matching.quality import ROW_TRUTH_COLUMNS, customs_link_quality, row_truth


def main() -> None:
    inp = snakemake.input
    rows = row_truth(
        pl.read_parquet(inp.panel, columns=["row_id", "year", "firm_id"]),
        pl.read_parquet(inp.firm_year, columns=ROW_TRUTH_COLUMNS),
    )
    quality = customs_link_quality(pl.read_parquet(inp.links), rows, pl.read_parquet(inp.parties))
    logging.getLogger("validate_customs").info("against the truth: %s", quality)
    write_text_atomic(json.dumps(quality, indent=2), snakemake.output[0])


runlog.run(main, snakemake.log[0], "validate_customs")

"""Rule measure_industry: TFP and CU of one 2-digit industry (pooled fallbacks logged)."""

import json
import logging

from cbec import runlog
from cbec.data.io import write_parquet_atomic, write_text_atomic
from cbec.measures import driver


def main() -> None:
    ind2 = snakemake.wildcards.ind2
    cfg = snakemake.params.measures
    log = logging.getLogger(f"measure_industry.{ind2}")
    panel = driver.read_panel(snakemake.input.panel, cfg["industries"], driver.measure_columns(cfg))
    with open(snakemake.input.book_noise) as f:
        noise_var = json.load(f)["var"]
    measures, diagnostics = driver.estimate_industry(panel, ind2, cfg, log, noise_var=noise_var)
    write_parquet_atomic(measures, snakemake.output.measures)
    write_text_atomic(diagnostics.write_csv(), snakemake.output.diagnostics)


runlog.run(main, snakemake.log[0], f"measure_industry.{snakemake.wildcards.ind2}")

"""Rule bias_budget: Table 2 column (2) with the truth substituted one stage at a time."""

import json
import logging
from pathlib import Path

import polars as pl

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.validation.bias_budget import attach_truth, budget, population, stage_estimates
from cbec.validation.render import bias_budget_md


def main() -> None:
    inp, prm = snakemake.input, snakemake.params
    fy = pl.read_parquet(inp.firm_year)
    sample = attach_truth(
        pl.read_parquet(inp.sample),
        pl.read_parquet(inp.panel, columns=["row_id", "year", "firm_id"]),
        fy,
    )
    pop = population(fy, pl.read_parquet(inp.firms), list(prm.excluded))
    stages = stage_estimates(sample, pop, dict(prm.spec))
    truth = json.loads(Path(inp.truth).read_text())
    oracle = truth["calibration"]["utilization"].get("oracle_twfe_alibaba")
    unknown = sample.filter(pl.col("true_firm").is_null()).height
    out = budget(stages, oracle, unknown)
    logging.getLogger("bias_budget").info("gap %.5f over %d stages", out["gap"], len(stages))
    write_text_atomic(json.dumps(out, indent=2), snakemake.output.json)
    write_text_atomic(bias_budget_md(out), snakemake.output.md)


runlog.run(main, snakemake.log[0], "bias_budget")

"""Rule bias_budget: Table 2 column (2) with the truth substituted one stage at a time."""

import json
import logging
from pathlib import Path

import polars as pl

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.synth.calibration import TABLE1
from cbec.validation.bias_budget import (
    attach_truth,
    budget,
    population,
    precision_bound,
    stage_estimates,
)
from cbec.validation.paper import load_paper_results
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
    # the paper's residual sd of Table 2 column (2): Table 1's sd(cu) and the column's R²
    r2 = load_paper_results()["table2"]["columns"][1]["r2"]
    sigma = TABLE1["cu"][1] * (1 - r2) ** 0.5
    out["precision_bound"] = precision_bound(pop, list(prm.spec["fixed_effects"]), sigma)
    logging.getLogger("bias_budget").info("gap %.5f over %d stages", out["gap"], len(stages))
    write_text_atomic(json.dumps(out, indent=2), snakemake.output.json)
    write_text_atomic(bias_budget_md(out), snakemake.output.md)


runlog.run(main, snakemake.log[0], "bias_budget", threads=snakemake.threads)

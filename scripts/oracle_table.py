"""Rule oracle_table: one of Tables 2, 3, 4, 6 and 7 on the synthetic world's true outcomes
(its part of results/validation/oracle_tables.json)."""

import json

import polars as pl

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.validation.oracle import oracle_part, oracle_sample


def main() -> None:
    inp, prm = snakemake.input, snakemake.params
    firms, firm_year = pl.read_parquet(inp.firms), pl.read_parquet(inp.firm_year)
    sample = pl.read_parquet(inp.sample)
    panel = pl.read_parquet(inp.panel, columns=["row_id", "year", "firm_id"])
    df, dropped = oracle_sample(sample, panel, firm_year, firms)
    outcome_only, _ = oracle_sample(sample, panel, firm_year, firms, treatment=False)
    name = snakemake.wildcards.table
    out = oracle_part(
        df, outcome_only, dict(prm.spec), dict(prm.common), name, dropped, int(prm.seed)
    )
    write_text_atomic(json.dumps(out, indent=2, ensure_ascii=False), snakemake.output[0])


runlog.run(
    main, snakemake.log[0], f"oracle_table_{snakemake.wildcards.table}", threads=snakemake.threads
)

"""Rule oracle_tables: Tables 2, 3, 4, 6 and 7 on the synthetic world's true outcomes."""

import json

import polars as pl

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.validation.oracle import oracle_sample, oracle_tables, realized_interactions


def main() -> None:
    inp, prm = snakemake.input, snakemake.params
    firms, firm_year = pl.read_parquet(inp.firms), pl.read_parquet(inp.firm_year)
    sample = pl.read_parquet(inp.sample)
    panel = pl.read_parquet(inp.panel, columns=["row_id", "year", "firm_id"])
    df, dropped = oracle_sample(sample, panel, firm_year, firms)
    outcome_only, _ = oracle_sample(sample, panel, firm_year, firms, treatment=False)
    out = oracle_tables(df, dict(prm.specs), dict(prm.common), dropped, int(prm.seed), outcome_only)
    out["realized_interactions"] = realized_interactions(firm_year, firms, list(prm.excluded))
    write_text_atomic(json.dumps(out, indent=2, ensure_ascii=False), snakemake.output[0])


runlog.run(main, snakemake.log[0], "oracle_tables", threads=snakemake.threads)

"""Rule oracle_tables: Tables 2, 3, 4, 6 and 7 on the synthetic world's true outcomes."""

import json

import polars as pl

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.validation.oracle import oracle_sample, oracle_tables, realized_interactions


def main() -> None:
    inp, prm = snakemake.input, snakemake.params
    firms = pl.read_parquet(inp.firms)
    df, dropped = oracle_sample(
        pl.read_parquet(inp.sample),
        pl.read_parquet(inp.panel, columns=["row_id", "year", "firm_id"]),
        pl.read_parquet(inp.firm_year),
        firms,
    )
    out = oracle_tables(df, dict(prm.specs), dict(prm.common), dropped, int(prm.seed))
    out["realized_interactions"] = realized_interactions(
        pl.read_parquet(inp.firm_year), firms, list(prm.excluded)
    )
    write_text_atomic(json.dumps(out, indent=2, ensure_ascii=False), snakemake.output[0])


runlog.run(main, snakemake.log[0], "oracle_tables", threads=snakemake.threads)

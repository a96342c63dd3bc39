"""Rule oracle_tables: the oracle tables of the oracle_table jobs and the realized Table 7
interactions in results/validation/oracle_tables.json."""

import json
from pathlib import Path

import polars as pl

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.validation.oracle import gather_oracle_tables, realized_interactions


def main() -> None:
    inp, prm = snakemake.input, snakemake.params
    parts = {
        name: json.loads(Path(path).read_text(encoding="utf-8"))
        for name, path in zip(prm.names, inp.parts, strict=True)
    }
    firms, firm_year = pl.read_parquet(inp.firms), pl.read_parquet(inp.firm_year)
    realized = realized_interactions(firm_year, firms, list(prm.excluded))
    out = gather_oracle_tables(parts, realized)
    write_text_atomic(json.dumps(out, indent=2, ensure_ascii=False), snakemake.output[0])


runlog.run(main, snakemake.log[0], "oracle_tables")

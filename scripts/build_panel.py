"""Rule build_panel: the firm-year panel with real values, controls, exports, treatment."""

import logging

import polars as pl

from cbec import runlog
from cbec.data.external import read_series
from cbec.data.io import write_parquet_atomic
from cbec.data.panel import assemble_panel, firm_year_exports


def main() -> None:
    log = logging.getLogger("build_panel")
    panel = pl.read_parquet(snakemake.input.panel)
    deflators = read_series(
        snakemake.input.deflators,
        {
            "ind2": pl.String,
            "year": pl.Int64,
            "output_deflator": pl.Float64,
            "input_deflator": pl.Float64,
        },
    )
    exports = firm_year_exports(
        pl.read_parquet(snakemake.input.customs), pl.read_parquet(snakemake.input.customs_links)
    )
    out = assemble_panel(
        panel,
        exports,
        pl.read_parquet(snakemake.input.alibaba),
        pl.read_parquet(snakemake.input.mic),
        deflators,
        **snakemake.params.panel,
    )
    if out.height != panel.height:
        raise AssertionError(
            f"build_panel changed the number of rows: {panel.height} -> {out.height}"
        )
    log.info(
        "%d firm-years, %d firms; customs-matched firm-years %d; platform firm-years %d",
        out.height,
        out["firm_id"].n_unique(),
        out["customs_matched"].sum(),
        out["platform"].sum(),
    )
    write_parquet_atomic(out, snakemake.output.panel)


runlog.run(main, snakemake.log[0], "build_panel")

"""Rule build_panel: the firm-year panel with real values, controls, exports, treatment."""

import logging

import polars as pl

from cbec import runlog
from cbec.data.external import read_series
from cbec.data.io import write_parquet_atomic
from cbec.data.panel import assemble_panel, firm_year_exports, read_linked_panel


def log_capital(log: logging.Logger, counts: pl.DataFrame) -> None:
    """One line per year: how the capital stocks were started and depreciated."""
    log.info(
        "capital per year: firm-years = start_entry + start_restart (Δ original value "
        "unknown: restart from net/P) + continued = rate_book + rate_carried + rate_default "
        "(depreciation in use); k_use_missing: no ln_k_use (net fixed assets missing or <= 0)"
    )
    for row in counts.iter_rows(named=True):
        log.info("capital %s", ", ".join(f"{k}={v}" for k, v in row.items()))


def main() -> None:
    log = logging.getLogger("build_panel")
    panel = read_linked_panel(snakemake.input.panel)
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
        on_capital=lambda counts: log_capital(log, counts),
        deflators_source=snakemake.input.deflators,
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

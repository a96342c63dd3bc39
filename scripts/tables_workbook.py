"""Rule tables_workbook: results/tables/tables.xlsx, every table on its own sheet."""

from cbec import runlog
from cbec.tables.run import run_workbook


def main() -> None:
    run_workbook(
        list(snakemake.input.estimates),
        list(snakemake.params.names),
        snakemake.params.specs,
        snakemake.params.style,
        snakemake.output[0],
    )


runlog.run(main, snakemake.log[0], "tables_workbook")

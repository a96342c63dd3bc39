"""Rule table: estimate one table, write results/estimates/<table>.json and render it."""

from cbec import runlog
from cbec.tables.run import run_table


def main() -> None:
    run_table(
        snakemake.input.sample,
        dict(snakemake.output),
        snakemake.wildcards.table,
        snakemake.params.spec,
        snakemake.params.common,
        snakemake.params.style,
        snakemake.params.seed,
    )


runlog.run(main, snakemake.log[0], snakemake.wildcards.table, threads=snakemake.threads)

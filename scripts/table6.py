"""Rule table6: estimate, write results/estimates/table6.json and render the table."""

from cbec import runlog
from cbec.tables.run import run_table


def main() -> None:
    run_table(
        snakemake.input.sample,
        dict(snakemake.output),
        snakemake.params.name,
        snakemake.params.spec,
        snakemake.params.common,
        snakemake.params.style,
        snakemake.params.seed,
    )


runlog.run(main, snakemake.log[0], "table6")

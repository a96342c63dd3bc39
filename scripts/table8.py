"""Rule table8: event-study estimates, results/estimates/table8.json, the table and figure."""

from cbec import runlog
from cbec.report.event_study import run_table8


def main() -> None:
    run_table8(
        snakemake.input.sample,
        dict(snakemake.output),
        snakemake.params.spec,
        snakemake.params.style,
        snakemake.params.name,
    )


runlog.run(main, snakemake.log[0], "table8")

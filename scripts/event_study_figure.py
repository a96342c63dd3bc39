"""Rule event_study_figure: the event-study figure (PNG + PDF) from its table's estimates."""

from cbec import runlog
from cbec.report.figures import run_event_study_figure


def main() -> None:
    run_event_study_figure(
        snakemake.input.estimates,
        snakemake.output.png,
        dpi=snakemake.params.dpi,
        lang=snakemake.params.lang,
    )


runlog.run(main, snakemake.log[0], "event_study_figure")

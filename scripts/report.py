"""Rule report: the self-contained results/report.html (tables, figures, logs, provenance)."""

from cbec import runlog
from cbec.report.report import run_report


def main() -> None:
    inp = snakemake.input
    run_report(
        tables=inp.tables,
        figures=inp.figures,
        attrition=inp.attrition,
        match_reports=inp.match_reports,
        validation=inp.validation,
        diagnostics=inp.diagnostics,
        book_noise=inp.book_noise,
        calibration=inp.calibration[0] if inp.calibration else None,
        pages=list(inp.pages),
        config=snakemake.config,
        input_files=snakemake.params.input_files,
        output=snakemake.output[0],
        repo=snakemake.params.repo,
        title=snakemake.params.title,
    )


runlog.run(main, snakemake.log[0], "report")

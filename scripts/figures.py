"""Rule figures: CU distribution, PSM balance, match scores and first stage (PNG + PDF)."""

from cbec import runlog
from cbec.report.figures import run_figures


def main() -> None:
    run_figures(
        snakemake.input.sample,
        snakemake.input.table4,
        dict(zip(snakemake.params.platforms, snakemake.input.links, strict=True)),
        dict(zip(snakemake.params.platforms, snakemake.input.link_reports, strict=True)),
        dict(zip(snakemake.params.platforms, snakemake.input.review, strict=True)),
        {name: snakemake.output[name] for name in snakemake.params.figures},
        instruments=snakemake.params.spec["instruments"],
        bins=snakemake.params.spec["bins"],
        dpi=snakemake.params.spec["dpi"],
        lang=snakemake.params.lang,
    )


runlog.run(main, snakemake.log[0], "figures")

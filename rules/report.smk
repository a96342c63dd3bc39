# The self-contained HTML report: every table and figure, attrition, match quality,
# calibration (synthetic world), measures diagnostics and provenance (no timestamps).


rule report:
    input:
        tables=[f"results/tables/{t}.{ext}" for t in TABLES for ext in ("html", "md")],
        figures=figure_files(),
        attrition=[
            "results/logs/attrition_asif.csv",
            "results/logs/attrition_sample.csv",
        ],
        match_reports=expand(
            "results/links/{name}_report.json",
            name=["panel_links", "customs_asif", *PLATFORMS],
        ),
        # precision and recall against the truth (rules/validation.smk), synthetic world only
        validation=expand(
            "results/validation/{name}_quality.json",
            name=["panel_links", "customs_asif", *PLATFORMS] if SYNTHETIC else [],
        ),
        diagnostics="results/measures/diagnostics.csv",
        book_noise="results/measures/book_noise.json",
        calibration=["results/synthetic/calibration.md"] if SYNTHETIC else [],
        pages=report_pages(),
        raw=[p for _, p in report_input_files()],
    output:
        "results/report.html",
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        input_files=report_input_files(),
        repo=workflow.basedir,
        title=config["extensions"]["report"]["title"],
    script:
        "../scripts/report.py"

# Beyond the paper: figures. The event-study figure is drawn from the estimates of the
# event-study table that declares it (tables.specs.<table>.figure); the diagnostic figures
# from the sample, Table 4 and the match results. Settings: config.yaml `extensions`.

EXT = config["extensions"]


rule event_study_figure:
    input:
        estimates=lambda w: f"results/estimates/{EVENT_STUDY_FIGURES[w.figure]}.json",
    output:
        png="results/figures/{figure}.png",
        pdf="results/figures/{figure}.pdf",
    log:
        "results/logs/{figure}_figure.log",
    benchmark:
        "results/benchmarks/{figure}_figure.tsv"
    wildcard_constraints:
        figure="|".join(EVENT_STUDY_FIGURES),
    conda:
        "../envs/cbec.yaml"
    params:
        dpi=EXT["figures"]["dpi"],
        lang=config["tables"]["lang"],
    script:
        "../scripts/event_study_figure.py"


rule figures:
    input:
        sample="results/analysis/sample.parquet",
        table4="results/estimates/table4.json",
        links=expand("results/links/{p}_panel.parquet", p=PLATFORMS),
        link_reports=expand("results/links/{p}_report.json", p=PLATFORMS),
        # confidential (names): only the `score` column is read
        review=expand(REVIEW_FILE, platform=PLATFORMS),
    output:
        **{n: f"results/figures/{n}.png" for n in DIAGNOSTIC_FIGURES},
        pdf=[f"results/figures/{n}.pdf" for n in DIAGNOSTIC_FIGURES],
    log:
        "results/logs/figures.log",
    benchmark:
        "results/benchmarks/figures.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        figures=DIAGNOSTIC_FIGURES,
        platforms=PLATFORMS,
        spec=EXT["figures"],
        lang=config["tables"]["lang"],
    script:
        "../scripts/figures.py"

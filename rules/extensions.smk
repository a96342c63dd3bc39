# Beyond the paper: the event-study Table 8 (heterogeneity-robust estimators for staggered
# adoption) and diagnostic figures. Settings: config.yaml `extensions`.

EXT = config["extensions"]
EVENT_STUDY_SPEC = {
    **EXT["event_study"],
    "fixed_effects": config["tables"]["fixed_effects"],
    "cluster": config["tables"]["cluster"],
    "controls": config["tables"]["controls"] if EXT["event_study"]["controls"] else [],
    "dpi": EXT["figures"]["dpi"],
}
PLATFORMS = ["alibaba", "mic"]
DIAGNOSTIC_FIGURES = ["cu_distribution", "psm_balance", "match_scores", "first_stage"]


rule table8:
    input:
        sample="results/analysis/sample.parquet",
    output:
        **table_outputs("table8"),
        png="results/figures/event_study.png",
        pdf="results/figures/event_study.pdf",
    log:
        "results/logs/table8.log",
    benchmark:
        "results/benchmarks/table8.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        name="table8",
        spec=EVENT_STUDY_SPEC,
        style=TABLE_STYLE,
    script:
        "../scripts/table8.py"


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
    script:
        "../scripts/figures.py"

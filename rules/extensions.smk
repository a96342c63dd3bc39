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
        # written by match_platform as a side effect; confidential: only `score` is read
        review={
            p: f"{config['matching']['review_dir']}/{p}_review.parquet"
            for p in PLATFORMS
        },
        spec=EXT["figures"],
    script:
        "../scripts/figures.py"

# Match quality against the synthetic truth (synthetic world only; included by the Snakefile
# when inputs.source is synthetic): precision and recall of the panel, customs and platform
# links. With the calibration, the only rules that read resources/truth; their files feed
# the report, never a table.


rule validate_panel_links:
    input:
        panel="results/interim/asif_panel.parquet",
        firm_year="resources/truth/firm_year.parquet",
    output:
        "results/validation/panel_links_quality.json",
    log:
        "results/logs/validate_panel_links.log",
    benchmark:
        "results/benchmarks/validate_panel_links.tsv"
    conda:
        "../envs/cbec.yaml"
    script:
        "../scripts/validate_panel_links.py"


rule validate_customs:
    input:
        links="results/links/customs_asif.parquet",
        panel="results/interim/asif_panel.parquet",
        firm_year="resources/truth/firm_year.parquet",
        parties="resources/truth/customs_parties.parquet",
    output:
        "results/validation/customs_asif_quality.json",
    log:
        "results/logs/validate_customs.log",
    benchmark:
        "results/benchmarks/validate_customs.tsv"
    conda:
        "../envs/cbec.yaml"
    script:
        "../scripts/validate_customs.py"


rule validate_platform:
    input:
        links="results/links/{platform}_panel.parquet",
        panel="results/interim/asif_panel.parquet",
        firm_year="resources/truth/firm_year.parquet",
        members="resources/truth/members.parquet",
    output:
        "results/validation/{platform}_quality.json",
    log:
        "results/logs/validate_platform_{platform}.log",
    benchmark:
        "results/benchmarks/validate_platform_{platform}.tsv"
    wildcard_constraints:
        platform="alibaba|mic",
    conda:
        "../envs/cbec.yaml"
    script:
        "../scripts/validate_platform.py"

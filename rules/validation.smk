# Match quality against the synthetic truth (synthetic world only; included by the Snakefile
# when inputs.source is synthetic): precision and recall of the panel, customs and platform
# links. With the calibration and, on the synthetic world, the scorecard (rules/tables.smk),
# the only rules that read resources/truth; their files feed the report, never a table.


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


# Tables 2, 3, 4, 6 and 7 re-estimated with the paper's specifications on the world's true
# outcomes and platform status (same rows, controls and Table 7 groups as the pipeline's;
# Table 4 matched again on the true platform status and join year, with the pipeline's
# covariates and seed): the like-for-like truth of the scorecard (cbec.validation.oracle).
# One job per table (each on the true outcome and platform status, then on the true outcome
# alone), put together with the realized Table 7 interactions by oracle_tables.
rule oracle_table:
    input:
        sample="results/analysis/sample.parquet",
        panel="results/interim/asif_panel.parquet",
        firm_year="resources/truth/firm_year.parquet",
        firms="resources/truth/firms.parquet",
    output:
        "results/validation/oracle/{table}.json",
    log:
        "results/logs/oracle_table_{table}.log",
    benchmark:
        "results/benchmarks/oracle_table_{table}.tsv"
    wildcard_constraints:
        table="|".join(ORACLE_NAMES),
    conda:
        "../envs/cbec.yaml"
    threads: 2
    params:
        spec=lambda w: config["tables"]["specs"][w.table],
        common=TABLE_COMMON,
        seed=config["seed"],
    script:
        "../scripts/oracle_table.py"


rule oracle_tables:
    input:
        parts=expand("results/validation/oracle/{table}.json", table=ORACLE_NAMES),
        firm_year="resources/truth/firm_year.parquet",
        firms="resources/truth/firms.parquet",
    output:
        "results/validation/oracle_tables.json",
    log:
        "results/logs/oracle_tables.log",
    benchmark:
        "results/benchmarks/oracle_tables.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        names=ORACLE_NAMES,
        excluded=config["years"]["excluded"],
    script:
        "../scripts/oracle_tables.py"


# Table 2 column (2) re-estimated with the truth substituted one stage at a time (true
# links, true utilization, no controls, the full population, the oracle's specification);
# the steps telescope to the gap between the oracle and the pipeline's estimate.
rule bias_budget:
    input:
        sample="results/analysis/sample.parquet",
        panel="results/interim/asif_panel.parquet",
        firm_year="resources/truth/firm_year.parquet",
        firms="resources/truth/firms.parquet",
        truth="resources/truth/params.json",
    output:
        json="results/validation/bias_budget.json",
        md="results/validation/bias_budget.md",
    log:
        "results/logs/bias_budget.log",
    benchmark:
        "results/benchmarks/bias_budget.tsv"
    conda:
        "../envs/cbec.yaml"
    threads: 2
    params:
        spec=headline_spec(config),
        excluded=config["years"]["excluded"],
    script:
        "../scripts/bias_budget.py"

# The tables declared in config.yaml `tables.specs`: one job per table renders
# results/tables/<name>.{tex,md,html} from results/estimates/<name>.json. The params are
# functions of the wildcard, so editing one table's spec reruns only that table.
# TABLE_COMMON (the settings every table shares) is defined in common.smk. The scorecard
# (last rule) sets the published cells against ours, and on the synthetic world reads its truth.


rule table:
    input:
        sample="results/analysis/sample.parquet",
    output:
        **table_outputs("{table}"),
    log:
        "results/logs/{table}.log",
    benchmark:
        "results/benchmarks/{table}.tsv"
    wildcard_constraints:
        table="|".join(TABLES),
    conda:
        "../envs/cbec.yaml"
    threads: 2
    params:
        spec=lambda w: config["tables"]["specs"][w.table],
        common=TABLE_COMMON,
        style=TABLE_STYLE,
        seed=config["seed"],
    script:
        "../scripts/table.py"


# every table on its own sheet of one Excel workbook, rendered from the estimates JSON
rule tables_workbook:
    input:
        estimates=expand("results/estimates/{table}.json", table=TABLES),
    output:
        "results/tables/tables.xlsx",
    log:
        "results/logs/tables_workbook.log",
    benchmark:
        "results/benchmarks/tables_workbook.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        names=TABLES,
        specs=config["tables"]["specs"],
        style=TABLE_STYLE,
    script:
        "../scripts/tables_workbook.py"


# The paper's published Tables 2-7 (src/cbec/validation/paper_results.yaml) cell by cell
# against this run's estimates, on any data; on the synthetic world also against its truth
# (same-specification oracle, else the planted or population-oracle value; flag where it
# lies outside our 95 % interval).
rule scorecard:
    input:
        unpack(scorecard_inputs),
    output:
        json="results/validation/scorecard.json",
        md="results/validation/scorecard.md",
    log:
        "results/logs/scorecard.log",
    benchmark:
        "results/benchmarks/scorecard.tsv"
    conda:
        "../envs/cbec.yaml"
    script:
        "../scripts/scorecard.py"

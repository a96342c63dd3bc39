# The tables declared in config.yaml `tables.specs`: one job per table renders
# results/tables/<name>.{tex,md,html} from results/estimates/<name>.json. The params are
# functions of the wildcard, so editing one table's spec reruns only that table.
# TABLE_COMMON (the settings every table shares) is defined in common.smk.


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

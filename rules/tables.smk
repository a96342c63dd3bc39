# The paper's tables: each renders results/tables/<name>.{tex,md,html} from the estimates
# JSON. One rule and one script per table, so editing one table's spec or script reruns only
# that table.

TABLE_STYLE = {k: config["tables"][k] for k in ("stat", "lang")}
TABLE_COMMON = {
    k: config["tables"][k]
    for k in ("fixed_effects", "cluster", "controls", "min_firms", "wild_bootstrap")
}


rule table1:
    input:
        sample="results/analysis/sample.parquet",
    output:
        **table_outputs("table1"),
    log:
        "results/logs/table1.log",
    benchmark:
        "results/benchmarks/table1.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        name="table1",
        spec=config["tables"]["specs"]["table1"],
        common=TABLE_COMMON,
        style=TABLE_STYLE,
        seed=config["seed"],
    script:
        "../scripts/table1.py"


rule table2:
    input:
        sample="results/analysis/sample.parquet",
    output:
        **table_outputs("table2"),
    log:
        "results/logs/table2.log",
    benchmark:
        "results/benchmarks/table2.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        name="table2",
        spec=config["tables"]["specs"]["table2"],
        common=TABLE_COMMON,
        style=TABLE_STYLE,
        seed=config["seed"],
    script:
        "../scripts/table2.py"


rule table3:
    input:
        sample="results/analysis/sample.parquet",
    output:
        **table_outputs("table3"),
    log:
        "results/logs/table3.log",
    benchmark:
        "results/benchmarks/table3.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        name="table3",
        spec=config["tables"]["specs"]["table3"],
        common=TABLE_COMMON,
        style=TABLE_STYLE,
        seed=config["seed"],
    script:
        "../scripts/table3.py"


rule table4:
    input:
        sample="results/analysis/sample.parquet",
    output:
        **table_outputs("table4"),
    log:
        "results/logs/table4.log",
    benchmark:
        "results/benchmarks/table4.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        name="table4",
        spec=config["tables"]["specs"]["table4"],
        common=TABLE_COMMON,
        style=TABLE_STYLE,
        seed=config["seed"],
    script:
        "../scripts/table4.py"


rule table5:
    input:
        sample="results/analysis/sample.parquet",
    output:
        **table_outputs("table5"),
    log:
        "results/logs/table5.log",
    benchmark:
        "results/benchmarks/table5.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        name="table5",
        spec=config["tables"]["specs"]["table5"],
        common=TABLE_COMMON,
        style=TABLE_STYLE,
        seed=config["seed"],
    script:
        "../scripts/table5.py"


rule table6:
    input:
        sample="results/analysis/sample.parquet",
    output:
        **table_outputs("table6"),
    log:
        "results/logs/table6.log",
    benchmark:
        "results/benchmarks/table6.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        name="table6",
        spec=config["tables"]["specs"]["table6"],
        common=TABLE_COMMON,
        style=TABLE_STYLE,
        seed=config["seed"],
    script:
        "../scripts/table6.py"


rule table7:
    input:
        sample="results/analysis/sample.parquet",
    output:
        **table_outputs("table7"),
    log:
        "results/logs/table7.log",
    benchmark:
        "results/benchmarks/table7.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        name="table7",
        spec=config["tables"]["specs"]["table7"],
        common=TABLE_COMMON,
        style=TABLE_STYLE,
        seed=config["seed"],
    script:
        "../scripts/table7.py"

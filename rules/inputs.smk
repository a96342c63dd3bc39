# `snakemake check_inputs` (`make check-inputs`): every configured input file checked against
# the contract of docs/data.md without running the pipeline, one line per problem.


rule check_inputs:
    log:
        "results/logs/check_inputs.log",
    conda:
        "../envs/cbec.yaml"
    params:
        inputs=config["inputs"],
        years=YEARS,
        cleaning=config["cleaning"],
        members=config["members"],
        last_year=config["years"]["last"],
    script:
        "../scripts/check_inputs.py"

# The synthetic world: raw inputs shaped like the licensed files, and the truth.


rule synthesize:
    output:
        asif=[f"resources/raw/asif/asif_{y}.parquet" for y in YEARS],
        customs=[f"resources/raw/customs/customs_{y}.parquet" for y in YEARS],
        alibaba="resources/raw/members/alibaba.parquet",
        mic="resources/raw/members/mic.parquet",
        external=expand(
            "resources/raw/external/{name}.csv",
            name=[
                "cities",
                "counties",
                "it_revenue",
                "internet_ports",
                "it_weights",
                "deflators",
            ],
        ),
        truth=expand(
            "resources/truth/{name}",
            name=[
                "params.json",
                "firms.parquet",
                "firm_year.parquet",
                "customs_parties.parquet",
                "members.parquet",
            ],
        ),
    log:
        "results/logs/synthesize.log",
    benchmark:
        "results/benchmarks/synthesize.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        synthetic=config["synthetic"],
        preset=config["preset"],
        seed=config["seed"],
    script:
        "../scripts/synthesize.py"


rule calibration:
    input:
        alibaba=rules.synthesize.output.alibaba,
        truth=rules.synthesize.output.truth,
    output:
        "results/synthetic/calibration.md",
    log:
        "results/logs/calibration.log",
    benchmark:
        "results/benchmarks/calibration.tsv"
    conda:
        "../envs/cbec.yaml"
    script:
        "../scripts/calibration.py"

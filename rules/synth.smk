# The synthetic world: raw inputs shaped like the licensed files, and the truth. One job
# simulates the world and writes everything, with the customs years that share a batch
# (CUSTOMS_BATCHES: small years); a year in a batch of its own (a large year) is a job of
# its own (synthesize_customs), drawn from the customs plan the world's job writes.
WORLD_CUSTOMS_YEARS = [y for b in CUSTOMS_BATCHES if "-" in b for y in batch_years(b)]
# a {year} of synthesize_customs: the other years (a pattern that matches nothing if none)
OWN_CUSTOMS_YEARS = (
    "|".join(str(y) for y in YEARS if y not in WORLD_CUSTOMS_YEARS) or "(?!)"
)


rule synthesize:
    output:
        asif=[f"resources/raw/asif/asif_{y}.parquet" for y in YEARS],
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
        # every customs year's active parties and what their transactions are drawn from
        customs_plan="resources/truth/customs_plan.parquet",
        # the customs years that share a batch, drawn from the plan (as synthesize_customs)
        customs=[raw_path("customs", y) for y in WORLD_CUSTOMS_YEARS],
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
        customs_years=WORLD_CUSTOMS_YEARS,
    script:
        "../scripts/synthesize.py"


# a large customs year, one job per year: its own random stream (seed, year), so the years are
# the same bytes whichever jobs write them, in any order. The format is the one the inputs ask
# for: parquet, or GBK CSV for the years of synthetic.customs.csv_years (customs_by_year)
rule synthesize_customs:
    input:
        plan=rules.synthesize.output.customs_plan,
    output:
        "resources/raw/customs/customs_{year}.{fmt}",
    log:
        "results/logs/synthesize_customs_{year}.{fmt}.log",
    benchmark:
        "results/benchmarks/synthesize_customs/{year}.{fmt}.tsv"
    wildcard_constraints:
        year=OWN_CUSTOMS_YEARS,
        fmt="parquet|csv",
    conda:
        "../envs/cbec.yaml"
    params:
        synthetic=config["synthetic"],
        preset=config["preset"],
        seed=config["seed"],
    script:
        "../scripts/synthesize_customs.py"


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

# Firm-level measures (paper, section 3): TFP (LP, OP) and capacity utilization (YJZ, SFA)
# estimated per 2-digit industry, one job per industry so a cluster runs them in parallel.
# Small or failing industries fall back to pooled estimates (src/cbec/measures/driver.py).
# book_noise pools all industries for the variance of the book noise in ln depreciation
# (the deconvolved normalization of the YJZ level needs more firms than one industry has).

MEASURE_INDUSTRIES = config["measures"]["industries"]


rule book_noise:
    input:
        "results/panel/panel.parquet",
    output:
        "results/measures/book_noise.json",
    log:
        "results/logs/measures/book_noise.log",
    benchmark:
        "results/benchmarks/book_noise.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        measures=config["measures"],
    script:
        "../scripts/book_noise.py"


rule measure_industry:
    input:
        panel="results/panel/panel.parquet",
        book_noise="results/measures/book_noise.json",
    output:
        measures="results/measures/by_industry/{ind2}.parquet",
        diagnostics="results/measures/by_industry/{ind2}_diagnostics.csv",
    log:
        "results/logs/measures/{ind2}.log",
    benchmark:
        "results/benchmarks/measure_industry/{ind2}.tsv"
    wildcard_constraints:
        ind2="[0-9]{2}",
    conda:
        "../envs/cbec.yaml"
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        measures=config["measures"],
    script:
        "../scripts/measure_industry.py"


rule tfp:
    input:
        expand("results/measures/by_industry/{ind2}.parquet", ind2=MEASURE_INDUSTRIES),
    output:
        "results/measures/tfp.parquet",
    log:
        "results/logs/measures/tfp.log",
    benchmark:
        "results/benchmarks/tfp.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        columns=["tfp_op", "tfp_lp"],
    script:
        "../scripts/gather_measures.py"


rule cu:
    input:
        expand("results/measures/by_industry/{ind2}.parquet", ind2=MEASURE_INDUSTRIES),
    output:
        "results/measures/cu.parquet",
    log:
        "results/logs/measures/cu.log",
    benchmark:
        "results/benchmarks/cu.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        columns=["cu", "cu_sfa_cd", "cu_sfa_tl"],
    script:
        "../scripts/gather_measures.py"


rule measures_diagnostics:
    input:
        expand(
            "results/measures/by_industry/{ind2}_diagnostics.csv",
            ind2=MEASURE_INDUSTRIES,
        ),
    output:
        "results/measures/diagnostics.csv",
    log:
        "results/logs/measures/diagnostics.log",
    benchmark:
        "results/benchmarks/measures_diagnostics.tsv"
    conda:
        "../envs/cbec.yaml"
    script:
        "../scripts/gather_diagnostics.py"

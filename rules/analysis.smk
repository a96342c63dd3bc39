# The analysis sample (paper, section 4): population, years, winsorizing, instruments.


rule analysis_sample:
    input:
        panel="results/panel/panel.parquet",
        tfp="results/measures/tfp.parquet",
        cu="results/measures/cu.parquet",
        cities=raw_path("cities"),
        counties=raw_path("counties"),
        it_revenue=raw_path("it_revenue"),
        internet_ports=raw_path("internet_ports"),
        it_weights=raw_path("it_weights"),
        manifests=manifests(
            "cities", "counties", "it_revenue", "internet_ports", "it_weights"
        ),
    output:
        sample="results/analysis/sample.parquet",
        attrition="results/logs/attrition_sample.csv",
    log:
        "results/logs/analysis_sample.log",
    benchmark:
        "results/benchmarks/analysis_sample.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        analysis=config["analysis"],
        years=ANALYSIS_YEARS,
    script:
        "../scripts/analysis_sample.py"

# Data construction (paper, section 4.4): ASIF cleaned and linked into a firm panel, merged
# with customs by firm, then with the platform member lists.

# borderline platform-match candidates for clerical review (names: confidential, git-ignored)
REVIEW_FILE = f"{config['matching']['review_dir']}/{{platform}}_review.parquet"


rule clean_asif:
    input:
        asif=raw_years("asif"),
        cities=raw_path("cities"),
        manifests=manifests("asif", "cities"),
    output:
        clean="results/interim/asif_clean.parquet",
        attrition="results/logs/attrition_asif.csv",
        missing="results/logs/missing_asif.csv",
    log:
        "results/logs/clean_asif.log",
    benchmark:
        "results/benchmarks/clean_asif.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        years=YEARS,
        cleaning=config["cleaning"],
        encoding=config["inputs"]["csv_encoding"],
    script:
        "../scripts/clean_asif.py"


rule link_panel:
    input:
        "results/interim/asif_clean.parquet",
    output:
        panel="results/interim/asif_panel.parquet",
        links="results/links/panel_links.parquet",
        report="results/links/panel_links_report.json",
    log:
        "results/logs/link_panel.log",
    benchmark:
        "results/benchmarks/link_panel.tsv"
    conda:
        "../envs/cbec.yaml"
    script:
        "../scripts/link_panel.py"


# customs, one job per batch of years (CUSTOMS_BATCHES: small years share a job, a large year
# has its own, so a cluster runs the large years in parallel); a job streams its years one
# at a time and writes them as one file, read by the gathering rules
CUSTOMS_BATCH = "results/interim/customs/customs_{batch}.parquet"
CUSTOMS_LINKS_BATCH = "results/links/customs/customs_asif_{batch}.parquet"
CUSTOMS_REPORT_BATCH = "results/links/customs/customs_asif_{batch}_report.json"


rule aggregate_customs:
    input:
        customs=lambda w: [raw_path("customs", y) for y in batch_years(w.batch)],
        manifests=manifests("customs"),
    output:
        CUSTOMS_BATCH,
    log:
        "results/logs/aggregate_customs_{batch}.log",
    benchmark:
        "results/benchmarks/aggregate_customs/{batch}.tsv"
    wildcard_constraints:
        batch=BATCH_PATTERN,
    conda:
        "../envs/cbec.yaml"
    params:
        years=lambda w: batch_years(w.batch),
        encoding=config["inputs"]["csv_encoding"],
    script:
        "../scripts/aggregate_customs.py"


rule gather_customs:
    input:
        expand(CUSTOMS_BATCH, batch=CUSTOMS_BATCHES),
    output:
        "results/interim/customs_firm_year.parquet",
    log:
        "results/logs/gather_customs.log",
    benchmark:
        "results/benchmarks/gather_customs.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        years=YEARS,
    script:
        "../scripts/gather_customs.py"


rule match_customs:
    input:
        customs=CUSTOMS_BATCH,
        panel="results/interim/asif_panel.parquet",
    output:
        links=CUSTOMS_LINKS_BATCH,
        report=CUSTOMS_REPORT_BATCH,
    log:
        "results/logs/match_customs_{batch}.log",
    benchmark:
        "results/benchmarks/match_customs/{batch}.tsv"
    wildcard_constraints:
        batch=BATCH_PATTERN,
    conda:
        "../envs/cbec.yaml"
    params:
        years=lambda w: batch_years(w.batch),
    script:
        "../scripts/match_customs.py"


rule gather_customs_links:
    input:
        links=expand(CUSTOMS_LINKS_BATCH, batch=CUSTOMS_BATCHES),
        reports=expand(CUSTOMS_REPORT_BATCH, batch=CUSTOMS_BATCHES),
    output:
        links="results/links/customs_asif.parquet",
        report="results/links/customs_asif_report.json",
    log:
        "results/logs/gather_customs_links.log",
    benchmark:
        "results/benchmarks/gather_customs_links.tsv"
    conda:
        "../envs/cbec.yaml"
    script:
        "../scripts/gather_customs_links.py"


rule match_platform:
    input:
        members=lambda w: raw_path(w.platform),
        manifests=lambda w: manifests(w.platform),
        panel="results/interim/asif_panel.parquet",
    output:
        links="results/links/{platform}_panel.parquet",
        report="results/links/{platform}_report.json",
        review=REVIEW_FILE,
    log:
        "results/logs/match_platform_{platform}.log",
    benchmark:
        "results/benchmarks/match_platform_{platform}.tsv"
    wildcard_constraints:
        platform="alibaba|mic",
    conda:
        "../envs/cbec.yaml"
    params:
        matching=config["matching"],
        encoding=config["inputs"]["csv_encoding"],
        checks=lambda w: {
            "launch_year": config["members"]["launch_year"][w.platform],
            "scrape_window": config["members"]["scrape_window"],
            "last_year": config["years"]["last"],
            "on_implausible": config["members"]["on_implausible"],
        },
    script:
        "../scripts/match_platform.py"


rule build_panel:
    input:
        panel="results/interim/asif_panel.parquet",
        customs="results/interim/customs_firm_year.parquet",
        customs_links="results/links/customs_asif.parquet",
        alibaba="results/links/alibaba_panel.parquet",
        mic="results/links/mic_panel.parquet",
        deflators=raw_path("deflators"),
        manifests=manifests("deflators"),
    output:
        panel="results/panel/panel.parquet",
    log:
        "results/logs/build_panel.log",
    benchmark:
        "results/benchmarks/build_panel.tsv"
    conda:
        "../envs/cbec.yaml"
    params:
        panel=config["panel"],
    script:
        "../scripts/build_panel.py"

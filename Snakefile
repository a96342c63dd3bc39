# Cross-border e-commerce platforms and firm capacity utilization: the workflow.
# `snakemake -c all` builds every table and the report on the data config.yaml points to
# (by default the synthetic world); `snakemake -c 2 results/tables/table2.tex` builds one.


configfile: "config.yaml"


# steps that only gather or write small files run on the submitting machine, not as cluster jobs
localrules:
    all,
    tfp,
    cu,
    measures_diagnostics,
    calibration,


include: "rules/common.smk"
include: "rules/inputs.smk"


# the synthetic world's rules exist only when config.yaml says the inputs are synthetic: with
# inputs.source: files no rule can write to (or delete) a path that holds user data
if SYNTHETIC:

    include: "rules/synth.smk"
    include: "rules/validation.smk"


include: "rules/data.smk"
include: "rules/measures.smk"
include: "rules/analysis.smk"
include: "rules/tables.smk"
include: "rules/extensions.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# the end of a run: the headline estimate, the warnings the steps logged, where the report is
onsuccess:
    from cbec.report.summary import run_summary

    print(run_summary(Path(workflow.basedir)))


onerror:
    print("A step failed: its log in results/logs/ (named above) says why.")

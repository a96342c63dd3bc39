"""The workflow on a real SLURM cluster (``--executor slurm --profile profiles/slurm``).

CI starts a single-node cluster on localhost with ``.ci/slurm/setup.sh`` (Debian's slurm-wlm
and munge, no accounting database). Where ``sbatch`` is absent or no node is idle, every test
here is skipped with the reason. See docs/cluster.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, copy_run, run_snakemake

pytestmark = pytest.mark.slurm

PROFILE = ROOT / "profiles" / "slurm"
# memory (MB) the profile's set-resources gives measure_industry at attempt 1 ("N * attempt")
PROFILE_INDUSTRY_MB = int(
    str(
        yaml.safe_load((PROFILE / "config.yaml").read_text(encoding="utf-8"))["set-resources"][
            "measure_industry"
        ]["mem_mb"]
    ).split("*")[0]
)
# --workflow-profile none: the workflow's profiles/default (local settings such as a short
# latency-wait) would otherwise override the cluster profile key by key. The first status
# check comes sooner than the profile's 10 s: the jobs here take seconds, not hours.
SLURM_ARGS = (
    "--executor",
    "slurm",
    "--profile",
    str(PROFILE),
    "--workflow-profile",
    "none",
    "--slurm-init-seconds-before-status-checks",
    "2",
)
# The part of the real DAG run under SLURM, on a copy of the session's tiny run: two
# industries' measures forced to rerun and everything from them up to Tables 2 and 8, i.e.
# measure_industry (the profile's set-resources), analysis_sample, table2 and table8 as SLURM
# jobs and tfp and cu (local rules) on the controller.
FORCED = ("results/measures/by_industry/13.parquet", "results/measures/by_industry/26.parquet")
TARGETS = ("results/tables/table2.tex", "results/tables/table8.tex")
SLURM_JOBS = {"measure_industry": 2, "analysis_sample": 1, "table": 2}
REWRITTEN = (
    *FORCED,
    "results/measures/tfp.parquet",
    "results/measures/cu.parquet",
    "results/analysis/sample.parquet",
    "results/estimates/table2.json",
    "results/estimates/table8.json",
)
# rewritten files compared byte for byte with the local run: data and estimates (the
# measures' diagnostics CSVs hold timings) and every table
COMPARED_DIRS = ("results/estimates", "results/tables")
COMPARED_SUFFIXES = {".parquet", ".json"}


def slurm_unavailable_reason() -> str | None:
    """Why SLURM jobs cannot run here, or None if sbatch exists and a node is idle."""
    hint = "as root, `bash .ci/slurm/setup.sh` starts a single-node cluster on localhost"
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return f"sbatch not on PATH: no SLURM cluster here ({hint})"
    try:
        proc = subprocess.run(
            ["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"sinfo failed ({err}); {hint}"
    states = proc.stdout.split()
    # a trailing * (not responding), ~ (powered off), ... means the node cannot take jobs
    if proc.returncode != 0 or not {"idle", "mix"} & set(states):
        seen = states or proc.stderr.strip() or "nothing"
        return f"SLURM has no idle node (sinfo states: {seen}); {hint}"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    reason = slurm_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


# A throwaway workflow shaped like ours: a source, a per-industry fan-out of heavy jobs
# (named like the real rule, so the profile's set-resources apply), a local combine step,
# and a job that fails on its first attempt (retries with resources scaled by `attempt`).
TOY_SNAKEFILE = r"""
INDUSTRIES = ["13", "26"]

localrules: all, combine


rule all:
    input:
        "out/total.txt",
        "out/retried.txt",


rule source:
    output:
        "out/source.txt",
    shell:
        "printf 'a\\nb\\nc\\n' > {output}"


rule measure_industry:
    input:
        "out/source.txt",
    output:
        "out/ind/{ind}.txt",
    resources:
        mem_mb=lambda wc, attempt: 500 * attempt,
    shell:
        "echo ind={wildcards.ind} lines=$(wc -l < {input}) mem={resources.mem_mb}"
        " job=${{SLURM_JOB_ID:-}} partition=${{SLURM_JOB_PARTITION:-}}"
        " slurm_mem=$(squeue -h -j $SLURM_JOB_ID -o %m) > {output}"


rule combine:
    input:
        expand("out/ind/{ind}.txt", ind=INDUSTRIES),
    output:
        "out/total.txt",
    shell:
        "(cat {input}; echo step=combine job=${{SLURM_JOB_ID:-}}) > {output}"


rule flaky:
    output:
        "out/retried.txt",
    shell:
        "if [ ! -e out/flaky.marker ]; then touch out/flaky.marker; exit 1; fi; "
        "echo mem={resources.mem_mb} runtime={resources.runtime}"
        " job=${{SLURM_JOB_ID:-}} slurm_mem=$(squeue -h -j $SLURM_JOB_ID -o %m) > {output}"
"""


def _fields(line: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in line.split())


def _default_partition() -> str:
    out = subprocess.run(
        ["sinfo", "--noheader", "--format=%P"], capture_output=True, text=True, check=True
    ).stdout.split()
    return next((p.rstrip("*") for p in out if p.endswith("*")), "")


def test_toy_workflow_runs_as_slurm_jobs(slurm_cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(TOY_SNAKEFILE, encoding="utf-8")
    start = time.perf_counter()
    run_snakemake(tmp_path, *SLURM_ARGS)
    print(f"toy workflow under slurm: {time.perf_counter() - start:.1f} s")

    rows = [_fields(line) for line in (tmp_path / "out/total.txt").read_text().splitlines()]
    industries, combine = rows[:-1], rows[-1]
    assert [r["ind"] for r in industries] == ["13", "26"]
    assert all(r["lines"] == "3" for r in industries)
    # each industry is its own SLURM job in the default partition, given (squeue's %m) the
    # memory of the profile's set-resources (PROFILE_INDUSTRY_MB * attempt), which overrides
    # the rule's own 500 * attempt
    job_ids = {r["job"] for r in industries}
    assert len(job_ids) == 2 and all(j.isdigit() for j in job_ids)
    assert {r["partition"] for r in industries} == {_default_partition()}
    mb = PROFILE_INDUSTRY_MB
    assert all(r["mem"] == str(mb) and r["slurm_mem"] == f"{mb}M" for r in industries)
    # the local rule ran on the controller, outside any SLURM job
    assert combine == {"step": "combine", "job": ""}

    # the flaky job failed once and was resubmitted with attempt=2 resources
    retried = _fields((tmp_path / "out/retried.txt").read_text())
    assert retried["mem"] == "2000" and retried["runtime"] == "30"
    assert retried["slurm_mem"] == "2000M" and retried["job"].isdigit()
    assert retried["job"] not in job_ids


def _compared_files(wd: Path, since: float) -> list[Path]:
    """Files under results/ written after ``since``, relative to the workdir, to compare with
    the local run: every file of results/estimates and results/tables, and the parquet and
    JSON files elsewhere."""
    return sorted(
        p.relative_to(wd)
        for p in (wd / "results").rglob("*")
        if p.is_file()
        and p.stat().st_mtime > since
        and (p.suffix in COMPARED_SUFFIXES or any(p.is_relative_to(wd / d) for d in COMPARED_DIRS))
    )


def test_tiny_dag_matches_local(slurm_cluster, tiny_run, tmp_path):
    # the session's run (tests/conftest.py) is the local run; its copy holds the same
    # snapshot of the library, on the PYTHONPATH of the SLURM jobs as well
    cluster = copy_run(tiny_run, tmp_path / "slurm")
    start = time.time()
    proc = run_snakemake(
        cluster, *TARGETS, "--forcerun", *FORCED, "--config", "preset=tiny", *SLURM_ARGS
    )
    print(f"{sum(SLURM_JOBS.values())} SLURM jobs of the tiny DAG: {time.time() - start:.1f} s")

    # each job of the part was submitted to SLURM, the local rules were not
    submitted = re.findall(
        r"submitted with SLURM jobid \d+ \(log: [^)]*/rule_(\w+)/", proc.stdout + proc.stderr
    )
    assert Counter(submitted) == SLURM_JOBS, submitted
    expected = _compared_files(cluster, start)
    assert set(REWRITTEN) <= {str(p) for p in expected}, sorted(map(str, expected))
    differ = [
        str(rel)
        for rel in expected
        if (tiny_run / rel).read_bytes() != (cluster / rel).read_bytes()
    ]
    assert not differ, (
        f"{len(differ)} of {len(expected)} files differ from the local run: {differ} "
        "(if a second local run differs as well, the step is not deterministic)"
    )

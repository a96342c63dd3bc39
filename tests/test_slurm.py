"""The workflow on a real SLURM cluster (``--executor slurm --profile profiles/slurm``).

CI starts a single-node cluster on localhost with ``.ci/slurm/setup.sh`` (Debian's slurm-wlm
and munge, no accounting database). Where ``sbatch`` is absent or no node is idle, every test
here is skipped with the reason. See docs/cluster.md.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from helpers import ROOT, copy_workflow, run_snakemake

pytestmark = pytest.mark.slurm

PROFILE = ROOT / "profiles" / "slurm"
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
COMPARED_DIRS = ("results/estimates", "results/tables")
COMPARED_SUFFIXES = {".parquet", ".csv", ".json"}


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


@pytest.fixture(scope="module")
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
    # memory of the profile's set-resources (4000 * attempt), which overrides the rule's own
    # 500 * attempt
    job_ids = {r["job"] for r in industries}
    assert len(job_ids) == 2 and all(j.isdigit() for j in job_ids)
    assert {r["partition"] for r in industries} == {_default_partition()}
    assert all(r["mem"] == "4000" and r["slurm_mem"] == "4000M" for r in industries)
    # the local rule ran on the controller, outside any SLURM job
    assert combine == {"step": "combine", "job": ""}

    # the flaky job failed once and was resubmitted with attempt=2 resources
    retried = _fields((tmp_path / "out/retried.txt").read_text())
    assert retried["mem"] == "2000" and retried["runtime"] == "30"
    assert retried["slurm_mem"] == "2000M" and retried["job"].isdigit()
    assert retried["job"] not in job_ids


def _compared_files(results: Path) -> list[Path]:
    """Files to compare, relative to the workdir: results/estimates and results/tables if the
    workflow makes them yet, else every parquet/csv/json under results/."""
    base = results.parent
    dirs = [base / d for d in COMPARED_DIRS if (base / d).is_dir()]
    if dirs:
        files = [p for d in dirs for p in d.rglob("*") if p.is_file()]
    else:
        files = [p for p in results.rglob("*") if p.suffix in COMPARED_SUFFIXES]
    return sorted(p.relative_to(base) for p in files)


def _tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def test_tiny_dag_matches_local(slurm_cluster, tmp_path, monkeypatch):
    # One snapshot of the workflow and the library (src/ beside schemas/, as in the repo) for
    # both runs and their SLURM jobs (which inherit PYTHONPATH), so that edits to the tree
    # during the test cannot spoil the comparison.
    snapshot = copy_workflow(tmp_path / "snapshot")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", snapshot / "src", ignore=ignore)
    monkeypatch.setenv("PYTHONPATH", str(snapshot / "src"))
    local = shutil.copytree(snapshot, tmp_path / "local")
    dry = run_snakemake(local, "--config", "preset=tiny", "--dry-run", check=False)
    if dry.returncode != 0:
        pytest.skip(
            "the workflow is not runnable on the tiny preset yet (dry run failed):\n"
            + _tail(dry.stdout + dry.stderr)
        )
    start = time.perf_counter()
    proc = run_snakemake(local, "--config", "preset=tiny", check=False)
    local_seconds = time.perf_counter() - start
    if proc.returncode != 0:
        pytest.skip(
            "the workflow does not run end to end on the tiny preset yet (local run failed):\n"
            + _tail(proc.stdout + proc.stderr)
        )
    expected = _compared_files(local / "results")
    if not expected:
        pytest.skip("the local tiny run wrote no results to compare yet")

    cluster = shutil.copytree(snapshot, tmp_path / "slurm")
    start = time.perf_counter()
    run_snakemake(cluster, "--config", "preset=tiny", *SLURM_ARGS)
    slurm_seconds = time.perf_counter() - start
    print(f"tiny DAG: local {local_seconds:.1f} s, slurm {slurm_seconds:.1f} s")

    assert _compared_files(cluster / "results") == expected
    differ = [
        str(rel) for rel in expected if (local / rel).read_bytes() != (cluster / rel).read_bytes()
    ]
    assert not differ, (
        f"{len(differ)} of {len(expected)} files differ from the local run: {differ} "
        "(if a second local run differs as well, the step is not deterministic)"
    )

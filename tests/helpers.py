"""Helpers for tests that run the workflow in a scratch directory."""

from __future__ import annotations

import logging
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ["Snakefile", "config.yaml", "rules", "scripts", "schemas", "profiles", "envs"]
TINY = ["--config", "preset=tiny"]


def copy_workflow(dest: Path, config: dict | None = None) -> Path:
    """Copy the workflow (not results/resources) to ``dest``; optionally replace config.yaml."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / name)
    if config is not None:
        with open(dest / "config.yaml", "w", encoding="utf-8") as fh:
            yaml.safe_dump(config, fh, allow_unicode=True, sort_keys=False)
    return dest


def snapshot_library(dest: Path) -> Path:
    """Copy the library (``src/``) into the workflow copy ``dest``, beside its rules, as in the
    repository: the Snakefile puts it on ``sys.path`` and :func:`run_snakemake` on the jobs'
    ``PYTHONPATH``, so edits to the tree while the tests run cannot change a shared run or
    spoil a comparison with it."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", dest / "src", ignore=ignore, dirs_exist_ok=True)
    return dest


def copy_run(src: Path, dest: Path) -> Path:
    """Copy a finished run (workflow, ``resources/``, ``results/``, ``.snakemake/`` metadata)
    with its modification times: snakemake sees the copy as up to date and reruns only what a
    test removes or changes (and ``report``, whose params hold the workflow's directory).
    Cheap on the tiny preset (about 20 MB)."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def listing(workdir: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file of a run (not snakemake's state)."""
    return {
        str(p.relative_to(workdir)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(workdir.rglob("*"))
        if p.is_file() and not {".snakemake", "__pycache__"} & set(p.parts)
    }


def snakemake_env(workdir: Path) -> dict[str, str] | None:
    """The environment for snakemake in ``workdir``: this process's, with the workdir's
    snapshot of the library (:func:`snapshot_library`) first on ``PYTHONPATH`` if it has one
    (jobs, SLURM jobs included, inherit it); None (inherit unchanged) otherwise."""
    if not (workdir / "src" / "cbec").is_dir():
        return None
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(workdir / "src"), env.get("PYTHONPATH")) if p
    )
    return env


def run_snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir`` with this interpreter's environment."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    proc = subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, env=snakemake_env(workdir)
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


# ------------------------------------------------------------ a workflow's jobs, replayed
# `snakemake --skip-script-cleanup` keeps the script it generated for each job in
# .snakemake/scripts/: the rule's script behind a preamble that unpickles the job's
# `snakemake` object (input, output, params, wildcards, log as the rule made them).
_PREAMBLE_END = "######## snakemake preamble end #########"


def job_object(script: Path) -> Any:
    """The ``snakemake`` object of a job script that snakemake generated (its preamble run
    alone; ``sys.path`` kept as it was)."""
    preamble = script.read_text(encoding="utf-8").split(_PREAMBLE_END, 1)[0]
    path, ns = sys.path[:], {"__file__": str(script)}
    try:
        exec(preamble, ns)  # noqa: S102 - snakemake's own preamble: it unpickles the job
    finally:
        sys.path[:] = path
    return ns["snakemake"]


def job_scripts(workdir: Path) -> dict[str, Path]:
    """The job scripts a run with ``--skip-script-cleanup`` left in ``workdir``, by rule and
    wildcards: ``clean_asif``, ``aggregate_customs/2009``, ``match_platform/alibaba``."""
    jobs = {}
    for script in sorted((workdir / ".snakemake" / "scripts").glob("tmp*.py")):
        job = job_object(script)
        paths = [*job.input, *job.output, *job.log]
        assert not any(Path(p).is_absolute() for p in paths), (script, paths)
        jobs["/".join([job.rule, *map(str, job.wildcards)])] = script
    return jobs


def replay_job(script: Path, workdir: Path) -> tuple[int, str]:
    """Run a job script (:func:`job_scripts`) in this process, in ``workdir``, as snakemake
    runs the job: its outputs and log removed first. The exit status (0, or the rule's
    non-zero exit) and the job's log with the message it exited with. The process's working
    directory, ``sys.path``, environment and root logger are restored."""
    job = job_object(script)
    for f in [*job.output, *job.log]:
        (workdir / f).unlink(missing_ok=True)
    root, cwd, path, env = logging.getLogger(), os.getcwd(), sys.path[:], dict(os.environ)
    handlers, level = root.handlers[:], root.level
    code, message = 0, ""
    os.chdir(workdir)
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        message = exit_.code if isinstance(exit_.code, str) else ""
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        os.environ.clear()
        os.environ.update(env)
        for h in root.handlers:
            if h not in handlers:
                h.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    log = workdir / job.log[0]
    return code, (log.read_text(encoding="utf-8") if log.exists() else "") + message

"""Helpers for tests that run the workflow in a scratch directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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

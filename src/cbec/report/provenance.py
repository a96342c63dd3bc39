"""Provenance of a run: git commit, config hash, input-file hashes, package and Python versions.

Nothing here reads a file's contents beyond hashing its bytes, and nothing records a time, so
the same tree, config and inputs give the same provenance (and the same report bytes).
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from cbec.config import year_input

__all__ = [
    "PINNED_PACKAGES",
    "config_hash",
    "git_commit",
    "input_files",
    "package_versions",
    "provenance",
    "sha256_file",
]

# the pinned set of pyproject.toml (runtime dependencies)
PINNED_PACKAGES: list[str] = [
    "snakemake",
    "polars",
    "pyarrow",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "pyfixest",
    "rapidfuzz",
    "cpca",
    "pypinyin",
    "opencc",
    "pyreadstat",
    "matplotlib",
    "jsonschema",
    "PyYAML",
    "cbec",
]
# config.inputs keys that are settings, not files
_NOT_FILES = {"source", "csv_encoding"}


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (streamed)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of ``config`` (sorted keys, compact separators, UTF-8)."""
    canon = json.dumps(
        config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def input_files(inputs: Mapping[str, Any], years: Iterable[int]) -> list[tuple[str, str]]:
    """(key, path) of every raw input in ``config.inputs``, ``{year}`` expanded over ``years``
    (a year of ``<key>_by_year`` takes its own path)."""
    out: list[tuple[str, str]] = []
    for key, p in inputs.items():
        if key in _NOT_FILES or not isinstance(p, str):
            continue
        if "{year}" in p:
            out += [(f"{key}[{y}]", year_input(inputs, key, y)) for y in years]
        else:
            out.append((key, p))
    return out


def git_commit(repo: str | Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None, "note": ...}``; never raises."""
    cwd = str(repo) if repo else None
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=20
        )
        if sha.returncode != 0:
            return {"commit": None, "dirty": None, "note": "not a git repository"}
        st = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
        )
        dirty = bool(st.stdout.strip()) if st.returncode == 0 else None
        return {"commit": sha.stdout.strip(), "dirty": dirty, "note": ""}
    except (OSError, subprocess.SubprocessError) as err:
        return {"commit": None, "dirty": None, "note": f"git unavailable ({type(err).__name__})"}


def package_versions(names: Sequence[str] = PINNED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None if not installed)."""
    out: dict[str, str | None] = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def provenance(
    config: Mapping[str, Any],
    files: Sequence[tuple[str, str]],
    repo: str | Path | None = None,
    packages: Sequence[str] = PINNED_PACKAGES,
) -> dict[str, Any]:
    """Everything the report prints under "Provenance" (no timestamps)."""
    hashes = []
    for key, p in files:
        path = Path(p)
        hashes.append(
            {
                "key": key,
                "path": str(p),
                "sha256": sha256_file(path) if path.is_file() else None,
                "bytes": path.stat().st_size if path.is_file() else None,
            }
        )
    return {
        "git": git_commit(repo),
        "config_sha256": config_hash(config),
        "inputs": hashes,
        "packages": package_versions(packages),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
    }

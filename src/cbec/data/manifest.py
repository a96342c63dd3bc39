"""Checksum manifests of the raw inputs: a redelivered file is noticed by its content.

Snakemake decides what to rebuild from modification times, and ``rsync -a``, ``tar`` and
``unzip`` keep the old time of a redelivered file, so new content with an old time would
keep stale results. The workflow therefore writes, for every input key of ``config.yaml``
(``asif``, ``customs``, ``alibaba``, ...), a manifest with the size and SHA-256 of each of its
files, rewritten only when a line changes; the rules that read the inputs depend on their
manifests, so a changed file reruns them. A file the manifest lists with a checksum that no
longer exists stops the workflow before it builds the DAG (``rules/common.smk``), instead of
Snakemake's "Nothing to be done" over results built from it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cbec.config import year_input

#: where the manifests go (one per input key)
MANIFEST_DIR = "results/inputs"


def manifest_path(key: str) -> str:
    """The manifest of config key ``key``."""
    return f"{MANIFEST_DIR}/{key}.sha256"


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def manifest_text(paths: list[str]) -> str:
    """One line per file: ``sha256  size  path``, or ``MISSING  -  path``."""
    lines = []
    for p in paths:
        f = Path(p)
        if f.is_file():
            lines.append(f"{file_digest(f)}  {f.stat().st_size}  {p}")
        else:
            lines.append(f"MISSING  -  {p}")
    return "\n".join(lines) + "\n"


def update_manifest(out: str | Path, paths: list[str]) -> bool:
    """Write the manifest of ``paths`` to ``out`` if it changed (atomically); True if written."""
    out = Path(out)
    text = manifest_text(paths)
    if out.is_file() and out.read_text(encoding="utf-8") == text:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return True


def input_paths(inputs: dict, years: list[int]) -> dict[str, list[str]]:
    """``{config key: [paths]}`` of every raw input, ``{year}`` filled in (or the year's
    entry of ``<key>_by_year``)."""
    out = {}
    for key, value in inputs.items():
        if key in {"source", "csv_encoding"} or key.endswith("_by_year"):
            continue
        out[key] = [year_input(inputs, key, y) for y in years] if "{year}" in value else [value]
    return out


def missing_inputs(inputs: dict, years: list[int]) -> list[str]:
    """Configured input files that do not exist."""
    return [p for ps in input_paths(inputs, years).values() for p in ps if not Path(p).is_file()]


def vanished(out: str | Path, paths: list[str]) -> list[str]:
    """Files the manifest ``out`` lists with a checksum (results were built from them) that no
    longer exist."""
    out = Path(out)
    if not out.is_file():
        return []
    listed = {
        line.split("  ", 2)[2]
        for line in out.read_text(encoding="utf-8").splitlines()
        if line.count("  ") >= 2 and not line.startswith("MISSING")
    }
    return [p for p in paths if p in listed and not Path(p).is_file()]

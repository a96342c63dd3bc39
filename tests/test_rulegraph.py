"""The README's picture of the rule graph is regenerated when the rules change."""

from __future__ import annotations

import re
import subprocess
import sys


def _graph(dot: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Rule names and edges of a `snakemake --rulegraph` DOT text (node numbering and edge
    order vary between runs)."""
    labels = dict(re.findall(r"^\s*(\d+)\[label = \"([^\"]+)\"", dot, flags=re.M))
    edges = {(labels[a], labels[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", dot, flags=re.M)}
    return set(labels.values()), edges


def test_rulegraph_is_current(root):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--rulegraph", "--quiet", "all", "--cores", "1"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    current = _graph(proc.stdout)
    stored = _graph((root / "docs" / "rulegraph.dot").read_text())
    assert len(current[0]) > 15
    assert current == stored, "the rule graph changed: run `make rulegraph` and commit docs/"
    assert (root / "docs" / "rulegraph.svg").stat().st_size > 0

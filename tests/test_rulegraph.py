"""The README's picture of the rule graph is regenerated when the rules change."""

from __future__ import annotations

import subprocess
import sys


def test_rulegraph_is_current(root):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--rulegraph", "--quiet", "all", "--cores", "1"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    stored = (root / "docs" / "rulegraph.dot").read_text()
    assert proc.stdout == stored, "the rule graph changed: run `make rulegraph` and commit docs/"
    assert (root / "docs" / "rulegraph.svg").stat().st_size > 0

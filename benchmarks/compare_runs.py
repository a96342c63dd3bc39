"""Determinism check: are two runs' estimates, tables and figures byte-identical?

    python benchmarks/compare_runs.py RUN_A RUN_B

Compares every file under results/estimates, results/tables, results/figures and
results/validation (the scorecard; the synthetic world's oracle tables and bias budget) of two run
directories (e.g. two clean `make` runs of the paper preset, or the table stage rerun at
other threads) and exits non-zero on any difference. The report is compared too, except for its provenance (git commit).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DIRS = ["results/estimates", "results/tables", "results/figures", "results/validation"]


def files(run: Path) -> dict[str, bytes]:
    out = {}
    for d in DIRS:
        for p in sorted((run / d).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(run))] = p.read_bytes()
    return out


def main(argv: list[str]) -> int:
    a, b = Path(argv[0]), Path(argv[1])
    fa, fb = files(a), files(b)
    differ = sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k))
    ra, rb = a / "results/report.html", b / "results/report.html"
    if ra.exists() and rb.exists():
        strip = re.compile(rb"<th class=\"s\">git commit</th><td class=\"s\">.*?</td>")
        if strip.sub(b"", ra.read_bytes()) != strip.sub(b"", rb.read_bytes()):
            differ.append("results/report.html")
    print(f"{len(fa)} files compared; {len(differ)} differ")
    for k in differ:
        print("  differs:", k)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Optional benchmark: R's fixest on the same simulated Table 2 data as ``bench_fe.py``.

Usage::

    python benchmarks/bench_fixest.py [--rows 3960000] [--reps 3] [--threads 2] [--seed 1]

Runs only where ``Rscript`` and the R packages fixest and data.table are installed (they are
not dependencies of this project); elsewhere it says so and exits 0. Simulates the panel of
``bench_fe.simulate_panel`` (same rows, seed and movers as ``bench_fe.py``), writes it as CSV
and times ``feols(cu ~ ... | firm_id + ind2^year + city^year, cluster = ~firm_id)`` in one R
process ``--reps`` times (``benchmarks/bench_fixest.R``), printing the median. Compare with
``bench_fe.py --only ours --threads N`` at the same ``--rows``/``--seed``: the ratio of the
two medians is the one quoted in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_fe import simulate_panel

HERE = Path(__file__).resolve().parent


def r_available() -> str | None:
    """Why fixest cannot run here, or ``None`` if it can."""
    if shutil.which("Rscript") is None:
        return "Rscript not found"
    p = subprocess.run(
        ["Rscript", "-e", "library(fixest); library(data.table)"], capture_output=True, text=True
    )
    return None if p.returncode == 0 else "R packages fixest / data.table not installed"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=3_960_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mover-share", type=float, default=0.0)
    a = ap.parse_args(argv)
    why = r_available()
    if why:
        print(f"skipped: {why}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "panel.csv"
        simulate_panel(a.rows, a.seed, a.mover_share).write_csv(path)
        p = subprocess.run(
            ["Rscript", str(HERE / "bench_fixest.R"), str(path), str(a.reps), str(a.threads)],
            capture_output=True,
            text=True,
            check=True,
        )
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["rows"] = a.rows
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

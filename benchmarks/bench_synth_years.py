"""Benchmark customs generation one job per year: serial against N years at a time.

The world's job (``generate(..., customs=False)``: everything but the customs years, and the
customs plan) runs once in its own process; then the given customs years are written by one
process per year, as the ``synthesize_customs`` rule does (``write_customs_file``), first one
after another, then ``--jobs`` at a time. Each process's wall time and peak RSS (``wait4``)
are reported, and the wall time of each batch. Usage:

    nice -n 10 python benchmarks/bench_synth_years.py --out SCRATCH \\
        --configfile benchmarks/real_volume_customs.yaml --years 2005 2010 2015 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORLD = """
import json, sys
from pathlib import Path
from cbec.synth import generate
params, preset, seed, out = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
generate(params, preset, seed, out / "raw", out / "truth", customs=False)
"""
YEAR = """
import json, sys
from pathlib import Path
from cbec.synth import resolve_params, write_customs_file
params, preset, seed, out, year = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])
(out / "raw" / "customs").mkdir(parents=True, exist_ok=True)
p = resolve_params(params, preset)
path = out / "raw" / "customs" / f"customs_{year}.parquet"
print(write_customs_file(out / "truth" / "customs_plan.parquet", p, seed, year, path))
"""


def merged_config(overrides: list[Path]) -> dict:
    """config.yaml with each override file merged over it (nested keys merged)."""

    def merge(a: dict, b: dict) -> dict:
        return {**a, **{k: merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict)
                        else v for k, v in b.items()}}  # fmt: skip

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    for f in overrides:
        cfg = merge(cfg, yaml.safe_load(f.read_text(encoding="utf-8")))
    return cfg


def run_batch(argvs: list[list[str]], jobs: int) -> tuple[float, list[dict]]:
    """Run the commands ``jobs`` at a time; wall time of the batch and per process."""
    pending, running, done = list(argvs), {}, []
    t0 = time.perf_counter()
    while pending or running:
        while pending and len(running) < jobs:
            argv = pending.pop(0)
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            running[proc.pid] = (proc, argv, time.perf_counter())
        pid, status, usage = os.wait4(-1, 0)
        if pid not in running:
            continue
        proc, argv, start = running.pop(pid)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{argv[-1]} failed:\n{proc.stderr.read().decode()[-3000:]}")
        done.append(
            {
                "what": argv[-1],
                "wall_s": round(time.perf_counter() - start, 1),
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                "peak_rss_mb": round(usage.ru_maxrss / 1024),
            }
        )
    return round(time.perf_counter() - t0, 1), done


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, required=True, help="scratch directory (world kept)")
    ap.add_argument("--configfile", type=Path, nargs="*", default=[])
    ap.add_argument("--years", type=int, nargs="+", default=[2005, 2010, 2015])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reps", type=int, default=1)
    args = ap.parse_args()
    cfg = merged_config(args.configfile)
    common = [json.dumps(cfg.get("synthetic") or {}), cfg["preset"], str(cfg["seed"])]
    out = args.out.resolve()
    if not (out / "truth" / "customs_plan.parquet").exists():
        wall, (world,) = run_batch([[sys.executable, "-c", WORLD, *common, str(out)]], 1)
        print(json.dumps({"world": world | {"what": "world (customs=False)"}}), flush=True)
    years = [[sys.executable, "-c", YEAR, *common, str(out), str(y)] for y in args.years]
    walls: dict[str, list[float]] = {"serial": [], f"{args.jobs} at a time": []}
    for _ in range(args.reps):
        for mode, jobs in (("serial", 1), (f"{args.jobs} at a time", args.jobs)):
            wall, per = run_batch(years, jobs)
            walls[mode].append(wall)
            print(json.dumps({"mode": mode, "wall_s": wall, "years": per}), flush=True)
    print(f"\n| {len(args.years)} years | wall s (median of {args.reps}) | runs |")
    print("|---|---:|---|")
    for mode, w in walls.items():
        print(f"| {mode} | {statistics.median(w)} | {w} |")


if __name__ == "__main__":
    main()

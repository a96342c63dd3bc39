"""Benchmark the synthetic-world generator: wall time and peak RSS per preset.

Each preset runs in its own subprocess, so peak RSS (ru_maxrss of the children) is the
generator's own. Usage:

    python benchmarks/bench_synth.py                 # paper
    python benchmarks/bench_synth.py paper full      # both (full: ~4 million firm-years)
    python benchmarks/bench_synth.py tiny --keep OUT_DIR   # keep the output
    python benchmarks/bench_synth.py full --customs-rows 150   # customs at real volume
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys, time
from pathlib import Path
from cbec.synth import generate
params, preset, seed, out = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
t = time.perf_counter()
summary = generate(params, preset, seed, out / "raw", out / "truth")
print(json.dumps({"seconds": time.perf_counter() - t, "summary": summary}))
"""


def run(preset: str, out: Path, params: dict, seed: int) -> dict:
    """Generate `preset` in a subprocess; returns wall time, peak RSS and sizes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(params), preset, str(seed), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{preset} failed:\n{proc.stderr[-3000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    s = res["summary"]
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "preset": preset,
        "wall_seconds": round(wall, 1),
        "generate_seconds": round(res["seconds"], 1),
        # ru_maxrss of children is the max over all children so far (KiB on Linux)
        "peak_rss_gb": round(max(peak_kb, before) / 1024**2, 2),
        "asif_firm_years": sum(v for k, v in s.items() if k.startswith("raw/asif/")),
        "customs_rows": sum(v for k, v in s.items() if k.startswith("raw/customs/")),
        "customs_rows_max_year": max(v for k, v in s.items() if k.startswith("raw/customs/")),
        "alibaba_rows": s["raw/members/alibaba.parquet"],
        "disk_gb": round(size / 1024**3, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("presets", nargs="*", default=["paper"])
    ap.add_argument("--keep", type=Path, default=None, help="write worlds under this directory")
    ap.add_argument(
        "--customs-rows",
        type=float,
        default=None,
        help="customs.rows_per_party_mean (max_rows_per_party is raised to 20000)",
    )
    args = ap.parse_args()
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    params, seed = cfg.get("synthetic") or {}, int(cfg["seed"])
    if args.customs_rows:
        params["customs"] = {
            **params.get("customs", {}),
            "rows_per_party_mean": args.customs_rows,
            "max_rows_per_party": 20000,
        }
    rows = []
    for preset in args.presets:  # smallest first, so the children's peak RSS is per preset
        if args.keep:
            rows.append(run(preset, args.keep / preset, params, seed))
        else:
            with tempfile.TemporaryDirectory(prefix=f"bench_synth_{preset}_") as d:
                rows.append(run(preset, Path(d), params, seed))
        print(json.dumps(rows[-1]), flush=True)
    print(
        "\n| preset | wall (s) | generate (s) | peak RSS (GB) | ASIF firm-years | customs rows | disk (GB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['preset']} | {r['wall_seconds']} | {r['generate_seconds']} | {r['peak_rss_gb']} | "
            f"{r['asif_firm_years']:,} | {r['customs_rows']:,} | {r['disk_gb']} |"
        )


if __name__ == "__main__":
    main()

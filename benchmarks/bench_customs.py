"""Benchmark customs at real volume: one year generated, aggregated and matched.

Each step runs in its own process under ``/usr/bin/time -v`` (wall time, CPU time, peak
resident memory): ``gen`` simulates the ``full`` world and writes ONE customs year with
``customs.rows_per_party_mean`` raised to a real volume (streamed, in row groups) and that
year's ASIF firms; ``aggregate`` and ``match`` do what the per-year rules
``aggregate_customs`` and ``match_customs`` do; ``polars`` is the same parquet read and
grouped by party with polars alone (the physical limit of the aggregation). Usage:

    nice -n 10 python benchmarks/bench_customs.py --out SCRATCH_DIR            # 2007, 150
    python benchmarks/bench_customs.py --out DIR --year 2012 --rows-per-party 120 --csv
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

SEED = 20250401


def step_gen(out: Path, year: int, rows_per_party: float, preset: str) -> dict:
    """The full world, one customs year at real volume and that year's ASIF firms."""
    import numpy as np
    import polars as pl

    from cbec.synth.customs import (
        build_parties,
        customs_names,
        party_markets,
        plan_customs_year,
        year_parties,
    )
    from cbec.synth.generator import _traditional_map, customs_year_rng, simulate, streams
    from cbec.synth.params import resolve_params
    from cbec.synth.stream import write_customs_year
    from cbec.synth.writer import asif_year

    params = {"customs": {"rows_per_party_mean": rows_per_party, "max_rows_per_party": 20000}}
    p = resolve_params(params, preset)
    rngs = streams(SEED)
    sim = simulate(p, SEED, rngs)
    w = sim.world
    parties = build_parties(w, p, rngs["customs"])
    cnames = customs_names(w, p, rngs["names"], _traditional_map(sim.cities, sim.counties))
    t = time.perf_counter()
    markets = party_markets(SEED, parties.height)
    rows = year_parties(w, parties, year, cnames)
    plan = plan_customs_year(p, customs_year_rng(SEED, year), year, rows, markets)
    n = write_customs_year(plan, out / f"customs_{year}.parquet")
    write_s = time.perf_counter() - t
    raw, _ = asif_year(w, p, rngs["asif"], year)
    cols = {"企业名称": "firm_name", "邮政编码": "zip", "电话号码": "phone"}
    cols |= {"单位名称": "firm_name", "邮编": "zip", "联系电话": "phone", "qymc": "firm_name"}
    firms = raw.rename({k: v for k, v in cols.items() if k in raw.columns}).select(
        pl.lit(year, pl.Int64).alias("year"),
        pl.Series("firm_id", np.arange(raw.height, dtype=np.int64)),
        "firm_name",
        "zip",
        "phone",
    )
    firms.write_parquet(out / f"firms_{year}.parquet")
    return {"rows": n, "parties": plan.parties.height, "firms": firms.height, "write_s": write_s}


def step_aggregate(out: Path, year: int, src: str) -> dict:
    import tempfile

    from cbec.data.customs import customs_year
    from cbec.matching.names import flag_intermediaries

    with tempfile.TemporaryDirectory(dir=out) as work:
        df = customs_year(out / src, year, "auto", work)
    df = df.with_columns(flag_intermediaries(df["party_name"]).alias("intermediary"))
    df.write_parquet(out / f"parties_{year}.parquet")
    return {"parties": df.height, "rows": int(df["n_transactions"].sum())}


def step_match(out: Path, year: int) -> dict:
    import polars as pl

    from cbec.matching.customs import link_customs

    links, report = link_customs(
        pl.read_parquet(out / f"parties_{year}.parquet"),
        pl.read_parquet(out / f"firms_{year}.parquet"),
    )
    return {"links": links.height, "match_rate": round(report["match_rate"], 4)}


def step_polars(out: Path, year: int) -> dict:
    """Plain polars: scan, keep exports, group by party code (no checks, no text cleaning)."""
    import polars as pl

    from cbec.synth.customs import headers

    h = headers(year)
    df = (
        pl.scan_parquet(out / f"customs_{year}.parquet")
        .filter(pl.col(h["flow"]) == "出口")
        .group_by(h["party_code"])
        .agg(
            pl.col(h["value_usd"]).sum(),
            pl.col(h["destination"]).n_unique(),
            pl.col(h["hs8"]).n_unique(),
            pl.len(),
        )
        .collect(engine="streaming")
    )
    return {"parties": df.height}


def step_csv(out: Path, year: int) -> dict:
    """The same year as a GBK CSV (written in chunks), for the chunked reader."""
    import polars as pl

    from cbec.synth.stream import write_chunks

    lf = pl.scan_parquet(out / f"customs_{year}.parquet")
    n = write_chunks(lf.collect_batches(chunk_size=1_000_000), out / f"customs_{year}.csv")
    return {"rows": n}


def timed(step: str, out: Path, year: int, *extra: str) -> dict:
    """Run one step in a child process under /usr/bin/time -v."""
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--step", step]
    cmd += ["--out", str(out), "--year", str(year), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{step} failed:\n{proc.stderr[-3000:]}")

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (.+)", proc.stderr).group(1).strip()

    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return {
        "step": step,
        "wall_s": round(sum(float(x) * 60**i for i, x in enumerate(reversed(wall))), 1),
        "cpu_s": round(cpu, 1),
        "peak_gb": round(int(field("Maximum resident set size (kbytes)")) / 1024**2, 2),
        **json.loads(proc.stdout.strip().splitlines()[-1]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="scratch directory (~2 GB)")
    ap.add_argument("--year", type=int, default=2007)
    ap.add_argument("--rows-per-party", type=float, default=150.0)
    ap.add_argument("--preset", default="full", help="world size (tiny: a quick check)")
    ap.add_argument("--csv", action="store_true", help="also the year as GBK CSV")
    ap.add_argument("--skip-gen", action="store_true", help="reuse the generated year")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--src", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.step:
        steps = {
            "gen": lambda: step_gen(a.out, a.year, a.rows_per_party, a.preset),
            "aggregate": lambda: step_aggregate(a.out, a.year, a.src),
            "match": lambda: step_match(a.out, a.year),
            "polars": lambda: step_polars(a.out, a.year),
            "csv": lambda: step_csv(a.out, a.year),
        }
        print(json.dumps(steps[a.step]()))
        return
    pq, csv = f"customs_{a.year}.parquet", f"customs_{a.year}.csv"
    runs = (
        []
        if a.skip_gen
        else [
            timed(
                "gen",
                a.out,
                a.year,
                "--rows-per-party",
                str(a.rows_per_party),
                "--preset",
                a.preset,
            )
        ]
    )
    runs.append(timed("aggregate", a.out, a.year, "--src", pq))
    runs.append(timed("match", a.out, a.year))
    runs.append(timed("polars", a.out, a.year))
    if a.csv:
        runs.append(timed("csv", a.out, a.year))
        runs.append(timed("aggregate", a.out, a.year, "--src", csv) | {"step": "aggregate_csv"})
    for r in runs:
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()

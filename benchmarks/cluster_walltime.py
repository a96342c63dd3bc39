"""Estimate the wall time of a real-volume run of the whole DAG on N SLURM job slots.

    python benchmarks/cluster_walltime.py RUN [--slots 1 4 16]

RUN is a clean paper-preset run (its ``results/benchmarks/**.tsv``). Each job's time is its
paper time scaled to real volume by its rule's full/paper ratio of largest-job times in
``benchmarks/results/scaling.md`` (rules measured only on the paper preset: the median
ratio), and never below the rule's measured full-preset time; customs and the synthetic
world use the real-volume measurements of scaling.md's customs section. Every SLURM job
costs ``OVERHEAD`` seconds more (measured in CI: the plugin starts Snakemake twice per job);
local rules run on the submitting node. The jobs and their dependencies come from
``snakemake -n --forceall --dag``; they are list-scheduled (longest remaining path first) on
N slots, one job per slot at a time. Queue waits are not modelled. Docs: docs/cluster.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
OVERHEAD = 10.0
# scaling.md, "Customs at real volume": one 17.4 M-row year as GBK CSV (the slower format),
# matching 104,577 parties x 291,318 firms; "Customs generation, one job per year": the
# world's job 81 s, a 19.3 M-row customs year at most 34 s
REAL_VOLUME = {
    "aggregate_customs": 28.6,
    "match_customs": 3.6,
    "synthesize": 81.2,
    "synthesize_customs": 34.3,
}
LOCAL = {"all", "tfp", "cu", "measures_diagnostics", "calibration"}
SYNTHETIC_ONLY = {"synthesize", "synthesize_customs", "calibration", "bias_budget"}


def paper_times(run: Path) -> dict[str, float]:
    """Seconds per benchmark file of a run, keyed like ``measure_industry/13`` or ``table2``."""
    root = run / "results" / "benchmarks"
    return {
        str(f.relative_to(root).with_suffix("")): float(pl.read_csv(f, separator="\t")["s"][0])
        for f in sorted(root.rglob("*.tsv"))
    }


def scaling_ratios(text: str) -> tuple[dict[str, tuple[float, float]], float]:
    """Per benchmark: (full/paper ratio of largest-job seconds, full largest-job seconds), and
    the median ratio, from scaling.md's per-rule table."""
    num = r"[\d.]+ \(([\d.]+)\) \| \d+"
    rows = re.findall(rf"^\| (\w+) \| [^|]+\| \d+ \| {num} \| {num} \|$", text, re.M)
    ratios = {name: (float(f) / float(p), float(f)) for name, p, f in rows if float(p) > 0}
    # the median over jobs of at least 3 s on the paper preset (shorter ones are start-up)
    steady = [float(f) / float(p) for _, p, f in rows if float(p) >= 3]
    return ratios, statistics.median(steady)


def dag() -> tuple[dict[int, tuple[str, str]], dict[int, set[int]]]:
    """Jobs (id -> rule, benchmark key) and their dependencies of the whole workflow."""
    out = subprocess.run(
        [ROOT / ".venv/bin/snakemake", "-n", "--forceall", "--dag", "--workflow-profile", "none"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    jobs = {}
    for jid, rule, wc in re.findall(r'^\s*(\d+)\[label = "(\w+)(?:\\n\w+: ([^"]+))?"', out, re.M):
        key = {"table": wc, "match_platform": f"{rule}_{wc}", "validate_platform": f"{rule}_{wc}"}
        jobs[int(jid)] = (rule, key.get(rule, f"{rule}/{wc}" if wc else rule))
    deps: dict[int, set[int]] = {j: set() for j in jobs}
    for a, b in re.findall(r"^\s*(\d+) -> (\d+)", out, re.M):
        deps[int(b)].add(int(a))
    return jobs, deps


def job_seconds(rule: str, key: str, paper: dict[str, float], scaled: tuple[dict, float]) -> float:
    """Estimated real-volume seconds of one job (without the SLURM overhead)."""
    if rule in REAL_VOLUME:
        return REAL_VOLUME[rule]
    ratios, median = scaled
    bench = key.split("/")[0] if key.split("/")[0] in ratios else key
    ratio, full = ratios.get(bench, (median, 0.0))
    single = "/" not in key
    # a job whose label carries no wildcard (validate_platform) or whose benchmark file is
    # named by the rule alone (event_study_figure): the rule's largest paper job
    own = paper.get(key) or max((t for k, t in paper.items() if k.startswith(rule)), default=0.0)
    return max(own * ratio, full if single else 0.0)


def schedule(
    times: dict[int, float], deps: dict[int, set[int]], slots: int, local: set[int]
) -> float:
    """Makespan of list scheduling on ``slots`` slots (local jobs need no slot)."""
    rank: dict[int, float] = {}
    children = {j: [c for c in deps if j in deps[c]] for j in deps}

    def path(j: int) -> float:
        if j not in rank:
            rank[j] = times[j] + max((path(c) for c in children[j]), default=0.0)
        return rank[j]

    done: dict[int, float] = {}
    free = [0.0] * slots
    for j in sorted(deps, key=lambda j: -path(j)):  # a topological order: parents rank higher
        ready = max((done[d] for d in deps[j]), default=0.0)
        if j in local:
            done[j] = ready + times[j]
            continue
        i = min(range(slots), key=lambda i: max(free[i], ready))
        done[j] = free[i] = max(free[i], ready) + times[j]
    return max(done.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path, help="a clean paper-preset run")
    ap.add_argument("--slots", type=int, nargs="+", default=[1, 4, 16])
    args = ap.parse_args()
    paper = paper_times(args.run)
    scaled = scaling_ratios((ROOT / "benchmarks/results/scaling.md").read_text(encoding="utf-8"))
    jobs, deps = dag()
    secs = {j: job_seconds(r, k, paper, scaled) for j, (r, k) in jobs.items()}
    for name, drop in (("synthetic world", set()), ("licensed data", SYNTHETIC_ONLY)):
        keep = {j for j, (r, _) in jobs.items() if r not in drop and not r.startswith("validate")}
        local = {j for j in keep if jobs[j][0] in LOCAL}
        times = {j: secs[j] + (0.0 if j in local else OVERHEAD) for j in keep}
        sub = {j: deps[j] & keep for j in keep}
        cells = [f"{schedule(times, sub, n, local) / 60:.1f} min" for n in args.slots]
        crit = schedule(times, sub, len(keep), local)
        print(
            f"| {name} | {len(keep) - 1} | {sum(times.values()) / 60:.1f} min | "
            + " | ".join(cells)
            + f" | {crit / 60:.1f} min |"
        )


if __name__ == "__main__":
    main()

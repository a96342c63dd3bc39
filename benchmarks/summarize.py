"""Summarize Snakemake's per-rule benchmarks of one or more runs (e.g. tiny, paper, full).

    python benchmarks/summarize.py tiny=/path/to/run_tiny paper=/path/to/run_paper full=...

Each run directory holds ``results/benchmarks/**.tsv`` (Snakemake's ``benchmark:`` files).
Prints, per rule, the wall time (seconds; summed over the jobs of a rule with wildcards,
with the largest job in brackets) and the peak memory (max RSS, MB) for every run, then the
growth from the first run to each later one (ratio of wall times and of the raw ASIF rows).
Writes the same table as markdown with ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl


def load_run(path: Path) -> pl.DataFrame:
    """One row per benchmark file: rule, job, seconds, max_rss (MB)."""
    rows = []
    root = path / "results" / "benchmarks"
    for f in sorted(root.rglob("*.tsv")):
        rel = f.relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        df = pl.read_csv(f, separator="\t", infer_schema_length=0)
        s = df["s"].cast(pl.Float64)
        rss = df["max_rss"].cast(pl.Float64, strict=False)
        rows.append(
            {
                "rule": rule,
                "job": str(rel),
                "seconds": float(s.median()),
                "max_rss_mb": float(rss.max()) if rss.drop_nulls().len() else None,
            }
        )
    if not rows:
        raise SystemExit(f"no benchmark files under {root}")
    return pl.DataFrame(rows)


def summarize(runs: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per rule and run: total seconds, largest job, peak memory."""
    out = None
    for name, df in runs.items():
        agg = df.group_by("rule").agg(
            pl.col("seconds").sum().round(1).alias(f"{name}_s"),
            pl.col("seconds").max().round(1).alias(f"{name}_max_job_s"),
            pl.col("max_rss_mb").max().round(0).alias(f"{name}_rss_mb"),
            pl.len().alias(f"{name}_jobs"),
        )
        out = agg if out is None else out.join(agg, on="rule", how="full", coalesce=True)
    return out.sort("rule")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("runs", nargs="+", help="name=run_directory")
    ap.add_argument("--out", type=Path, help="write the table as markdown here")
    args = ap.parse_args(argv)
    runs = {}
    for item in args.runs:
        name, _, path = item.partition("=")
        runs[name] = load_run(Path(path))
    table = summarize(runs)
    totals = {n: float(df["seconds"].sum()) for n, df in runs.items()}
    peaks = {n: float(df["max_rss_mb"].max() or 0) for n, df in runs.items()}
    pl.Config.set_tbl_rows(200)
    pl.Config.set_tbl_cols(50)
    print(table)
    names = list(runs)
    lines = ["| rule | " + " | ".join(f"{n} s (largest job) | {n} MB" for n in names) + " |"]
    lines.append("|---|" + "---:|---:|" * len(names))
    for r in table.iter_rows(named=True):
        cells = []
        for n in names:
            s, mx, mb = r.get(f"{n}_s"), r.get(f"{n}_max_job_s"), r.get(f"{n}_rss_mb")
            cells.append("" if s is None else f"{s:g} ({mx:g})")
            cells.append("" if mb is None else f"{mb:g}")
        lines.append(f"| {r['rule']} | " + " | ".join(cells) + " |")
    lines.append(
        "| **sum of job times / peak job memory** | "
        + " | ".join(f"{totals[n]:.0f} | {peaks[n]:.0f}" for n in names)
        + " |"
    )
    if len(names) > 1:
        base = names[0]
        for n in names[1:]:
            print(f"{n} / {base}: sum of job times x{totals[n] / max(totals[base], 1e-9):.1f}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

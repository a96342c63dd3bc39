"""Summarize Snakemake's per-rule benchmarks of one or more runs (e.g. tiny, paper, full).

    python benchmarks/summarize.py tiny=RUN paper=RUN full=RUN \
        --out benchmarks/results/scaling_table.md --plot benchmarks/results/scaling.png

Each run directory holds ``results/benchmarks/**.tsv`` (Snakemake's ``benchmark:`` files).
Prints, per rule, the wall time (seconds; summed over the jobs of a rule with wildcards,
with the largest job in brackets) and the peak memory (max RSS, MB) for every run, then the
rows of each run and the growth from each run to the next. Writes the same table
as markdown with ``--out``; with ``--plot`` a log-log figure (PNG) of the sum of job times
and the peak job memory against the raw input rows, one point per run, and its data beside
it (the same name, ``.csv``).

The rows are read from what the run recorded, never by reading the data:
raw ASIF firm-years from ``results/logs/attrition_asif.csv`` (the cleaning's "read" rows);
customs transaction rows per year from the ``synthesize_customs`` logs (rows written), or
else from the parquet footers of ``resources/raw/customs/`` (a year delivered in another
format and not written by the synthetic world counts as unknown); the analysis sample from
the footer of ``results/analysis/sample.parquet``.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

import polars as pl

SYNTH_LOG = re.compile(r"customs (\d{4}): (\d+) transaction rows")
ROW_FIELDS = ["asif_rows", "customs_rows", "customs_years_unknown", "sample_rows"]


def load_run(path: Path) -> pl.DataFrame:
    """One row per benchmark file: rule, job, seconds, max_rss (MB), cpu_s."""
    rows = []
    root = path / "results" / "benchmarks"
    for f in sorted(root.rglob("*.tsv")):
        rel = f.relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        df = pl.read_csv(f, separator="\t", infer_schema_length=0)
        s = df["s"].cast(pl.Float64)
        rss = df["max_rss"].cast(pl.Float64, strict=False)
        cpu = df["cpu_time"].cast(pl.Float64, strict=False) if "cpu_time" in df.columns else None
        rows.append(
            {
                "rule": rule,
                "job": str(rel),
                "seconds": float(s.median()),
                "max_rss_mb": float(rss.max()) if rss.drop_nulls().len() else None,
                "cpu_s": float(cpu.median())
                if cpu is not None and cpu.drop_nulls().len()
                else None,
            }
        )
    if not rows:
        raise SystemExit(f"no benchmark files under {root}")
    return pl.DataFrame(rows, schema_overrides={"max_rss_mb": pl.Float64, "cpu_s": pl.Float64})


def parquet_rows(path: Path) -> int:
    """Rows of a parquet file, from its footer (no data read)."""
    return int(pl.scan_parquet(path).select(pl.len()).collect().item())


def asif_rows(path: Path) -> int | None:
    """Raw ASIF firm-years the cleaning read (its attrition table), or None if absent."""
    f = path / "results" / "logs" / "attrition_asif.csv"
    if not f.is_file():
        return None
    df = pl.read_csv(f, infer_schema_length=0)
    read = df.filter((pl.col("stage") == "clean_asif") & (pl.col("reason") == "read"))
    return int(read["rows"].cast(pl.Int64).sum()) if read.height else None


def customs_rows(path: Path) -> tuple[int | None, int]:
    """Customs transaction rows of the run (sum over years) and the years not counted.

    A year's rows come from its ``synthesize_customs`` log, else from its parquet footer."""
    by_year: dict[str, int] = {}
    for log in sorted((path / "results" / "logs").glob("synthesize_customs_*.log")):
        for year, n in SYNTH_LOG.findall(log.read_text(encoding="utf-8")):
            by_year[year] = int(n)
    raw = path / "resources" / "raw" / "customs"
    files = sorted(raw.glob("customs_*.*")) if raw.is_dir() else []
    unknown: set[str] = set()
    for f in files:
        year = f.name.split("_", 1)[1].split(".", 1)[0]
        if year in by_year:
            continue
        if f.suffix == ".parquet":
            by_year[year] = parquet_rows(f)
        else:
            unknown.add(year)
    unknown -= set(by_year)
    return (sum(by_year.values()) if by_year else None), len(unknown)


def run_rows(path: Path) -> dict[str, int | None]:
    """The rows a run recorded: raw ASIF firm-years, customs transactions, analysis sample."""
    customs, unknown = customs_rows(path)
    sample = path / "results" / "analysis" / "sample.parquet"
    return {
        "asif_rows": asif_rows(path),
        "customs_rows": customs,
        "customs_years_unknown": unknown,
        "sample_rows": parquet_rows(sample) if sample.is_file() else None,
    }


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


def run_totals(runs: dict[str, pl.DataFrame], rows: dict[str, dict]) -> list[dict]:
    """One record per run: its rows, sum of job times and CPU times, peak job memory."""
    out = []
    for name, df in runs.items():
        r = rows[name]
        known = [r[k] for k in ("asif_rows", "customs_rows") if r[k] is not None]
        out.append(
            {
                "run": name,
                **r,
                "input_rows": sum(known) if known else None,
                "jobs": df.height,
                "job_s": round(float(df["seconds"].sum()), 1),
                "job_cpu_s": round(float(df["cpu_s"].sum()), 1),
                "peak_job_mb": round(float(df["max_rss_mb"].max() or 0)),
            }
        )
    return out


def markdown(table: pl.DataFrame, totals: list[dict]) -> str:
    """The per-rule table as markdown with a totals row, then one line per run (its rows)."""
    names = [t["run"] for t in totals]
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
        + " | ".join(f"{t['job_s']:.0f} | {t['peak_job_mb']:.0f}" for t in totals)
        + " |"
    )
    return "\n".join(lines) + "\n\n" + runs_markdown(totals)


def runs_markdown(totals: list[dict]) -> str:
    """One markdown line per run: its rows, jobs, sum of job and CPU times, peak memory."""

    def fmt(v: float | None) -> str:
        return "?" if v is None else f"{v:,.0f}"

    lines = [
        "| run | raw ASIF firm-years | customs transaction rows | analysis sample | jobs "
        "| sum of job times s | sum of job CPU s | peak job MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in totals:
        customs = fmt(t["customs_rows"])
        if t["customs_years_unknown"]:
            customs += f" (+{t['customs_years_unknown']} years not counted)"
        cells = [fmt(t["asif_rows"]), customs, fmt(t["sample_rows"]), str(t["jobs"])]
        cells += [fmt(t[k]) for k in ("job_s", "job_cpu_s", "peak_job_mb")]
        lines.append(f"| {t['run']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def growth(totals: list[dict]) -> list[str]:
    """Ratios of each run to the one before it: input rows, job time, CPU time, peak memory."""
    out = []
    for base, t in zip(totals, totals[1:], strict=False):
        parts = []
        if t["input_rows"] and base["input_rows"]:
            parts.append(f"input rows x{t['input_rows'] / base['input_rows']:.1f}")
        for key, label in (("job_s", "sum of job times"), ("job_cpu_s", "sum of job CPU")):
            parts.append(f"{label} x{t[key] / max(base[key], 1e-9):.1f}")
        parts.append(f"peak job memory x{t['peak_job_mb'] / max(base['peak_job_mb'], 1):.1f}")
        out.append(f"{t['run']} / {base['run']}: " + ", ".join(parts))
    return out


def write_plot(totals: list[dict], png: Path) -> Path:
    """Log-log plot of the sum of job times and the peak job memory against the input rows
    (one point per run), and its data as CSV beside it. Returns the CSV's path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    data = png.with_suffix(".csv")
    fields = ["run", *ROW_FIELDS, "input_rows", "jobs", "job_s", "job_cpu_s", "peak_job_mb"]
    with open(data, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(totals)
    pts = [t for t in totals if t["input_rows"]]
    fig = Figure(figsize=(9, 3.8))
    panels = (("job_s", "sum of job times (s)"), ("peak_job_mb", "peak job memory (MB)"))
    for i, (key, label) in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        x = [t["input_rows"] for t in pts]
        y = [t[key] for t in pts]
        ax.loglog(x, y, "o-", color="black")
        for t, xi, yi in zip(pts, x, y, strict=True):
            ax.annotate(t["run"], (xi, yi), textcoords="offset points", xytext=(4, -10))
        ax.set_xlabel("raw input rows (ASIF firm-years + customs transactions)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=110, metadata={"Software": None})
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("runs", nargs="+", help="name=run_directory")
    ap.add_argument("--out", type=Path, help="write the tables as markdown here")
    ap.add_argument("--plot", type=Path, help="write the log-log plot here (PNG; data as .csv)")
    args = ap.parse_args(argv)
    runs, rows = {}, {}
    for item in args.runs:
        name, _, path = item.partition("=")
        runs[name] = load_run(Path(path))
        rows[name] = run_rows(Path(path))
    table = summarize(runs)
    totals = run_totals(runs, rows)
    pl.Config.set_tbl_rows(200)
    pl.Config.set_tbl_cols(50)
    print(table)
    text = markdown(table, totals)
    if len(totals) > 1:
        text += "\nGrowth from each run to the next:\n\n" + "".join(
            f"- {g}\n" for g in growth(totals)
        )
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    if args.plot:
        print(f"wrote {args.plot} and {write_plot(totals, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

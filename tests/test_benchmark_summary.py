"""benchmarks/summarize.py: per-rule table, the rows each run recorded, the scaling plot."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import polars as pl
import pytest
from helpers import ROOT

SPEC = importlib.util.spec_from_file_location("summarize", ROOT / "benchmarks" / "summarize.py")
summarize = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(summarize)

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def fake_run(root: Path, scale: int) -> Path:
    """A run directory as the workflow leaves it, ``scale`` times the rows of the smallest."""
    bench = root / "results" / "benchmarks"
    (bench / "aggregate_customs").mkdir(parents=True)
    (bench / "synthesize.tsv").write_text(
        HEADER + f"{2.0 * scale}\t0\t{100 * scale}\t0\t0\t0\t0\t0\t0\t1.5\n"
    )
    for year, s in ((2001, 1.0), (2002, 3.0)):
        (bench / "aggregate_customs" / f"{year}.tsv").write_text(
            HEADER + f"{s * scale}\t0\t{50 * scale}\t0\t0\t0\t0\t0\t0\t{s}\n"
        )
    logs = root / "results" / "logs"
    logs.mkdir(parents=True)
    (logs / "attrition_asif.csv").write_text(
        "stage,year,step,reason,rows\n"
        f"clean_asif,2001,0,read,{1000 * scale}\nclean_asif,2001,7,fewer than 8 employees,40\n"
        f"clean_asif,2002,0,read,{1200 * scale}\nanalysis_sample,2001,0,read,900\n"
    )
    # 2001: the synthetic world's log counts the CSV year; 2002: the parquet footer; 2003: unknown
    (logs / "synthesize_customs_2001.csv.log").write_text(
        f"2026-12-02 01:32:26,458 INFO synthesize_customs: customs 2001: {500 * scale} transaction rows\n"
    )
    raw = root / "resources" / "raw" / "customs"
    raw.mkdir(parents=True)
    (raw / "customs_2001.csv").write_text("not read\n")
    pl.DataFrame({"v": list(range(7 * scale))}).write_parquet(raw / "customs_2002.parquet")
    (raw / "customs_2003.dta").write_bytes(b"not read")
    (root / "results" / "analysis").mkdir(parents=True)
    pl.DataFrame({"v": list(range(3 * scale))}).write_parquet(
        root / "results/analysis/sample.parquet"
    )
    return root


def test_rows_come_from_what_the_run_recorded(tmp_path):
    rows = summarize.run_rows(fake_run(tmp_path, 1))
    assert rows == {
        "asif_rows": 2200,
        "customs_rows": 507,
        "customs_years_unknown": 1,
        "sample_rows": 3,
    }
    assert summarize.run_rows(tmp_path / "no_run") == {
        "asif_rows": None,
        "customs_rows": None,
        "customs_years_unknown": 0,
        "sample_rows": None,
    }


def test_tables_growth_and_plot(tmp_path, capsys):
    small, big = fake_run(tmp_path / "small", 1), fake_run(tmp_path / "big", 10)
    md, png = tmp_path / "scaling.md", tmp_path / "scaling.png"
    assert (
        summarize.main([f"tiny={small}", f"full={big}", "--out", str(md), "--plot", str(png)]) == 0
    )
    text = md.read_text(encoding="utf-8")
    assert "| aggregate_customs | 4 (3) | 50 | 40 (30) | 500 |" in text
    assert "| **sum of job times / peak job memory** | 6 | 100 | 60 | 1000 |" in text
    assert "| full | 22,000 | 5,070 (+1 years not counted) | 30 | 3 | 60 | 6 | 1,000 |" in text
    assert (
        "full / tiny: input rows x10.0, sum of job times x10.0, sum of job CPU x1.0, peak job memory x10.0"
        in (capsys.readouterr().out)
    )
    with open(png.with_suffix(".csv"), encoding="utf-8") as fh:
        data = list(csv.DictReader(fh))
    assert [(d["run"], int(d["input_rows"]), float(d["job_s"])) for d in data] == [
        ("tiny", 2707, 6.0),
        ("full", 27070, 60.0),
    ]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_benchmarks_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="no benchmark files"):
        summarize.load_run(tmp_path)

"""End to end on the tiny preset: every rule runs; determinism; resume; attrition; confidentiality.

The checks of a finished run read the session's shared run (``tiny_run``, tests/conftest.py).
Determinism and resume: a second clean run of the whole DAG in its own directory, killed in
the middle of the measures and resumed, is byte-identical to it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from helpers import copy_run, copy_workflow, run_snakemake, snakemake_env

pytestmark = pytest.mark.slow

TINY = ["--config", "preset=tiny"]
OUTPUT_DIRS = ["results/estimates", "results/tables", "results/figures"]
# the data behind them, hashed too (the measures' diagnostics CSVs hold timings: not these)
DATA_GLOBS = [
    "results/panel/*.parquet",
    "results/measures/*.parquet",
    "results/measures/by_industry/*.parquet",
    "results/analysis/*.parquet",
    "results/validation/*",
    "results/validation/oracle/*.json",
]


def _outputs(wd: Path, data: bool = True) -> dict[str, bytes]:
    """Estimates, tables and figures, and (``data``) the data files behind them, by path."""
    out = {}
    for d in OUTPUT_DIRS:
        for p in sorted((wd / d).rglob("*")) if (wd / d).exists() else []:
            if p.is_file():
                out[str(p.relative_to(wd))] = p.read_bytes()
    for pattern in DATA_GLOBS if data else []:
        for p in sorted(wd.glob(pattern)):
            if p.is_file():
                out[str(p.relative_to(wd))] = p.read_bytes()
    return out


def test_every_table_is_built(tiny_run, base_config):
    for name in base_config["tables"]["specs"]:
        est = json.loads((tiny_run / f"results/estimates/{name}.json").read_text())
        assert est["table"] == name
        for ext in ("tex", "md", "html"):
            assert (tiny_run / f"results/tables/{name}.{ext}").stat().st_size > 0
        if name != "table1":
            col = est["columns"][0]
            assert {"label", "depvar", "estimator", "fixed_effects", "vcov", "coef", "nobs"} <= set(
                col
            )


def test_attrition_adds_up(tiny_run):
    for f in ["attrition_asif.csv", "attrition_sample.csv"]:
        a = pl.read_csv(tiny_run / "results/logs" / f)
        for _, g in a.group_by(["stage", "year"]):
            d = dict(zip(g["reason"], g["rows"], strict=True))
            dropped = sum(v for k, v in d.items() if k not in {"read", "kept"})
            assert d["read"] == d["kept"] + dropped, (f, d)


def test_match_reports_meet_targets(tiny_run):
    """Match quality comes from the validation rules; the matching rules never see the truth."""
    links, validation = tiny_run / "results/links", tiny_run / "results/validation"
    for name in ("panel_links", "customs_asif", "alibaba", "mic"):
        assert "truth" not in json.loads((links / f"{name}_report.json").read_text())
    panel = json.loads((validation / "panel_links_quality.json").read_text())
    assert panel["precision"] >= 0.99 and panel["recall"] >= 0.97
    customs = json.loads((validation / "customs_asif_quality.json").read_text())
    assert customs["precision"] >= 0.99
    for plat in ("alibaba", "mic"):
        quality = json.loads((validation / f"{plat}_quality.json").read_text())
        assert quality["precision"] >= 0.98
        rep = json.loads((links / f"{plat}_report.json").read_text())
        assert rep["fuzzy_comparisons"] < 0.05 * rep["full_cross_product"]


def test_small_customs_years_share_a_job(tiny_run, base_config):
    """On the tiny preset every customs year is small: one aggregate_customs and one
    match_customs job for all years (config.yaml customs.batch_rows), and the gathered files
    are the batch files (the match report covers every year)."""
    years = range(base_config["years"]["first"], base_config["years"]["last"] + 1)
    batch = f"{years[0]}-{years[-1]}"
    interim, links = tiny_run / "results/interim", tiny_run / "results/links"
    for rule in ("aggregate_customs", "match_customs"):
        jobs = sorted(p.name for p in (tiny_run / f"results/benchmarks/{rule}").iterdir())
        assert jobs == [f"{batch}.tsv"], (rule, jobs)
    part = pl.read_parquet(interim / f"customs/customs_{batch}.parquet")
    assert part["year"].unique().sort().to_list() == list(years)
    assert part.equals(pl.read_parquet(interim / "customs_firm_year.parquet"))
    stacked = pl.read_parquet(links / f"customs/customs_asif_{batch}.parquet")
    assert stacked.sort("year", "party_code").equals(
        pl.read_parquet(links / "customs_asif.parquet")
    )
    report = json.loads((links / "customs_asif_report.json").read_text())
    assert sorted(int(y) for y in report["parties_by_year"]) == list(years)


def _sha(paths: list[Path]) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_customs_one_job_per_year_gives_the_same_bytes(tiny_run, tmp_path):
    """customs.batch_rows: 0 (a --configfile override) makes every customs year a job of its
    own (synthesize_customs, aggregate_customs, match_customs), and the gathered aggregates,
    links and match report are byte-identical to the batched run's."""
    wd = copy_run(tiny_run, tmp_path / "run")
    (wd / "per_year.yaml").write_text("customs: {batch_mb: 0, batch_rows: 0}\n")
    gathered = [
        "results/interim/customs_firm_year.parquet",
        "results/links/customs_asif.parquet",
        "results/links/customs_asif_report.json",
    ]
    for f in gathered:
        (wd / f).unlink()
    args = [*TINY, "--configfile", "per_year.yaml"]
    rules = ["aggregate_customs", "match_customs", "gather_customs", "gather_customs_links"]
    dry = run_snakemake(wd, *gathered, *args, "-n", "--forceall", "--allowed-rules", *rules)
    raw = run_snakemake(wd, "resources/raw/customs/customs_2005.parquet", *args, "-n", "-f")
    # (the world's job is out of date too: the years it writes, a param, changed)
    assert "rule synthesize_customs:" in raw.stdout, raw.stdout
    run_snakemake(wd, *gathered, *args, "--allowed-rules", *rules)
    for rule in ("aggregate_customs", "match_customs"):
        assert len(list((wd / f"results/benchmarks/{rule}").glob("20??.tsv"))) == 15, dry.stdout
    assert _sha([wd / f for f in gathered]) == _sha([tiny_run / f for f in gathered])


def test_synthetic_customs_years_are_written_by_the_world_job(tiny_run, base_config, tmp_path):
    """Small customs years are written by the world's job (synthesize), no synthesize_customs
    job runs, and the world the workflow wrote is the bytes of one in-process generate()."""
    import hashlib

    from cbec.synth import generate

    years = range(base_config["years"]["first"], base_config["years"]["last"] + 1)
    csv_years = set(base_config["synthetic"].get("customs", {}).get("csv_years", (2001, 2002)))
    assert not (tiny_run / "results/benchmarks/synthesize_customs").exists()
    log = (tiny_run / "results/logs/synthesize.log").read_text(encoding="utf-8")
    for y in years:
        assert f"customs {y}: " in log
    generate(
        base_config["synthetic"],
        "tiny",
        base_config["seed"],
        tmp_path / "raw",
        tmp_path / "truth",
        csv_years=csv_years,
    )

    def hashes(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    for sub in ("raw", "truth"):
        assert hashes(tiny_run / "resources" / sub) == hashes(tmp_path / sub), sub


def test_the_customs_csv_years_are_read_as_gbk_csv(tiny_run, base_config):
    """The synthetic world delivers synthetic.customs.csv_years as GBK CSV, declared in
    inputs.customs_by_year as a researcher would, and aggregate_customs reads those files."""
    from cbec.config import apply_defaults, validate_config, year_input

    cfg = apply_defaults(validate_config(base_config | {"preset": "tiny"}))
    csv_years = sorted(cfg["inputs"]["customs_by_year"])
    assert csv_years, "the default world writes no customs year as CSV"
    raw = tiny_run / "resources/raw/customs"
    (log_path,) = (tiny_run / "results/logs").glob("aggregate_customs_*.log")
    log = log_path.read_text(encoding="utf-8")
    for y in range(cfg["years"]["first"], cfg["years"]["last"] + 1):
        path = year_input(cfg["inputs"], "customs", y)
        fmt = "csv" if y in csv_years else "parquet"
        assert path.endswith(f"customs_{y}.{fmt}"), path
        assert sorted(p.name for p in raw.glob(f"customs_{y}.*")) == [f"customs_{y}.{fmt}"]
        assert f"{y}: reading {path} (format {fmt})" in log, (y, log)
    (tiny_run / "resources/raw/customs" / f"customs_{csv_years[0]}.csv").read_bytes().decode("gbk")


def _identifiers(wd: Path) -> set[str]:
    """Firm names, phones and legal representatives of every raw input."""
    from cbec.data.io import read_raw

    ids: set[str] = set()
    raw = wd / "resources/raw"
    for p in sorted((raw / "asif").glob("*.parquet")):
        df = read_raw(p, "asif")
        for c in ("firm_name", "legal_rep", "phone"):
            ids |= set(df[c].drop_nulls().to_list())
    for p in sorted((raw / "members").glob("*.parquet")):
        df = read_raw(p, "members")
        for c in ("name_cn", "name_en", "legal_rep", "phone"):
            ids |= set(df[c].drop_nulls().to_list())
    for p in sorted((raw / "customs").glob("customs_*.*")):  # parquet and GBK CSV years
        df = read_raw(p, "customs")
        for c in ("party_name", "phone"):
            ids |= set(df[c].drop_nulls().unique().to_list())
    # short strings (two-character names, short phone fragments) match by chance
    return {s for s in ids if len(s) >= 4 and not s.isdigit() or s.isdigit() and len(s) >= 11}


def test_confidentiality(tiny_run):
    ids = _identifiers(tiny_run)
    assert len(ids) > 1000
    leaks = []
    for name, data in _outputs(tiny_run, data=False).items():
        text = data.decode("utf-8", errors="ignore")
        leaks += [(name, s) for s in ids if s in text]
    report = tiny_run / "results/report.html"
    if report.exists():
        text = report.read_text(encoding="utf-8", errors="ignore")
        leaks += [("report", s) for s in ids if s in text]
    assert not leaks, leaks[:5]


def test_identifiers_end_at_matching(tiny_run):
    """The panel and the analysis sample carry firm_id, never a name, code, phone or zip."""
    ids = _identifiers(tiny_run)
    for rel in ("results/panel/panel.parquet", "results/analysis/sample.parquet"):
        df = pl.read_parquet(tiny_run / rel)
        assert "firm_id" in df.columns
        assert not set(df.columns) & {"firm_code", "firm_name", "legal_rep", "phone", "zip"}, rel
        strings = set()
        for c in df.columns:
            if df[c].dtype == pl.String:
                strings |= set(df[c].drop_nulls().unique().to_list())
        assert not strings & ids, (rel, sorted(strings & ids)[:5])


def test_rerun_killed_and_resumed_is_byte_identical(tiny_run, tmp_path):
    """Determinism and resume in one second run: the whole DAG in a clean directory, killed
    in the middle of the measures, unlocked and resumed, ends byte-identical to the
    uninterrupted shared run (every step before the kill ran afresh, every step after it
    ran on the resumed state)."""
    wd = copy_workflow(tmp_path / "tiny_b")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *TINY]
    proc = subprocess.Popen(
        cmd,
        cwd=wd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=snakemake_env(wd),
    )
    parts = wd / "results/measures/by_industry"
    deadline = time.time() + 900
    while time.time() < deadline and proc.poll() is None:
        if parts.exists() and len(list(parts.glob("*.parquet"))) >= 4:
            break
        time.sleep(0.5)
    assert proc.poll() is None, "the run finished (or failed) before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # a killed run leaves its lock behind; snakemake says so and --unlock lifts it
    run_snakemake(wd, "--unlock", *TINY)
    run_snakemake(wd, *TINY)
    a, b = _outputs(tiny_run), _outputs(wd)
    assert a.keys() == b.keys() and len(a) > 20
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, differ


def test_report_opens_offline(tiny_run, tmp_path):
    """The workflow's report in headless Chromium: images decode, nothing is fetched."""
    from report.test_browser import CHROMIUM, probe

    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    page = (tiny_run / "results" / "report.html").read_text(encoding="utf-8")
    out = probe(page, tmp_path)
    assert out["broken"] == [] and out["resources"] == [] and out["n_images"] >= 5


def test_figures_exist(tiny_run):
    figs = sorted((tiny_run / "results" / "figures").glob("*"))
    assert {p.suffix for p in figs} >= {".png", ".pdf"}
    assert all(p.stat().st_size > 1000 for p in figs)


def test_industry_concentration_is_on_the_whole_panel(tiny_run):
    """Table 4's ind_conc: the largest firm's share of its industry-year's sales in the whole
    panel (cleaned ASIF), not in the analysis sample (customs firms, CU measured)."""
    from cbec.analysis.psm import industry_concentration_table

    panel = pl.read_parquet(tiny_run / "results/panel/panel.parquet")
    sample = pl.read_parquet(tiny_run / "results/analysis/sample.parquet")
    got = sample.select("ind2", "year", "ind_conc").unique().sort("ind2", "year")
    want = got.select("ind2", "year").join(
        industry_concentration_table(panel), on=["ind2", "year"], how="left"
    )
    assert got["ind_conc"].to_list() == want["ind_conc"].to_list()
    on_sample = got.select("ind2", "year").join(
        industry_concentration_table(sample), on=["ind2", "year"], how="left"
    )
    assert (got["ind_conc"] - on_sample["ind_conc"]).abs().max() > 1e-3


def test_cu_level_is_net_of_the_pooled_book_noise(tiny_run, base_config):
    """The default YJZ level (``norm_method: deconvolved``): every industry's CU is
    (δ/a)^(1/θ̂) with ln a the SIMEX 99th percentile of its ln δ net of the variance that
    rule book_noise pooled over industries, which sets u higher than the plain quantile."""
    import numpy as np

    from cbec.measures.cu import level_ln_a

    assert base_config["measures"]["yjz"]["norm_method"] == "deconvolved"
    noise = json.loads((tiny_run / "results/measures/book_noise.json").read_text())
    assert noise["var"] > 0 and noise["n_used"] > 0 and noise["model"] in ("ar1", "random_walk")
    diag = pl.read_csv(tiny_run / "results/measures/diagnostics.csv", infer_schema_length=None)
    theta = {
        f"{int(g):02d}": t
        for g, t in diag.filter(pl.col("measure") == "cu").select("ind2", "theta").iter_rows()
        if t is not None
    }
    panel = pl.read_parquet(
        tiny_run / "results/panel/panel.parquet", columns=["firm_id", "year", "ind2", "dep_rate"]
    )
    cu = pl.read_parquet(
        tiny_run / "results/measures/cu.parquet", columns=["firm_id", "year", "cu"]
    )
    rows = panel.join(cu, on=["firm_id", "year"]).filter(pl.col("dep_rate") > 0)
    checked = 0
    for (g,), d in rows.filter(pl.col("ind2").is_in(list(theta))).group_by(["ind2"]):
        th, lnd = theta[str(g)], np.log(d["dep_rate"].to_numpy())
        ln_a = level_ln_a(lnd, th, "deconvolved", 0.99, 1.0, noise_var=noise["var"])
        np.testing.assert_allclose(d["cu"].to_numpy(), np.exp((lnd - ln_a) / th), rtol=1e-9)
        assert ln_a < level_ln_a(lnd, th, "quantile", 0.99, 1.0)
        checked += 1
    assert checked >= len(theta) - 1 >= 5

"""Customs years written one job per year: the world's job writes the plan and no customs
file, and each year written alone, in any order, is the same bytes as in a whole run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from cbec.synth import generate, resolve_params, write_customs_file
from cbec.synth.customs import PLAN_SCHEMA, TRUTH_COLUMNS

from .conftest import SEED


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_years_written_alone_in_reverse_order_equal_the_whole_run(tiny_world, tmp_path):
    raw, truth, _ = tiny_world
    out = tmp_path / "raw"
    (out / "customs").mkdir(parents=True)
    keep = out / "customs" / "keep.txt"  # the world's job leaves raw/customs alone
    keep.write_text("not the world's")
    summary = generate({}, "tiny", SEED, out, tmp_path / "truth", customs=False)
    assert not any(k.startswith("raw/customs/") for k in summary)
    assert sorted(p.name for p in (out / "customs").iterdir()) == ["keep.txt"]
    for sub in ("asif", "members", "external"):  # the rest of the world is the same bytes
        for f in sorted((raw / sub).iterdir()):
            assert _sha(out / sub / f.name) == _sha(f), f
    for f in sorted(truth.iterdir()):
        assert _sha(tmp_path / "truth" / f.name) == _sha(f), f
    p = resolve_params({}, "tiny")
    plan = tmp_path / "truth" / "customs_plan.parquet"
    for year in (2012, 2003):  # later year first, each from the plan alone
        path = out / "customs" / f"customs_{year}.parquet"
        n = write_customs_file(plan, p, SEED, year, path)
        assert n == pl.read_parquet(path).height > 1000
        assert _sha(path) == _sha(raw / "customs" / f"customs_{year}.parquet"), year
    # a .csv path gives the same year as GBK text (header vintage of 2001-2006)
    csv = out / "customs" / "customs_2003.csv"
    assert write_customs_file(plan, p, SEED, 2003, csv) == n
    back = pl.read_csv(csv.read_bytes().decode("gbk").encode(), infer_schema=False)
    want = pl.read_parquet(raw / "customs" / "customs_2003.parquet")
    assert "企业编码" in back.columns and back.equals(want.cast(pl.String))
    assert not [f for f in (out / "customs").iterdir() if f.name.startswith(".")]


def test_the_plan_holds_every_year_and_the_party_truth(tiny_world):
    _, truth, summary = tiny_world
    plan = pl.read_parquet(truth / "customs_plan.parquet")
    assert plan.schema == pl.Schema(PLAN_SCHEMA)
    assert summary["truth/customs_plan.parquet"] == plan.height
    assert plan["year"].unique().sort().to_list() == list(range(2001, 2016))
    assert plan["n_parties"].n_unique() == 1
    assert plan["n_parties"][0] > plan["party"].max()
    parties = pl.read_parquet(truth / "customs_parties.parquet")
    assert plan.select(TRUTH_COLUMNS).equals(parties)
    manu = plan.filter(pl.col("kind") == "manufacturer")
    assert manu["true_firm"].null_count() == 0 and manu["export_usd"].null_count() == 0
    assert plan.filter(pl.col("kind") == "intermediary")["ln_x"].null_count() == 0


def test_a_gbk_csv_year_aggregates_as_its_parquet(tiny_world, tmp_path):
    """The synthetic world's GBK CSV year (synthetic.customs.csv_years) gives the workflow's
    aggregate_customs the same party-year aggregate as the year written as parquet."""
    from polars.testing import assert_frame_equal

    from cbec.data.customs import customs_year

    raw, truth, _ = tiny_world
    p = resolve_params({}, "tiny")
    csv = tmp_path / "customs_2002.csv"
    write_customs_file(truth / "customs_plan.parquet", p, SEED, 2002, csv)
    parquet = raw / "customs" / "customs_2002.parquet"
    # small chunks: the CSV is read in several pieces, as a real-volume year is
    got = customs_year(csv, 2002, "auto", tmp_path, rows=5_000)
    want = customs_year(parquet, 2002, "auto", tmp_path)
    assert got.height > 100
    assert_frame_equal(got, want)


def test_generate_writes_the_csv_years_as_gbk(tmp_path):
    generate({}, "tiny", SEED, tmp_path / "raw", tmp_path / "truth", csv_years=[2002])
    names = sorted(p.name for p in (tmp_path / "raw" / "customs").iterdir())
    assert "customs_2002.csv" in names and "customs_2002.parquet" not in names
    assert "customs_2001.parquet" in names and len(names) == 15
    head = (tmp_path / "raw" / "customs" / "customs_2002.csv").read_bytes()[:200]
    assert "企业编码" in head.decode("gbk", errors="ignore")

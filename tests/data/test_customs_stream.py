"""Customs read one year at a time in bounded memory: the streamed (and chunked) aggregation
equals the in-memory one, and a year delivered as GBK CSV or Stata .dta aggregates to the
same party-years as the same data in parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pyreadstat
import pytest
from polars.testing import assert_frame_equal

import cbec.data.customs as customs
from cbec.data.customs import EXPORT_FLAGS, REQUIRED, customs_year, customs_years
from cbec.data.io import read_raw
from cbec.errors import InputError
from cbec.synth import generate
from cbec.synth.customs import HEADERS_A
from cbec.synth.stream import write_chunks

SEED = 20250401
YEARS = (2004, 2012)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """A small world's raw customs files (both header vintages)."""
    out = tmp_path_factory.mktemp("customs_world")
    generate({"presets": {"tiny": {"n_firms_2001": 300}}}, "tiny", SEED, out / "raw", out / "t")
    return out / "raw" / "customs"


def _in_memory(path, year: int) -> pl.DataFrame:
    """The reference: the whole year read at once (``read_raw``), every row cleaned, then
    grouped by party (the aggregation as it was before it was streamed)."""
    flow = pl.col("flow").cast(pl.String).str.to_lowercase().str.strip_chars()
    key = pl.coalesce(
        pl.col("party_code"), pl.lit("name:") + pl.col("party_name").str.strip_chars()
    )
    return (
        read_raw(path, "customs", required=REQUIRED)
        .filter(flow.is_null() | flow.is_in(EXPORT_FLAGS))
        .with_columns(key.alias("party_key"))
        .group_by("party_key")
        .agg(
            pl.col("party_code").drop_nulls().first(),
            pl.col("party_name").drop_nulls().mode().sort().first(),
            pl.col("zip").drop_nulls().mode().sort().first(),
            pl.col("phone").drop_nulls().mode().sort().first(),
            pl.col("value_usd").sum().alias("export_value"),
            pl.col("destination").drop_nulls().n_unique().alias("n_markets"),
            pl.col("hs8").drop_nulls().n_unique().alias("n_products"),
            pl.len().alias("n_transactions"),
        )
        .with_columns(pl.lit(year, dtype=pl.Int64).alias("year"))
        .sort("party_key")
    )


@pytest.mark.parametrize("year", YEARS)
def test_streamed_year_equals_in_memory(raw, tmp_path, year):
    path = raw / f"customs_{year}.parquet"
    ref = _in_memory(path, year)
    assert ref.height > 50 and ref["n_transactions"].sum() > 1000
    assert_frame_equal(customs_year(path, year, "auto", tmp_path), ref)


def _messy(path) -> pl.DataFrame:
    """A year with what deliveries contain: full-width names and digits, blank and all-zero
    zips and phones, padded text, import rows."""
    df = pl.read_parquet(path).rename({v: k for k, v in HEADERS_A.items()})
    i = pl.int_range(pl.len())
    fw = str.maketrans("()0123456789", "（）０１２３４５６７８９")
    first_party = pl.col("party_code") == pl.col("party_code").first()
    return df.with_columns(
        party_code=pl.when(first_party).then(pl.lit(" ")).otherwise(pl.col("party_code")),
        party_name=pl.when(i % 7 == 0)
        .then(pl.col("party_name").map_elements(lambda s: s.translate(fw), pl.String))
        .otherwise(pl.col("party_name")),
        zip=pl.when(i % 11 == 0)
        .then(pl.lit("000000"))
        .when(i % 5 == 0)
        .then(pl.lit("100001"))
        .otherwise(pl.col("zip")),
        phone=pl.when(i % 13 == 0).then(pl.lit(" ")).otherwise(pl.col("phone")),
        destination=pl.when(i % 17 == 0).then(pl.lit("")).otherwise(" " + pl.col("destination")),
        hs8=pl.when(i % 19 == 0)
        .then(pl.col("hs8").map_elements(lambda s: s.translate(fw), pl.String))
        .otherwise(pl.col("hs8")),
        value_usd=pl.when(i % 23 == 0).then(float("nan")).otherwise(pl.col("value_usd")),
    )


def test_gbk_csv_and_dta_give_the_parquet_aggregate(raw, tmp_path):
    df = _messy(raw / "customs_2004.parquet")
    pq_path, csv_path, dta_path = (tmp_path / f"c.{x}" for x in ("parquet", "csv", "dta"))
    df.rename(HEADERS_A).write_parquet(pq_path)
    # GBK, Chinese headers, appended in chunks; .dta with the English headers
    n = write_chunks(df.rename(HEADERS_A).iter_slices(997), csv_path, encoding="gbk")
    assert n == df.height
    with pytest.raises(UnicodeDecodeError):
        csv_path.read_bytes().decode("utf-8")
    eng = {"party_code": "party_id", "party_name": "company", "destination": "country"}
    eng |= {"value_usd": "value", "hs8": "hs_code"}
    pyreadstat.write_dta(df.rename(eng).to_pandas(), str(dta_path), version=15)
    ref = customs_year(pq_path, 2004, "auto", tmp_path / "w0")
    assert ref["party_name"].str.contains("（").sum() == 0  # normalized like read_raw
    assert ref["party_key"].str.starts_with("name:").sum() == 1  # the party without a code
    assert ref.height > 50
    for path, enc in ((csv_path, "auto"), (csv_path, "gbk"), (dta_path, "auto")):
        work = tmp_path / f"w-{path.suffix[1:]}-{enc}"
        work.mkdir()
        got = customs_year(path, 2004, enc, work, rows=300)
        assert len(list(work.glob("part-*.parquet"))) > 3  # read in several chunks
        assert_frame_equal(got, ref, check_dtypes=True)
    assert_frame_equal(ref, _in_memory(csv_path, 2004))
    assert_frame_equal(ref, _in_memory(pq_path, 2004))


def test_text_typed_parquet_is_read_in_chunks(raw, tmp_path):
    """Numbers stored as text (a parquet made from a CSV) go through the checked chunked
    reader and give the same aggregate."""
    path = raw / "customs_2012.parquet"
    text = tmp_path / "text.parquet"
    pl.read_parquet(path).with_columns(pl.all().cast(pl.String)).write_parquet(text)
    work = tmp_path / "w"
    work.mkdir()
    got = customs_year(text, 2012, "auto", work, rows=500)
    assert len(list(work.glob("part-*.parquet"))) > 1
    assert_frame_equal(got, customs_year(path, 2012, "auto", tmp_path))
    # a second file staged in the same directory would be read with the first one's parts
    # (aggregate_customs gives each year of its batch a directory of its own)
    with pytest.raises(ValueError, match="already holds staged parts"):
        customs_year(text, 2012, "auto", work, rows=500)


def test_a_batch_of_years_is_each_year_staged_apart_and_flagged(raw, tmp_path, monkeypatch):
    """customs_years (rule aggregate_customs): each year's aggregate, stacked, with the
    intermediary flag of its party name; a chunked year is staged in a directory of its own
    next to the output, removed when the year is done."""
    csv = tmp_path / "in" / "customs_2004.csv"
    csv.parent.mkdir()
    write_chunks(pl.read_parquet(raw / "customs_2004.parquet").iter_slices(997), csv, "gbk")
    paths, years = [csv, raw / "customs_2012.parquet"], [2004, 2012]
    staged = []

    def spy(path, year, encoding, work, rows=customs.CHUNK_ROWS):
        staged.append(Path(work))
        return customs_year(path, year, encoding, work, rows=300)

    monkeypatch.setattr(customs, "customs_year", spy)
    out = tmp_path / "out" / "customs_2004-2012.parquet"
    out.parent.mkdir()
    got = customs_years(paths, years, "auto", out, lambda s: s.str.contains("贸易"))
    assert [p.parent for p in staged] == [out.parent] * 2
    assert len(set(staged)) == 2 and not any(p.exists() for p in staged)
    assert list(out.parent.iterdir()) == []  # nothing staged is left behind
    monkeypatch.undo()
    want = []
    for p, y in zip(paths, years, strict=True):
        (tmp_path / f"w{y}").mkdir()
        want.append(customs_year(p, y, "auto", tmp_path / f"w{y}"))
    want = pl.concat(want).with_columns(intermediary=pl.col("party_name").str.contains("贸易"))
    assert 0 < got["intermediary"].sum() < got.height
    assert_frame_equal(got, want)
    with pytest.raises(ValueError, match="zip"):  # a year without its file
        customs_years(paths, [2004], "auto", out, lambda s: s.is_null())


def test_a_bad_chunk_names_the_file_and_column(raw, tmp_path):
    df = pl.read_parquet(raw / "customs_2004.parquet")
    col = HEADERS_A["value_usd"]
    df = df.with_columns(pl.col(col).cast(pl.String))
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == df.height - 5)
        .then(pl.lit("n/a"))
        .otherwise(pl.col(col))
        .alias(col)
    )
    path = tmp_path / "bad.csv"
    write_chunks(df.iter_slices(1000), path, encoding="gbk")
    with pytest.raises(
        InputError, match=r"bad\.csv.*value_usd.*non-numeric.*'n/a'.*from data row 1001"
    ):
        customs_year(path, 2004, "auto", tmp_path, rows=1000)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(",".join(HEADERS_A.values()).encode("gbk") + b"\n")
    (tmp_path / "w").mkdir()  # a directory of its own: tmp_path holds the failed file's parts
    with pytest.raises(InputError, match="header but no rows"):
        customs_year(empty, 2004, "auto", tmp_path / "w")


def test_dta_with_a_missing_required_column_stops(tmp_path):
    path = tmp_path / "c.dta"
    pdf = pd.DataFrame({"party_id": ["1"], "company": ["甲公司"], "country": ["美国"]})
    pyreadstat.write_dta(pdf, str(path), version=15)
    with pytest.raises(InputError, match=r"c\.dta.*hs8.*required column is missing"):
        customs_year(path, 2004, "auto", tmp_path)


def test_codes_stored_as_numbers_read_as_read_raw_reads_them(tmp_path):
    """A .dta whose party codes are floats (3101403862.0) and zips lost their leading zero:
    the chunked reader gives read_raw's codes ("3101403862", "010020")."""
    pdf = pd.DataFrame(
        {
            "party_id": [3101403862.0, 3101403862.0, 4418430639.0, float("nan")],
            "company": ["甲公司", "甲公司", "乙公司", "丙公司"],
            "zip": [10020.0, 10020.0, 315000.0, 0.0],
            "hs_code": ["84713000", "84713000", "61091000", "61091000"],
            "country": ["美国", "日本", "美国", "美国"],
            "value": [1.0, 2.0, 3.0, 4.0],
        }
    )
    path = tmp_path / "c.dta"
    pyreadstat.write_dta(pdf, str(path), version=15)
    got = customs_year(path, 2004, "auto", tmp_path, rows=2)
    assert got["party_key"].to_list() == ["3101403862", "4418430639", "name:丙公司"]
    assert got["zip"].to_list() == ["010020", "315000", None]
    assert_frame_equal(got, _in_memory(path, 2004))

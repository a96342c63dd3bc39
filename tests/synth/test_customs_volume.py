"""Customs volume: ``customs.rows_per_party_mean`` sets the export rows per party-year, and a
year is written in chunks (bounded memory at real volume) with the same content."""

from __future__ import annotations

import polars as pl
import pyarrow.parquet as papq
import pytest
from polars.testing import assert_frame_equal

from cbec.synth import generate
from cbec.synth.customs import (
    build_parties,
    customs_names,
    headers,
    party_markets,
    plan_customs_year,
    year_parties,
)
from cbec.synth.generator import _traditional_map, customs_year_rng, simulate, streams
from cbec.synth.params import planned_customs_rows, resolve_params
from cbec.synth.stream import write_customs_year

SEED = 20250401


@pytest.mark.parametrize("target", [12.0, 60.0])
def test_rows_per_party_follow_the_parameter(tmp_path, target):
    params = {
        "presets": {"tiny": {"n_firms_2001": 300}},
        "customs": {"rows_per_party_mean": target, "max_rows_per_party": 5000},
    }
    generate(params, "tiny", SEED, tmp_path / "raw", tmp_path / "truth")
    per_year = []
    for year in (2001, 2007, 2015):
        h = headers(year)
        df = pl.read_parquet(tmp_path / "raw" / "customs" / f"customs_{year}.parquet")
        exports = df.filter(pl.col(h["flow"]) == "出口")
        per_year.append(exports.height / exports[h["party_code"]].n_unique())
    mean = sum(per_year) / len(per_year)
    assert abs(mean - target) / target < 0.1, (target, per_year)
    # the rows the world plans before simulating (which years share a job) follow them
    planned = planned_customs_rows(resolve_params(params, "tiny"))
    written = sum(
        pl.scan_parquet(tmp_path / "raw" / "customs" / f"customs_{y}.parquet")
        .select(pl.len())
        .collect()
        .item()
        for y in range(2001, 2016)
    )
    assert 0.75 < sum(planned.values()) / written < 1.33, (target, planned, written)


@pytest.fixture(scope="module")
def year_2007():
    """The customs plan of 2007 in a small world (text materialized on demand)."""
    p = resolve_params({"presets": {"tiny": {"n_firms_2001": 300}}}, "tiny")
    rngs = streams(SEED)
    sim = simulate(p, SEED, rngs)
    w = sim.world
    parties = build_parties(w, p, rngs["customs"])
    cnames = customs_names(w, p, rngs["names"], _traditional_map(sim.cities, sim.counties))
    plan = year_parties(w, parties, 2007, cnames)
    markets = party_markets(SEED, parties.height)
    return plan_customs_year(p, customs_year_rng(SEED, 2007), 2007, plan, markets)


def test_a_year_written_in_chunks_equals_the_year_in_memory(tmp_path, year_2007):
    whole = year_2007.rows()
    assert whole.height == year_2007.height > 2000
    pq = tmp_path / "c.parquet"
    assert write_customs_year(year_2007, pq, chunk_rows=700) == whole.height
    assert papq.ParquetFile(pq).num_row_groups == -(-whole.height // 700)
    assert_frame_equal(pl.read_parquet(pq), whole)
    csv = tmp_path / "c.csv"
    assert write_customs_year(year_2007, csv, chunk_rows=700) == whole.height
    text = csv.read_bytes().decode("gbk")
    assert text.count(headers(2007)["party_code"]) == 1  # one header
    back = pl.read_csv(text.encode(), infer_schema=False)
    assert_frame_equal(back, whole.cast(pl.String))

"""Customs volume: ``customs.rows_per_party_mean`` sets the export rows per party-year."""

from __future__ import annotations

import polars as pl
import pytest

from cbec.synth import generate
from cbec.synth.customs import headers

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

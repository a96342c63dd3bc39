"""Panel construction: perpetual inventory and the paper's controls."""

from __future__ import annotations

import math

import polars as pl
import pytest

from cbec.data.panel import perpetual_inventory


def test_perpetual_inventory_with_gap_and_deflator():
    df = pl.DataFrame(
        {
            "firm_id": [1, 1, 1, 2, 2],
            "year": [2001, 2002, 2003, 2001, 2003],
            "fixed_assets_orig": [100.0, 150.0, 150.0, 200.0, 260.0],
            "capital_deflator": [1.0, 1.0, 1.0, 1.0, 2.0],
        }
    )
    out = perpetual_inventory(df, delta=0.09).sort(["firm_id", "year"])
    k = out["real_capital"].to_list()
    assert k[0] == pytest.approx(100)
    assert k[1] == pytest.approx(0.91 * 100 + 50)
    assert k[2] == pytest.approx(0.91 * (0.91 * 100 + 50))
    assert k[3] == pytest.approx(200)
    assert k[4] == pytest.approx(0.91**2 * 200 + 60 / 2)
    inv = out["real_investment"].to_list()
    assert inv[0] is None and inv[1] == pytest.approx(50) and inv[2] is None
    assert not any(math.isnan(x) for x in k)

"""Panel construction: perpetual inventory dated for production."""

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
            "fixed_assets_orig": [120.0, 170.0, 170.0, 220.0, 280.0],
            "fixed_assets_net": [100.0, 140.0, 130.0, 200.0, 230.0],
            "capital_deflator": [1.0, 1.0, 1.0, 1.0, 2.0],
        }
    )
    out = perpetual_inventory(df, delta=0.09).sort(["firm_id", "year"])
    k_end = out["real_capital_end"].to_list()
    k = out["real_capital"].to_list()
    # firm 1: starts from net assets; invests 50 in 2002, nothing in 2003
    assert k_end[0] == pytest.approx(100)
    assert k_end[1] == pytest.approx(0.91 * 100 + 50)
    assert k_end[2] == pytest.approx(0.91 * (0.91 * 100 + 50))
    # production uses the stock at the start of the year (last year's end stock)
    assert k[0] == pytest.approx(100)
    assert k[1] == pytest.approx(100)
    assert k[2] == pytest.approx(0.91 * 100 + 50)
    # firm 2: a missing year depreciates the stock once more; deflated investment
    assert k_end[4] == pytest.approx(0.91**2 * 200 + 60 / 2)
    assert k[4] == pytest.approx(0.91 * 200)
    inv = out["real_investment"].to_list()
    assert inv[0] is None and inv[1] == pytest.approx(50) and inv[2] is None
    assert not any(math.isnan(x) for x in k)

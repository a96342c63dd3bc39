"""Table 1 statistics and small-cell suppression."""

from __future__ import annotations

import polars as pl
import pytest

from cbec.tables.descriptive import describe


def test_moments_and_suppression():
    df = pl.DataFrame(
        {
            "firm_id": [1, 1, 2, 3, 4, 5],
            "cu": [0.5, 0.7, 0.6, 0.8, 0.9, 0.4],
            "rare": [1.0, None, None, None, None, 3.0],  # observed on two firms only
        }
    )
    est = describe(df, ["cu", "rare"], min_units=3)
    cu, rare = est["rows"]
    assert cu["n"] == 6 and cu["mean"] == pytest.approx(0.65) and cu["max"] == 0.9
    assert cu["sd"] == pytest.approx(df["cu"].std())
    assert rare["n"] == 2 and rare["mean"] is None and rare["max"] is None
    assert est["suppressed"] == [{"var": "rare", "reason": "fewer than 3 firms"}]


def test_unknown_variable():
    with pytest.raises(KeyError, match="nope"):
        describe(pl.DataFrame({"firm_id": [1], "cu": [0.5]}), ["nope"])

"""Persistent and transient inefficiency (``production.s_persistent_share``).

The inefficiency s of the written truth (``firm_year.inefficiency_s``) is a firm-level
half-normal part plus an i.i.d. half-normal part, their variances in the ratio share :
1 − share of ``sd_s``². The covariance of s between two different years of the same firm
is the variance of the persistent part, so its ratio to the variance of s estimates the
share; the total variance stays (1 − 2/π) ``sd_s``² whatever the share.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cbec.synth import generate

SEED = 20250401
SHARES = (0.0, 0.6, 1.0)


def persistent_share(fy: pl.DataFrame) -> float:
    """Within-firm covariance of s across distinct years over its variance (firm-years)."""
    d = fy.with_columns((pl.col("inefficiency_s") - pl.col("inefficiency_s").mean()).alias("d"))
    g = d.group_by("true_firm").agg(
        pl.col("d").sum().alias("sum"), (pl.col("d") ** 2).sum().alias("ss"), pl.len().alias("n")
    )
    pairs = (g["n"] * (g["n"] - 1)).sum()
    cross = (g["sum"] ** 2 - g["ss"]).sum()
    return float(cross / pairs / d["d"].var())


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[float, pl.DataFrame]:
    out = {}
    for share in SHARES:
        base = tmp_path_factory.mktemp(f"ineff{share:g}")
        params = {
            "presets": {"tiny": {"n_firms_2001": 600}},
            "production": {"s_persistent_share": share},
        }
        generate(params, "tiny", SEED, base / "raw", base / "truth", customs=False)
        out[share] = pl.read_parquet(
            base / "truth" / "firm_year.parquet",
            columns=["true_firm", "year", "inefficiency_s", "omega", "ln_k_real"],
        )
    return out


@pytest.mark.parametrize("share", SHARES)
def test_persistent_share_of_the_inefficiency_variance(worlds, share):
    fy = worlds[share]
    assert fy.height > 8000
    assert fy["inefficiency_s"].min() >= 0
    assert abs(persistent_share(fy) - share) < 0.06, persistent_share(fy)
    # the total variance of s stays that of one half-normal with sd_s 0.15
    assert fy["inefficiency_s"].var() == pytest.approx((1 - 2 / np.pi) * 0.15**2, rel=0.1)


def test_the_split_changes_nothing_but_s(worlds):
    a, b = worlds[0.0], worlds[0.6]
    assert a.select("true_firm", "year", "omega", "ln_k_real").equals(
        b.select("true_firm", "year", "omega", "ln_k_real")
    )
    assert not a["inefficiency_s"].equals(b["inefficiency_s"])

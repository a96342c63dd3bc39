"""Within-firm churn of the customs outcomes: sporadic shipments
(``production.market_ship_prob``, ``production.product_ship_prob``) and intermediated
years (``customs.intermediary_year_rate``, ``customs.intermediary_routed_share``).

Worlds from the same seed that differ only in these parameters: they draw their random
numbers after everything else of the production stream, so only the customs truth
(export_usd, n_markets, n_products) may differ, and it must become noisier within firm.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest

from cbec.synth import generate
from cbec.synth.params import DEFAULTS, resolve_params
from cbec.synth.production import MAIN_MARKET_VALUE_SHARE, _shipped

SEED = 20250401
OFF = {
    "production": {"market_ship_prob": 1.0, "product_ship_prob": 1.0},
    "customs": {"intermediary_year_rate": 0.0},
}
WORLDS = {
    "off": OFF,
    "sporadic": {**OFF, "production": {"market_ship_prob": 0.5, "product_ship_prob": 0.5}},
    "routed": {**OFF, "customs": {"intermediary_year_rate": 0.5}},
}
CUSTOMS = ["export_usd", "n_markets", "n_products"]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[str, tuple[pl.DataFrame, str]]:
    """Per world its firm-year truth and the hash of its ASIF files."""
    out = {}
    for name, params in WORLDS.items():
        base = tmp_path_factory.mktemp(name)
        params = {**params, "presets": {"tiny": {"n_firms_2001": 400}}}
        generate(params, "tiny", SEED, base / "raw", base / "truth", customs=False)
        fy = pl.read_parquet(base / "truth" / "firm_year.parquet").sort("true_firm", "year")
        files = sorted((base / "raw" / "asif").glob("*.parquet"))
        out[name] = (fy, hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest())
    return out


def _within_share(fy: pl.DataFrame, col: str) -> float:
    """Share of the variance of ln `col` (positive values) that is within firm."""
    d = fy.filter(pl.col(col) > 0).with_columns(y=pl.col(col).cast(pl.Float64).log())
    d = d.with_columns(yd=pl.col("y") - pl.col("y").mean().over("true_firm"))
    return float(d["yd"].var() / d["y"].var())


def test_sporadic_shipments_raise_within_firm_variance_of_counts(worlds):
    off, on = worlds["off"][0], worlds["sporadic"][0]
    for col in ("n_markets", "n_products"):
        assert _within_share(on, col) > _within_share(off, col) + 0.05, col
    # export value is not thinned, only the counts
    assert off["export_usd"].equals(on["export_usd"])


def test_intermediated_years_lower_direct_exports_and_add_noise(worlds):
    off, on = worlds["off"][0], worlds["routed"][0]
    exp = pl.col("export_usd") > 0
    a, b = off.filter(exp), on.filter(exp)
    ratio = (b["export_usd"] / a["export_usd"]).to_numpy()
    assert np.all(ratio <= 1 + 1e-12) and np.all(ratio >= MAIN_MARKET_VALUE_SHARE - 1e-12)
    assert 0.2 < np.mean(ratio < 1) < 0.5  # routed years with secondary markets
    assert np.all(b["n_markets"].to_numpy() <= a["n_markets"].to_numpy())
    for col in CUSTOMS:
        assert _within_share(on, col) > _within_share(off, col), col


def test_only_the_customs_truth_changes(worlds):
    off, off_asif = worlds["off"]
    for name in ("sporadic", "routed"):
        other, other_asif = worlds[name]
        assert off.drop(CUSTOMS).equals(other.drop(CUSTOMS)), name
        # ASIF's export delivery is total exports, intermediated ones included
        assert other_asif == off_asif, name


def test_shipped_corners():
    p = resolve_params(OFF, "tiny")
    rng = np.random.default_rng(0)
    X = np.full((50, 3), 1000.0)
    n_m = rng.integers(1, 20, (50, 3))
    n_p = rng.integers(1, 20, (50, 3))
    Xd, m, pr = _shipped(p, rng, X, n_m, n_p)
    assert np.array_equal(m, n_m) and np.array_equal(pr, n_p) and np.array_equal(Xd, X)
    p["customs"].update(intermediary_year_rate=1.0, intermediary_routed_share=1.0)
    Xd, m, pr = _shipped(p, rng, X, n_m, n_p)
    assert np.all(m == 1) and np.all(pr == 1)
    assert np.allclose(Xd, np.where(n_m > 1, 1000.0 * MAIN_MARKET_VALUE_SHARE, 1000.0))


def test_defaults_are_realistic_interior_values():
    pr, c = DEFAULTS["production"], DEFAULTS["customs"]
    assert 0 < pr["product_ship_prob"] <= pr["market_ship_prob"] < 1
    assert 0 < c["intermediary_year_rate"] < 0.5 and 0 < c["intermediary_routed_share"] < 1

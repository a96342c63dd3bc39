"""Materials respond to utilization (``production.materials_util_elasticity``).

Two worlds from the same seed that differ only in the elasticity: the parameter draws no
random numbers, so every other variable is identical and the difference of the written
materials (工业中间投入合计, integer thousand yuan) is exactly the elasticity times the
deviation of ln u from its mean, up to rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from cbec.synth import generate

SEED = 20250401
SPEC = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "src/cbec/data/dictionary.yaml").read_text(
        encoding="utf-8"
    )
)["asif"]["intermediate"]["raw"]


def _materials(raw: Path, truth: Path) -> pl.DataFrame:
    """year, asif_row, true_firm, u and ln M (materials as written) of every ASIF row."""
    parts = []
    for year in range(2001, 2016):
        path = raw / "asif" / f"asif_{year}.parquet"
        col = next(h for h in SPEC if h in pl.read_parquet_schema(path))
        parts.append(
            pl.read_parquet(path, columns=[col])
            .with_row_index("asif_row")
            .select(
                pl.col("asif_row").cast(pl.Int64),
                pl.lit(year, pl.Int64).alias("year"),
                pl.col(col).cast(pl.Float64).log().alias("ln_m"),
            )
        )
    fy = pl.read_parquet(truth / "firm_year.parquet", columns=["year", "asif_row", "u"])
    fy = fy.drop_nulls("asif_row").with_columns(pl.col("year", "asif_row").cast(pl.Int64))
    return fy.join(pl.concat(parts), on=["year", "asif_row"])


@pytest.fixture(scope="module")
def two_worlds(tmp_path_factory) -> dict[float, pl.DataFrame]:
    out = {}
    for eta in (0.0, 0.6):
        base = tmp_path_factory.mktemp(f"mat{eta:g}")
        params = {
            "presets": {"tiny": {"n_firms_2001": 300}},
            "production": {"materials_util_elasticity": eta},
        }
        generate(params, "tiny", SEED, base / "raw", base / "truth")
        out[eta] = _materials(base / "raw", base / "truth")
    return out


def test_materials_rise_with_utilization_by_the_elasticity(two_worlds):
    a, b = two_worlds[0.0], two_worlds[0.6]
    d = a.join(b.select("year", "asif_row", pl.col("ln_m").alias("ln_m1")), on=["year", "asif_row"])
    d = d.filter(pl.col("ln_m").is_finite() & pl.col("ln_m1").is_finite() & (pl.col("ln_m") > 5))
    assert d.height > 3000
    x = np.log(d["u"].to_numpy())
    dm = (d["ln_m1"] - d["ln_m"]).to_numpy()
    slope = np.polyfit(x, dm, 1)[0]
    assert abs(slope - 0.6) < 0.01, slope
    # without the elasticity materials carry no utilization beyond omega and capital
    assert np.corrcoef(x, dm)[0, 1] > 0.99


def test_default_elasticity_is_positive():
    from cbec.synth.params import DEFAULTS

    assert DEFAULTS["production"]["materials_util_elasticity"] > 0

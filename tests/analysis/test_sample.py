"""The leave-one-out Bartik instrument of the analysis sample (cbec.analysis.sample.iv_bartik)."""

from __future__ import annotations

import logging
import math

import numpy as np
import polars as pl
import pytest

from cbec.analysis.sample import ict_infrastructure, iv_bartik, winsorize


def _panel(platform_2001: list[int]) -> pl.DataFrame:
    # firms 1-3 in county A, firm 4 in county B; 2001 and 2002
    return pl.DataFrame(
        {
            "firm_id": [1, 2, 3, 4] * 2,
            "year": [2001] * 4 + [2002] * 4,
            "region_code": ["A", "A", "A", "B"] * 2,
            "platform": [*platform_2001, 1, 1, 0, 1],
        }
    )


def test_leave_one_out_bartik_by_hand():
    p = _panel([1, 0, 0, 0])
    out = iv_bartik(p, p, 2001).sort("year", "firm_id")
    got = out.filter(pl.col("year") == 2002)["iv_bartik"].to_list()
    # firm 1: its own base-year membership is left out -> share 0
    # firm 2: n_A,2002(-2) = 1, n_A,2001(-2) = 1 -> growth 0
    # firm 3: n_A,2002(-3) = 2, n_A,2001(-3) = 1, share 1 -> ln(3) - ln(2)
    # firm 4: county B has no base-year member -> share 0
    assert got == pytest.approx([0.0, 0.0, math.log(1.5), 0.0])
    assert out.filter(pl.col("year") == 2001)["iv_bartik"].null_count() == 4  # no t-1


def test_no_member_in_the_base_year_gives_a_missing_instrument(caplog):
    p = _panel([0, 0, 0, 0])
    with caplog.at_level(logging.WARNING):
        out = iv_bartik(p, p, 2001)
    assert out["iv_bartik"].null_count() == out.height
    assert "no platform firm in the Bartik base year 2001" in caplog.text


def test_ict_infrastructure_does_not_depend_on_row_order():
    """Sums in a fixed order: the same bytes for any order of the input rows (polars' parallel
    group sums gave 3 distinct results in 40 calls on the paper preset's inputs)."""
    rng = np.random.default_rng(0)
    n_city, n_ind = 60, 30
    cities = pl.DataFrame(
        {
            "city_code": [f"{3301 + i}" for i in range(n_city)],
            "province_code": [f"{33 + i % 4}" for i in range(n_city)],
        }
    )
    weights = pl.DataFrame(
        {
            "city_code": np.repeat(cities["city_code"].to_numpy(), n_ind),
            "ind2": np.tile(np.arange(13, 13 + n_ind).astype(str), n_city),
            "weight": rng.lognormal(0, 2, n_city * n_ind) * 1e3,
        }
    )
    ports = pl.DataFrame(
        {
            "province_code": np.repeat([f"{33 + i}" for i in range(4)], 15),
            "year": np.tile(np.arange(2001, 2016), 4),
            "ports": rng.lognormal(10, 1, 60),
        }
    )
    ref = ict_infrastructure(ports, weights, cities)
    assert ref.height == n_city * 15
    for seed in range(20):
        shuffled = weights.sample(fraction=1.0, shuffle=True, seed=seed)
        out = ict_infrastructure(ports, shuffled, cities)
        assert out.write_csv() == ref.write_csv()


def test_winsorize_treats_nan_and_inf_as_missing_not_as_extremes():
    vals = [float(i) for i in range(100)] + [float("inf"), float("nan"), -float("inf")]
    out = winsorize(pl.DataFrame({"x": vals}), ["x"], 0.01, 0.99)["x"]
    assert out[-3:].to_list() == [None, None, None]
    # quantiles of the 100 finite values only
    assert out.max() == pytest.approx(np.quantile(np.arange(100.0), 0.99))

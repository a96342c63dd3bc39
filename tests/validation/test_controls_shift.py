"""The controls' shift of a treatment coefficient splits exactly over the controls."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cbec.validation.controls_shift import controls_shift, shift_sample


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    """Firms x years with a staggered treatment d; x1 responds to d (a bad control with a
    planted gamma 0.5 and pi 0.4), x2 does not respond to d, x3 is time-invariant."""
    rng = np.random.default_rng(3)
    n, T = 1500, 8
    firm = np.repeat(np.arange(n), T)
    year = np.tile(np.arange(T), n)
    join = rng.integers(2, 12, n)
    d = (year >= join[firm]).astype(float)
    a = rng.normal(0, 1, n)[firm]
    x1 = 0.4 * d + rng.normal(0, 1, n * T)
    x2 = rng.normal(0, 1, n * T)
    y = a + 0.1 * year + 0.2 * d + 0.5 * x1 - 0.3 * x2 + rng.normal(0, 0.5, n * T)
    return pl.DataFrame(
        {
            "firm_id": firm,
            "year": year,
            "y": y,
            "d": d,
            "x1": x1,
            "x2": x2,
            "x3": rng.normal(0, 1, n)[firm],
        }
    )


def test_contributions_add_up_and_find_the_bad_control(panel):
    ctrl = ["x1", "x2", "x3"]
    s = shift_sample(panel, "y", "d", ctrl, ["firm_id", "year"], "firm_id")
    with pytest.warns(UserWarning, match="collinear"):
        out = controls_shift(s, "y", "d", ctrl, "firm_id")
    by = {r["control"]: r for r in out["controls"]}
    assert out["shift"] == pytest.approx(out["with"]["b"] - out["without"]["b"])
    assert out["sum_of_contributions"] == pytest.approx(out["shift"], abs=1e-10)
    # x1 carries the shift: about -gamma * pi = -0.5 * 0.4
    assert by["x1"]["contribution"] == pytest.approx(-0.2, abs=0.05)
    assert by["x1"]["gamma"] == pytest.approx(0.5, abs=0.05)
    assert by["x1"]["pi"] == pytest.approx(0.4, abs=0.08)
    assert abs(by["x2"]["contribution"]) < 0.03
    # absorbed by the firm effects: no coefficient, no contribution
    assert by["x3"]["gamma"] is None and by["x3"]["contribution"] == 0.0
    assert out["with"]["b"] == pytest.approx(0.2, abs=0.05)
    # with one bad control, dropping it alone undoes (almost) the whole shift
    assert by["x1"]["drop_one"] == pytest.approx(out["shift"], abs=0.03)
    assert by["x1"]["add_one"] == pytest.approx(out["shift"], abs=0.03)


def test_one_sample_for_all_regressions(panel):
    """Rows missing one control leave every regression, the short one included."""
    df = panel.with_columns(
        pl.when(pl.col("year") == 0).then(None).otherwise(pl.col("x2")).alias("x2")
    )
    s = shift_sample(df, "y", "d", ["x1", "x2"], ["firm_id", "year"], "firm_id")
    out = controls_shift(s, "y", "d", ["x1", "x2"], "firm_id")
    assert out["nobs"] == panel.filter(pl.col("year") > 0).height
    assert out["sum_of_contributions"] == pytest.approx(out["shift"], abs=1e-10)

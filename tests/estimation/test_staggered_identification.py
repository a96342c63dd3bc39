"""Sun-Abraham with a cohort x event-time cell that the fixed effects leave unidentified.

Hand-built panel (2000-2006, firm + ind2^year + city^year effects): the two firms of the 2004
cohort are in city B with one never-treated firm that leaves the panel after 2005, so in 2006
city B holds only them and their cell (2004, +2) is the city-B-2006 dummy: collinear with the
fixed effects. The cell must be dropped, the rest of bin +2 reweighted and the ATT's variance
must not depend on how far the iterative demeaning converged.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import cbec.estimation.fe as fe_mod
from cbec.estimation import staggered as st

DESIGN = st.EventDesign(
    y="y", unit="firm_id", time="year", cohort="cohort", fe=("firm_id", "ind2^year", "city^year")
)


def _panel(a_gap: int | None = None) -> pl.DataFrame:
    """12 firms: 6 never treated and 3 joining 2003 in city A, 2 joining 2004 and a never-treated
    firm observed 2000-2005 only in city B; y = firm + year effects + 0.1 after joining + noise.
    ``a_gap``: a year the 2003 joiners are not observed."""
    firms = (
        [(f"n{i}", "A", None, 2006) for i in range(6)]
        + [(f"a{i}", "A", 2003, 2006) for i in range(3)]
        + [(f"b{i}", "B", 2004, 2006) for i in range(2)]
        + [("c0", "B", None, 2005)]
    )
    rng = np.random.default_rng(7)
    rows = []
    for k, (firm, city, cohort, last) in enumerate(firms):
        alpha = rng.normal()
        for year in range(2000, last + 1):
            treated = cohort is not None and year >= cohort
            y = alpha + 0.05 * (year - 2000) + 0.1 * treated + rng.normal(scale=0.05)
            if not (cohort == 2003 and year == a_gap):
                rows.append((k, firm, city, "13", cohort, year, y))
    return pl.DataFrame(
        rows,
        schema=["firm_id", "name", "city", "ind2", "cohort", "year", "y"],
        orient="row",
    ).drop("name")


def _noisy_demean(eps: float):
    """``demean`` plus an error of relative size ``eps`` per column: what an iterative solver
    stopped at a tolerance leaves (an exactly absorbed column keeps a residual of that size)."""
    exact = fe_mod.demean

    def demean(x, *args, **kwargs):
        out = exact(x, *args, **kwargs)
        rng = np.random.default_rng(0)
        scale = np.sqrt((np.asarray(x, float) ** 2).mean(axis=0))
        return out + eps * scale * rng.standard_normal(out.shape)

    return demean


def test_cell_collinear_with_fixed_effects_is_dropped_and_noted():
    res = st.sun_abraham(_panel(), DESIGN)
    note = [n for n in res.notes if "not identified" in n]
    assert note and "sa_g2004_p2" in note[0] and "(2 treated firm-years)" in note[0]
    # bin +2 is now the 2003 cohort alone; the ATT stays a proper estimate
    assert res.path.filter(pl.col("rel_time") == 2)["estimate"].item() is not None
    assert 0 < res.att["se"] < 0.2
    assert abs(res.att["estimate"] - 0.1) < 0.1


@pytest.mark.parametrize("eps", [1e-6, 1e-5, 1e-4])
def test_att_variance_does_not_depend_on_demeaning_error(monkeypatch, eps):
    exact = st.sun_abraham(_panel(), DESIGN)
    monkeypatch.setattr(fe_mod, "demean", _noisy_demean(eps))
    noisy = st.sun_abraham(_panel(), DESIGN)
    assert noisy.att["se"] == pytest.approx(exact.att["se"], rel=1e-2)
    assert any("sa_g2004_p2" in n for n in noisy.notes)
    assert noisy.att["estimate"] == pytest.approx(exact.att["estimate"], abs=1e-3)


def test_unidentified_check_is_scale_free():
    """Rescaling a regressor changes nothing: the pivots are compared with its own norm."""
    d = _panel().with_columns(
        (pl.col("cohort").is_not_null() & (pl.col("year") >= pl.col("cohort")))
        .cast(pl.Float64)
        .alias("post"),
        ((pl.col("city") == "B") & (pl.col("year") == 2006)).cast(pl.Float64).alias("b06"),
    )
    for scale in (1e-6, 1.0, 1e6):
        ds = d.with_columns(pl.col("post", "b06") * scale)
        s = fe_mod.FESample.from_frame(ds, list(DESIGN.fe), ["y", "post", "b06"], "firm_id")
        assert st._unidentified(s, ["post", "b06"], ["post", "b06"]) == ["b06"]


def test_table_note_states_the_dropped_cells():
    """The estimator's note becomes a sentence of Table 8's notes (English and Chinese)."""
    from cbec.tables.event_notes import event_study_notes

    res = st.sun_abraham(_panel(), DESIGN)
    notes = event_study_notes({"notes": [f"sun_abraham: {n}" for n in res.notes]})
    assert "leave unidentified (2 treated firm-years) are not estimated" in notes["en"]
    assert "weights are renormalised" in notes["en"]
    assert "无法识别的队列×事件时间单元(2个处理组企业—年份)" in notes["zh"]


@pytest.mark.parametrize("eps", [0.0, 1e-4])
def test_dynamic_twfe_drops_a_bin_collinear_with_fixed_effects(monkeypatch, eps):
    """Without the 2003 joiners in 2005, bin +2 is the 2004 joiners in city B in 2006 alone."""
    exact = st.dynamic_twfe(_panel(a_gap=2005), DESIGN)
    monkeypatch.setattr(fe_mod, "demean", _noisy_demean(eps))
    res = st.dynamic_twfe(_panel(a_gap=2005), DESIGN)
    assert res.path.filter(pl.col("rel_time") == 2)["estimate"].item() is None
    assert any("dropped: [2]" in n for n in res.notes)
    assert res.att["se"] == pytest.approx(exact.att["se"], rel=1e-2)
    assert 0 < res.att["se"] < 0.2

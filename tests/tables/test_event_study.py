"""Table 8 (kind event_study): estimates on a simulated staggered panel with a planted effect."""

from __future__ import annotations

import json

import polars as pl
import pytest
from estimation._estimation_sim import simulate_staggered

from cbec.report.figures import run_event_study_figure
from cbec.tables import event_study as ES
from cbec.tables.render import render_table
from cbec.tables.run import run_table

SPEC = {"fixed_effects": ["firm_id", "ind2^year", "city^year"], "window": [-3, 3]}
TAU = 0.06  # planted constant effect


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    d = simulate_staggered(
        n_firms=400,
        effect_intercept=TAU,
        effect_slope=0.0,
        early_bonus=0.0,
        adoption_years=range(2003, 2015),
        seed=7,
    )
    # cohort 0 = never; one late cohort joining after the panel ends
    late = (pl.col("firm_id") % 20 == 0) & (pl.col("cohort") == 0)
    return d.with_columns(
        pl.when(late)
        .then(2019)
        .when(pl.col("cohort") == 0)
        .then(None)
        .otherwise(pl.col("cohort"))
        .alias("join_year")
    )


@pytest.fixture(scope="module")
def est(panel) -> dict:
    return ES.event_study_estimates(panel, SPEC)


def test_prepare_cohort_codes_late_joiners_as_never(panel):
    d = ES.prepare_cohort(panel, "join_year", "year", "never")
    assert (
        d.filter(pl.col("join_year") == 2019)["cohort_es"].null_count()
        == d.filter(pl.col("join_year") == 2019).height
        > 0
    )
    kept = ES.prepare_cohort(panel, "join_year", "year", "keep")
    assert (kept.filter(pl.col("join_year") == 2019)["cohort_es"] == 2019).all()
    with pytest.raises(ValueError):
        ES.prepare_cohort(panel, late_cohorts="bad")
    with pytest.raises(KeyError):
        ES.prepare_cohort(panel.drop("join_year"))


def test_columns_follow_the_estimates_contract(est):
    labels = [c["estimator"] for c in est["columns"]]
    assert labels == ["twfe", "sun_abraham", "did2s", "static_twfe"]
    for c in est["columns"][:3]:
        assert set(c["coef"]) == {"rel_-3", "rel_-2", "rel_0", "rel_1", "rel_2", "rel_3", "att"}
        assert set(c["stats"]) >= {"pretrend_f", "pretrend_p"}
        assert c["fixed_effects"] == SPEC["fixed_effects"]  # all accept the paper's FE here
    assert set(est["columns"][3]["coef"]) == {"att"}
    assert {r["estimator"] for r in est["path"]} == {"twfe", "sun_abraham", "did2s"}
    assert any("coded as never treated" in n for n in est["notes"])
    assert any("every estimator used the paper's fixed effects" in n for n in est["notes"])
    json.dumps(est, allow_nan=False)  # strict JSON


def test_planted_effect_inside_confidence_intervals(est):
    # constant effect, parallel trends: every estimator's ATT (static TWFE included) covers
    # TAU with its 99% CI (four checks) and lies within 0.02 of it; leads jointly insignificant
    for c in est["columns"]:
        a = c["coef"]["att"]
        assert abs(a["b"] - TAU) < 2.58 * a["se"], (c["estimator"], a)  # 99%: four checks
        assert abs(a["b"] - TAU) < 0.02, (c["estimator"], a)
    for c in est["columns"][:3]:
        assert c["stats"]["pretrend_p"] > 0.01, c["estimator"]


def test_renders_with_write_table_style(est):
    from cbec.tables.event_notes import event_study_render

    table_est, options = event_study_render(est)
    md = render_table(table_est, "md", **options)
    assert "| −2 " in md and "| Average effect after joining (ATT)" in md
    assert "| Pre-trend p " in md and "Sun-Abraham" in md
    assert "rel_" not in md and "pretrend" not in md


def test_an_estimator_that_fails_is_left_out_with_a_note_never_refit(panel, monkeypatch):
    calls = []

    def picky(df, design):
        calls.append(list(design.fe))
        raise RuntimeError("did2s stage 1: no solution")

    monkeypatch.setitem(ES.ESTIMATORS, "did2s", ("did2s (Gardner)", picky))
    est = ES.event_study_estimates(panel, dict(SPEC, estimators=["twfe", "did2s"]))
    assert calls == [SPEC["fixed_effects"]]  # no second try with other fixed effects
    assert [c["estimator"] for c in est["columns"]] == ["twfe", "static_twfe"]
    assert all(c["fixed_effects"] == SPEC["fixed_effects"] for c in est["columns"])
    assert (
        "did2s: not estimated with the paper's fixed effects: did2s stage 1: no solution"
        in (est["notes"])
    )
    assert not any("every estimator used" in n for n in est["notes"])


def test_every_estimator_uses_the_paper_fe(est):
    assert all(c["fixed_effects"] == SPEC["fixed_effects"] for c in est["columns"])
    assert any("every estimator used the paper's fixed effects" in n for n in est["notes"])


def test_run_table_dispatches_event_study(panel, tmp_path):
    p = tmp_path / "sample.parquet"
    panel.with_columns(pl.lit(1.0).alias("unused")).write_parquet(p)
    out = {k: str(tmp_path / f"t8.{k}") for k in ("tex", "md", "html", "docx")}
    out["estimates"] = str(tmp_path / "t8.json")
    spec = {"kind": "event_study", "window": [-3, 3], "controls": False, "estimators": ["twfe"]}
    common = {"fixed_effects": SPEC["fixed_effects"], "cluster": "firm_id", "controls": ["x"]}
    assert "unused" not in ES.sample_columns(ES.resolve_spec(spec, common))
    run_table(p, out, "table8", spec, common, {"stat": "t", "lang": "en"}, seed=1)
    for k, v in out.items():
        assert (tmp_path / v).stat().st_size > 100, k
    est = json.loads((tmp_path / "t8.json").read_text())
    assert est["table"] == "table8" and len(est["columns"]) == 2
    assert est["columns"][0]["fixed_effects"] == SPEC["fixed_effects"]  # from the common settings
    assert "| Pre-trend p " in (tmp_path / "t8.md").read_text()

    figs = run_event_study_figure(tmp_path / "t8.json", tmp_path / "fig" / "event_study.png")
    assert [f.name for f in figs] == ["event_study.png", "event_study.pdf"]
    assert all(f.stat().st_size > 1000 for f in figs)


def test_resolve_spec_takes_controls_from_the_common_settings():
    common = {"fixed_effects": ["firm_id", "year"], "cluster": "city", "controls": ["a", "b"]}
    with_controls = ES.resolve_spec({"controls": True}, common)
    assert with_controls["controls"] == ["a", "b"] and with_controls["cluster"] == "city"
    assert ES.resolve_spec({"controls": False}, common)["controls"] == []


def test_sun_abraham_column_reports_references_and_the_se_convention(est):
    sa = next(c for c in est["columns"] if c["estimator"] == "sun_abraham")
    assert sa["reference_periods"] and set(sa["reference_periods"].values()) <= {-1, -2, -3, -4}
    assert ES.SA_SE_NOTE in est["notes"]


def test_canonical_note_sorts_mappings():
    n = "reference period other than -1 (not observed): {2010: -3, 2009: -2, 2011: -4}"
    assert ES._canonical_note(n).endswith("{2009: -2, 2010: -3, 2011: -4}")
    assert ES._canonical_note("dropped [2001] {x}") == "dropped [2001] {x}"

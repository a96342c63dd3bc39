"""The paper's published numbers (paper_results.yaml) and the scorecard built on them."""

from __future__ import annotations

import pytest

from cbec.validation.paper import TABLES, load_paper_results, paper_cells
from cbec.validation.render import scorecard_md
from cbec.validation.scorecard import NO_LIKE_FOR_LIKE, ORACLE_KIND, build_scorecard

# an independent spot check of the transcription: (table, paper column, term) -> (b, t),
# read again from the paper's Tables 2-7
SPOT = {
    ("table2", 2, "platform"): (0.090, 5.45),
    ("table2", 2, "sfwzqy"): (0.214, 4.25),
    ("table3", 1, "platform_mic"): (0.045, 2.18),
    ("table4", 3, "platform"): (0.061, 5.95),
    ("table5", 3, "iv_bartik"): (0.246, 4.15),
    ("table5", 4, "platform"): (0.061, 2.75),
    ("table6", 3, "platform"): (0.106, 2.68),
    ("table7", 1, "platform:sfhighict"): (0.328, 4.11),
    ("table7", 3, "platform"): (0.091, 1.80),
}
# coefficient cells printed per table: Table 2 (1 + 7), 3 (3), 4 (3), 5 (2 first stages and
# 2 second stages), 6 (6), 7 (3 main effects and 3 interactions)
CELLS_PER_TABLE = {"table2": 8, "table3": 3, "table4": 3, "table5": 4, "table6": 6, "table7": 6}


def _fake_estimates(paper: dict, shift: float = 0.0) -> dict:
    """Estimates JSON of every table whose cells equal the paper's b (+ shift) and t."""
    out = {}
    for table in TABLES:
        cols = []
        for col in sorted(paper[table]["columns"], key=lambda c: c["ours"]):
            coef = {
                term: {"b": c["b"] + shift, "se": c["b"] / c["t"], "t": c["t"], "p": 0.0}
                for term, c in col["coef"].items()
            }
            cols.append({"coef": coef, "nobs": col["n"], "r2": col.get("r2")})
        out[table] = {"columns": cols}
    return out


def _truth(tau_cu: float = 0.09) -> dict:
    eff = {
        "tau_cu": tau_cu, "tau_mic": 0.045, "tau_tfp": 0.13, "tau_newprod": 0.106,
        "tau_export": 0.257, "tau_markets": 0.218, "tau_products": 0.154,
        "tau_ict": 0.04, "tau_old": 0.03, "tau_score": 0.02,
    }  # fmt: skip
    return {
        "planted_effects": eff,
        "calibration": {
            "utilization": {"oracle_twfe_alibaba": tau_cu, "oracle_twfe_mic": 0.045},
            "heterogeneity": {
                "treated_share_high_ict": 0.5,
                "treated_share_early": 0.5,
                "treated_share_high_score": 0.5,
            },
        },
    }


def test_paper_results_cover_tables_2_to_7():
    paper = load_paper_results()
    cells = paper_cells(paper)
    counts = {t: sum(c["table"] == t for c in cells) for t in TABLES}
    assert counts == CELLS_PER_TABLE
    got = {(c["table"], c["paper_column"], c["term"]): (c["paper_b"], c["paper_t"]) for c in cells}
    for key, val in SPOT.items():
        assert got[key] == pytest.approx(val), key


def test_scorecard_lists_every_cell_with_the_papers_numbers():
    paper = load_paper_results()
    card = build_scorecard(paper, {}, None)  # nothing estimated: every cell still listed
    assert len(card["cells"]) == sum(CELLS_PER_TABLE.values())
    listed = {(c["table"], c["paper_column"], c["term"]): c for c in card["cells"]}
    for (table, col, term), (b, t) in SPOT.items():
        row = listed[(table, col, term)]
        assert (row["paper_b"], row["paper_t"]) == pytest.approx((b, t))
        assert row["ours_b"] is None
    md = scorecard_md(card)
    assert "R² of table3 (1) in the paper: inconsistent with the paper's own Table 2" in md
    assert md.count("\n| table |") == 2 and "| table5 | (3) | iv_bartik | 0.246 | 4.15 |" in md


def test_scorecard_on_a_researchers_data_shows_no_truth_columns():
    # a run on the researcher's own files has no truth: paper against ours only
    paper = load_paper_results()
    real = scorecard_md(build_scorecard(paper, _fake_estimates(paper), None))
    assert "No truth to compare with" in real and "truth is" not in real and "⚑" not in real
    assert "| table2 | (2) | platform | 0.090 | 5.45 | 0.0900 |" in real
    cells = [ln for ln in real.splitlines() if ln.startswith("| table") or ln.startswith("|--")]
    assert {ln.count("|") for ln in real.splitlines() if ln.startswith("| table2 | (2) | p")} == {
        10
    }
    assert cells[0].count("|") == cells[1].count("|") == 10  # nine columns, head and rule
    synth = scorecard_md(build_scorecard(paper, _fake_estimates(paper), _truth()))
    assert "| truth | truth is | flag |" in synth and "No truth" not in synth


def test_a_respecified_column_is_not_compared_with_the_papers():
    # a user's Table 2 whose second column explains another outcome: that column's cells are
    # left empty rather than set against the paper's CU column
    paper = load_paper_results()
    est = _fake_estimates(paper)
    for i, col in enumerate(est["table2"]["columns"]):
        col["depvar"] = "cu" if i == 0 else "ln_export"
    rows = {
        (c["table"], c["paper_column"], c["term"]): c
        for c in build_scorecard(paper, est, None)["cells"]
    }
    assert rows[("table2", 1, "platform")]["ours_b"] == pytest.approx(0.091)
    assert rows[("table2", 2, "platform")]["ours_b"] is None


def test_scorecard_matches_our_columns_and_flags_the_truth():
    paper = load_paper_results()
    est = _fake_estimates(paper)
    card = build_scorecard(paper, est, _truth())
    rows = {(c["table"], c["paper_column"], c["term"]): c for c in card["cells"]}
    # our column (0-based position) is the paper's column: the estimates come back
    assert rows[("table6", 4, "platform")]["ours_b"] == pytest.approx(0.257)
    assert rows[("table5", 3, "iv_bartik")]["ours_b"] == pytest.approx(0.246)
    assert all(c["t_ratio"] == pytest.approx(1.0) for c in card["cells"])
    # Table 2: 0.090 vs oracle 0.09 inside; Table 4 (1): 0.039 (s.e. 0.012) vs 0.09 outside
    assert rows[("table2", 2, "platform")]["truth_outside_ci"] is False
    assert rows[("table4", 1, "platform")]["truth_outside_ci"] is True
    # no planted value for controls and first stages
    assert rows[("table2", 2, "lnqygm")]["truth"] is None
    assert rows[("table5", 1, "iv_dist")]["truth"] is None
    # Table 7: interaction = planted (on the latent effect); main term = average effect - tau x treated share
    assert rows[("table7", 1, "platform:sfhighict")]["truth"] == pytest.approx(0.04)
    assert rows[("table7", 1, "platform")]["truth"] == pytest.approx(0.09 - 0.04 * 0.5)
    assert card["summary"]["r2_within_tol"] == card["summary"]["r2_judged"] == 11
    shifted = build_scorecard(paper, _fake_estimates(paper, shift=0.5), _truth())
    assert shifted["summary"]["truth_outside_ci"] == shifted["summary"]["truth_judged"]


def _oracle_json(
    paper: dict, value: float, names: tuple = ("table2", "table3", "table4", "table6", "table7")
) -> dict:
    """An oracle_tables.json whose every cell of the tables ``names`` equals ``value``."""
    tables = {}
    for t in names:
        cols = sorted(paper[t]["columns"], key=lambda c: c["ours"])
        tables[t] = {
            "columns": [
                None
                if str(c["depvar"]).startswith("cu_sfa")
                else {"coef": {k: {"b": value} for k in c["coef"]}}
                for c in cols
            ]
        }
    realized = {m: {"difference": 0.016} for m in ("sfhighict", "sfold", "sfhighscore")}
    return {"tables": tables, "realized_interactions": realized}


def test_scorecard_judges_against_the_oracle_and_not_the_sfa_cells():
    paper = load_paper_results()
    est = _fake_estimates(paper)
    rows = {
        (c["table"], c["paper_column"], c["term"]): c
        for c in build_scorecard(paper, est, _truth(), _oracle_json(paper, 0.328))["cells"]
    }
    ix = rows[("table7", 1, "platform:sfhighict")]
    assert ix["truth"] == pytest.approx(0.328) and ix["truth_kind"] == ORACLE_KIND
    assert ix["planted"] == pytest.approx(0.04) and ix["truth_outside_ci"] is False
    assert ix["realized"] == pytest.approx(0.016) and "realized 0.0160" in ix["planted_kind"]
    for col in (2, 3):
        sfa = rows[("table3", col, "platform")]
        assert sfa["truth"] is None and sfa["truth_outside_ci"] is None
        assert sfa["truth_kind"] == NO_LIKE_FOR_LIKE
    # controls: the world plants no effect, so no truth even with an oracle table
    assert rows[("table2", 2, "lnqygm")]["truth"] is None
    # Table 4 (matching): judged against the matching run again on the truth; the world's
    # own value (realized ATT or population oracle) stays beside it
    t4 = rows[("table4", 1, "platform")]
    assert t4["truth"] == pytest.approx(0.328) and t4["truth_kind"] == ORACLE_KIND
    assert t4["planted"] == pytest.approx(0.09) and t4["planted_kind"] != ORACLE_KIND
    no_t4 = build_scorecard(paper, est, _truth(), _oracle_json(paper, 0.328, ("table2",)))
    t4 = next(c for c in no_t4["cells"] if c["table"] == "table4" and c["paper_column"] == 1)
    assert t4["truth"] == pytest.approx(0.09) and t4["truth_kind"] != ORACLE_KIND
    # without an oracle the interaction is judged against the planted value (and flagged)
    plain = {
        (c["table"], c["paper_column"], c["term"]): c
        for c in build_scorecard(paper, est, _truth())["cells"]
    }
    assert plain[("table7", 1, "platform:sfhighict")]["truth_outside_ci"] is True


def test_gap_to_the_oracle_splits_into_measured_outcome_and_links():
    paper = load_paper_results()
    est = _fake_estimates(paper)  # Table 7 (1) platform: 0.483
    est["table7"]["columns"][0]["coef"]["platform"]["se"] = 0.01  # flagged against 0.30
    oracle = _oracle_json(paper, 0.30)
    oracle["tables_true_outcome"] = _oracle_json(paper, 0.40, ("table7",))["tables"]
    rows = {
        (c["table"], c["paper_column"], c["term"]): c
        for c in build_scorecard(paper, est, _truth(), oracle)["cells"]
    }
    main = rows[("table7", 1, "platform")]
    assert main["step_outcome"] == pytest.approx(0.483 - 0.40)
    assert main["step_links"] == pytest.approx(0.40 - 0.30)
    assert main["step_outcome"] + main["step_links"] == pytest.approx(
        main["ours_b"] - main["truth"]
    )
    # no outcome-only table (Table 2 here), no oracle (Table 5) or a control: no steps
    for key in [("table2", 1, "platform"), ("table5", 2, "platform"), ("table7", 1, "lnqygm")]:
        if key in rows:
            assert rows[key]["step_outcome"] is None and rows[key]["step_links"] is None
    md = scorecard_md(build_scorecard(paper, est, _truth(), oracle))
    assert "| gap: outcome | gap: links |" in md
    # the flagged main term of Table 7 (1) explained in a note, the larger step named
    assert "⚑ table7 (1) platform: ours − oracle 0.1830 = measured outcome 0.0830 + " in md
    assert "platform links 0.1000; mostly the platform links." in md
    assert "⚑ table7 (1) platform:sfhighict" not in md  # inside our interval: no note

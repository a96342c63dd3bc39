"""The end-of-run summary: headline estimate with its CI, the run's warnings, the report."""

from __future__ import annotations

import json
from pathlib import Path

from scipy import stats

from cbec.report.summary import headline, result_warnings, run_summary


def _est() -> dict:
    coef = {"platform": {"b": 0.0931, "se": 0.0102, "t": 9.1, "p": 0.0}}
    cols = [
        {"label": "(1)", "depvar": "cu", "coef": coef, "stats": {"n_clusters": 682}},
        {"label": "(2)", "depvar": "cu", "coef": {"platform": {"b": 0.2, "se": 0.1}},
         "stats": {"n_clusters": 682, "wild_ci": [0.074, 0.113]}},
    ]  # fmt: skip
    return {"table": "table2", "columns": cols}


def test_headline_ci_uses_cluster_degrees_of_freedom():
    line = headline(_est(), "(1)", "platform")
    q = stats.t.ppf(0.975, 681)
    assert line.startswith("Table 2 (1): effect of cross-border e-commerce platform on capacity")
    assert f"0.093 (95% CI {0.0931 - q * 0.0102:.3f} to {0.0931 + q * 0.0102:.3f})" in line
    assert "wild cluster bootstrap 0.074 to 0.113" in headline(_est(), "(2)", "platform")
    assert headline(_est(), "(3)", "platform") is None


def test_run_summary_lists_warnings_and_report(tmp_path: Path):
    (tmp_path / "results/estimates").mkdir(parents=True)
    (tmp_path / "results/logs").mkdir(parents=True)
    (tmp_path / "results/estimates/table2.json").write_text(json.dumps(_est()))
    (tmp_path / "results/logs/table5.log").write_text(
        "2026-01-01 10:00:00,000 INFO table5: fine\n"
        "2026-01-01 10:00:01,000 WARNING table5: weak instrument: KP Wald F 3.2 below 10\n"
        "2026-01-01 10:00:01,000 WARNING table5: weak instrument: KP Wald F 3.2 below 10\n"
    )
    (tmp_path / "results/logs/clean_asif.log").write_text(
        "2026-01-01 10:00:00,000 WARNING clean_asif: 2001: 2 rows share a code\n"
        "2026-01-01 10:00:00,000 WARNING clean_asif: 2002: 4 rows share a code\n"
    )
    (tmp_path / "results/report.html").write_text("<html></html>")
    text = run_summary(tmp_path, column="(1)")
    assert "Table 2 (1): effect of" in text
    assert "Warnings raised during the run: 2" in text
    assert "  - clean_asif: 2001: 2 rows share a code (and 1 similar)" in text
    assert "  - table5: weak instrument: KP Wald F 3.2 below 10" in text
    assert "Report: results/report.html" in text


def test_run_summary_without_results(tmp_path: Path):
    text = run_summary(tmp_path)
    assert "table2: not built in this run" in text and "Report:" not in text


def test_result_warnings_weak_first_stage_and_fallbacks(tmp_path: Path):
    (tmp_path / "results/estimates").mkdir(parents=True)
    (tmp_path / "results/measures").mkdir(parents=True)
    cols = [
        {"label": "(1)", "estimator": "first_stage", "stats": {"kp_wald_f": 5.729}},
        {"label": "(2)", "estimator": "iv2sls", "stats": {"kp_wald_f": 5.729}},
        {"label": "(3)", "estimator": "first_stage", "stats": {"kp_wald_f": 155.2}},
        {"label": "(4)", "estimator": "first_stage", "stats": {"not_estimated": "collinear"}},
    ]
    (tmp_path / "results/estimates/table5.json").write_text(json.dumps({"columns": cols}))
    (tmp_path / "results/measures/diagnostics.csv").write_text(
        "ind2,measure,fallback\n13,tfp_lp,none\n14,tfp_lp,group\n15,cu,all\n"
    )
    warns = result_warnings(tmp_path)
    assert warns == [
        "table5 (1): weak instrument (Kleibergen-Paap Wald F 5.73 < 10)",
        "table5 (4): not estimated (collinear)",
        "tfp_lp: industries estimated on a fallback pool or failed: 14",
        "cu: industries estimated on a fallback pool or failed: 15",
    ]


def test_oracle_repeats_of_a_tables_warnings_are_shown_once(tmp_path: Path):
    """The oracle tables re-run the tables' specifications on the truth and log the same
    collinearity warnings: a user sees each once; the oracle's own are validation only."""
    logs = tmp_path / "results/logs"
    logs.mkdir(parents=True)
    t = "2026-01-01 10:00:00,000 WARNING cbec.tables.build"
    drop2 = "table2 (3): collinear with the fixed effects, dropped: ['sfgyqy']"
    drop7 = "table7 (1): collinear with the fixed effects, dropped: ['fc']"
    (logs / "table2.log").write_text(f"{t}: {drop2}\n")
    (logs / "table7.log").write_text(f"{t}: {drop7}\n")
    (logs / "oracle_tables.log").write_text(
        f"{t}: {drop2}\n{t}: {drop7}\n{t}: table6 (2): collinear with the fixed effects, "
        "dropped: ['lnage']\n"
    )
    (logs / "bias_budget.log").write_text(f"{t}: {drop2}\n")
    text = run_summary(tmp_path)
    assert "Warnings raised during the run: 3" in text
    assert text.count(drop2) == 1 and text.count(drop7) == 1
    assert f"  - table2: {drop2}" in text and f"  - table7: {drop7}" in text
    assert "  - oracle_tables (validation only): table6 (2): collinear" in text

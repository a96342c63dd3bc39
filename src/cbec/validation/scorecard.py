"""Scorecard: every published coefficient cell of Tables 2-7 next to ours and the truth.

For each cell: the paper's estimate and t statistic, ours (estimate, s.e., t), the planted or
oracle value of the synthetic world where one exists, and whether that value lies outside
our 95 % interval. Per column: N and R² against the paper's. The calibration targets of the
default world (t within a factor 2 of the paper's, R² within 0.1 for Tables 2, 3 and 6) are
evaluated alongside, so the scorecard is also the calibration check.
"""

from __future__ import annotations

import math
from typing import Any

from .paper import paper_cells, paper_columns

Z95 = 1.959963984540054
T_FACTOR = 2.0  # calibration target: our t within this factor of the paper's
R2_TOL = 0.1  # calibration target: |R² - paper's| for the tables below
R2_TABLES = ("table2", "table3", "table6")
NO_LIKE_FOR_LIKE = "no like-for-like truth"
ORACLE_KIND = "oracle: same spec. on true data"
TREATMENT_TERMS = ("platform", "platform_mic")
# depvar -> key of params.json planted_effects for the platform coefficient (Table 6)
MECHANISM_EFFECT = {
    "tfp_lp": "tau_tfp",
    "tfp_op": "tau_tfp",
    "newprod_share": "tau_newprod",
    "ln_export": "tau_export",
    "ln_markets": "tau_markets",
    "ln_products": "tau_products",
}
# moderator of Table 7 -> (planted interaction, treated share of the dummy in the truth)
MODERATOR_EFFECT = {
    "sfhighict": ("tau_ict", "treated_share_high_ict"),
    "sfold": ("tau_old", "treated_share_early"),
    "sfhighscore": ("tau_score", "treated_share_high_score"),
}


def _cu_truth(table: str, truth: dict[str, Any]) -> tuple[float | None, str]:
    """Truth of the platform coefficient on CU: oracle TWFE (FE tables) or realized ATT."""
    util = truth.get("calibration", {}).get("utilization", {})
    if table == "table4" and util.get("realized_att_alibaba") is not None:
        return float(util["realized_att_alibaba"]), "realized ATT"
    if util.get("oracle_twfe_alibaba") is not None:
        return float(util["oracle_twfe_alibaba"]), "oracle TWFE"
    return float(truth["planted_effects"]["tau_cu"]), "planted"


def _table7_truth(cell: dict[str, Any], moderator: str, truth: dict[str, Any]):
    """Interaction: its planted effect; main effect: the effect for the dummy's 0 group."""
    eff = truth["planted_effects"]
    key, share_key = MODERATOR_EFFECT[moderator]
    if cell["term"] != "platform":
        return float(eff[key]), "planted on the latent effect"
    share = truth.get("calibration", {}).get("heterogeneity", {}).get(share_key)
    if share is None:
        return None, ""
    base, _ = _cu_truth("table7", truth)
    return base - float(eff[key]) * float(share), "planted (0 group)"


def truth_value(cell: dict[str, Any], truth: dict[str, Any] | None) -> tuple[float | None, str]:
    """(value, kind) of the synthetic world's truth for a published cell; (None, '') when
    the world plants none (controls, first stages)."""
    if not truth:
        return None, ""
    eff = truth["planted_effects"]
    table, term, depvar = cell["table"], cell["term"], cell["depvar"]
    moderators = [m for m in MODERATOR_EFFECT if term.endswith(f":{m}")]
    if table == "table7":
        mod = moderators[0] if moderators else _column_moderator(cell)
        return _table7_truth(cell, mod, truth) if mod else (None, "")
    if term == "platform_mic":
        util = truth.get("calibration", {}).get("utilization", {})
        if util.get("oracle_twfe_mic") is not None:
            return float(util["oracle_twfe_mic"]), "oracle TWFE"
        return float(eff["tau_mic"]), "planted"
    if term != "platform":
        return None, ""
    if depvar in MECHANISM_EFFECT:
        return float(eff[MECHANISM_EFFECT[depvar]]), "planted"
    if depvar == "cu":
        return _cu_truth(table, truth)
    if depvar.startswith("cu_sfa"):
        # observed over frontier output (u, inefficiency and productivity together): not on
        # the scale of u, and the world has no frontier-based measure of its own
        return None, NO_LIKE_FOR_LIKE
    return None, ""


def oracle_value(
    cell: dict[str, Any], oracle: dict[str, Any] | None, key: str = "tables"
) -> float | None:
    """The cell's coefficient in the oracle table (the same specification on the world's
    true data, :mod:`cbec.validation.oracle`; ``key="tables_true_outcome"``: on the true
    outcome with our platform status); None where there is none, and for controls (the
    world plants no effect of a control: their oracle coefficients describe the measured
    CU, not a truth the pipeline should recover)."""
    if cell["term"] not in TREATMENT_TERMS and ":" not in cell["term"]:
        return None
    cols = ((oracle or {}).get(key, {}).get(cell["table"]) or {}).get("columns") or []
    pos = cell["our_column"]
    col = cols[pos] if 0 <= pos < len(cols) else None
    coef = (col or {}).get("coef", {}).get(cell["term"])
    return None if coef is None else float(coef["b"])


def _column_moderator(cell: dict[str, Any]) -> str | None:
    return cell.get("moderator")


def _our_column(
    estimates: dict[str, Any], table: str, pos: int, depvar: str | None = None
) -> dict[str, Any] | None:
    """Our column at the published column's position, or None when there is none or it
    explains another outcome than ``depvar`` (a table the user re-specified: comparing it
    with the paper's column would be wrong)."""
    cols = (estimates.get(table) or {}).get("columns") or []
    col = cols[pos] if 0 <= pos < len(cols) else None
    if col is not None and depvar is not None and col.get("depvar") not in (None, depvar):
        return None
    return col


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def score_cell(
    cell: dict[str, Any], col: dict | None, truth: dict | None, oracle: dict | None = None
) -> dict[str, Any]:
    """One scorecard row: the published cell, ours, the truth and the flags. The truth is
    the oracle (same specification on true data) where there is one, else the world's
    planted or population-oracle value (kept as ``planted`` in every row)."""
    coef = (col or {}).get("coef", {}).get(cell["term"])
    b, se, t = (coef["b"], coef["se"], coef["t"]) if coef else (None, None, None)
    planted, planted_kind = truth_value(cell, truth)
    ora = oracle_value(cell, oracle) if truth else None
    value, kind = (ora, ORACLE_KIND) if ora is not None else (planted, planted_kind)
    outside = None
    if value is not None and b is not None and se is not None and math.isfinite(se):
        outside = abs(b - value) > Z95 * se
    ratio = _ratio(t, cell["paper_t"])
    mid = oracle_value(cell, oracle, "tables_true_outcome") if ora is not None else None
    steps = (b - mid, mid - ora) if mid is not None and b is not None and ora is not None else None
    return {
        **cell,
        "ours_b": b,
        "ours_se": se,
        "ours_t": t,
        "truth": value,
        "truth_kind": kind,
        "planted": planted,
        "planted_kind": planted_kind,
        "truth_outside_ci": outside,
        # ours - oracle = (measured outcome) + (platform links): ours - the true outcome on
        # our platform status, and that - the oracle
        "step_outcome": None if steps is None else steps[0],
        "step_links": None if steps is None else steps[1],
        "t_ratio": ratio,
        "t_within_factor": None if ratio is None else 1 / T_FACTOR <= ratio <= T_FACTOR,
    }


def score_column(pc: dict[str, Any], col: dict | None) -> dict[str, Any]:
    """N and R² of one published column against ours."""
    n, r2 = (col or {}).get("nobs"), (col or {}).get("r2")
    gap = None if r2 is None or pc["paper_r2"] is None else r2 - pc["paper_r2"]
    target = pc["table"] in R2_TABLES and gap is not None
    return {
        **pc,
        "ours_n": n,
        "ours_r2": r2,
        "n_ratio": _ratio(n, pc["paper_n"]),
        "r2_gap": gap,
        "r2_within_tol": (abs(gap) <= R2_TOL) if target else None,
    }


def build_scorecard(
    paper: dict[str, Any],
    estimates: dict[str, Any],
    truth: dict[str, Any] | None,
    oracle: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The scorecard: every published cell and column of Tables 2-7 with ours and the truth
    (``estimates``: table name -> results/estimates JSON; ``truth``: params.json or None;
    ``oracle``: results/validation/oracle_tables.json or None)."""
    cells = []
    for cell in paper_cells(paper):
        cell = {**cell, "moderator": _moderator(paper, cell)}
        col = _our_column(estimates, cell["table"], cell["our_column"], cell["depvar"])
        cells.append(_with_realized(score_cell(cell, col, truth, oracle), oracle))
    columns = [
        score_column(pc, _our_column(estimates, pc["table"], pc["our_column"], pc["depvar"]))
        for pc in paper_columns(paper)
    ]
    summary = {**_summary(cells, columns), "has_truth": truth is not None or oracle is not None}
    return {"cells": cells, "columns": columns, "summary": summary}


def _with_realized(row: dict[str, Any], oracle: dict[str, Any] | None) -> dict[str, Any]:
    """A Table 7 interaction row with the realized difference of the effects on u between
    the truth's groups (the planted interaction after the upper bound of u compresses it)."""
    real = (oracle or {}).get("realized_interactions", {}).get(row.get("moderator") or "")
    if ":" not in row["term"] or not real or real.get("difference") is None:
        return row
    diff = float(real["difference"])
    return {**row, "realized": diff, "planted_kind": f"{row['planted_kind']}; realized {diff:.4f}"}


def _moderator(paper: dict[str, Any], cell: dict[str, Any]) -> str | None:
    """The Table 7 moderator of the cell's column (from its interaction term)."""
    col = next(c for c in paper[cell["table"]]["columns"] if c["paper"] == cell["paper_column"])
    mods = [t.split(":", 1)[1] for t in col["coef"] if ":" in t]
    return mods[0] if mods else None


def _summary(cells: list[dict], columns: list[dict]) -> dict[str, Any]:
    """Counts of the flags and the calibration targets met."""
    judged = [c for c in cells if c["t_within_factor"] is not None]
    flagged = [c for c in cells if c["truth_outside_ci"]]
    r2 = [c for c in columns if c["r2_within_tol"] is not None]
    return {
        "cells": len(cells),
        "cells_estimated": sum(c["ours_b"] is not None for c in cells),
        "t_within_factor": sum(bool(c["t_within_factor"]) for c in judged),
        "t_judged": len(judged),
        "truth_outside_ci": len(flagged),
        "truth_judged": sum(c["truth_outside_ci"] is not None for c in cells),
        "r2_within_tol": sum(bool(c["r2_within_tol"]) for c in r2),
        "r2_judged": len(r2),
    }

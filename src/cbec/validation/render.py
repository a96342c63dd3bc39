"""Markdown of the scorecard and of the bias budget."""

from __future__ import annotations

from typing import Any


def _f(x: Any, nd: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.{nd}f}"


def _flag_notes(cells: list[dict[str, Any]]) -> list[str]:
    """One line per flagged cell whose gap to the oracle splits into the measured outcome
    and the platform links, naming the larger step."""
    out = []
    for c in cells:
        if not c["truth_outside_ci"] or c.get("step_outcome") is None:
            continue
        so, sl = c["step_outcome"], c["step_links"]
        main = "the measured outcome" if abs(so) >= abs(sl) else "the platform links"
        out.append(
            f"⚑ {c['table']} ({c['paper_column']}) {c['term']}: ours − oracle "
            f"{_f(c['ours_b'] - c['truth'], 4)} = measured outcome {_f(so, 4)} + platform "
            f"links {_f(sl, 4)}; mostly {main}."
        )
    return [""] + out if out else []


_PAPER_NOTE = "Paper: the published estimate and t statistic (clustered by firm)."


def _cell_rows(cells: list[dict[str, Any]], truth: bool) -> list[str]:
    """The coefficient cells' table; the truth's columns only where the world is known."""
    head = "| table | col. | term | paper b | paper t | our b | our s.e. | our t | t ratio |"
    rule = "|---|---:|---|---:|---:|---:|---:|---:|---:|"
    if truth:
        head += " truth | truth is | flag | gap: outcome | gap: links | planted | planted is |"
        rule += "---:|---|---|---:|---:|---:|---|"
    lines = [head, rule]
    for c in cells:
        row = (
            f"| {c['table']} | ({c['paper_column']}) | {c['term']} | {_f(c['paper_b'])} "
            f"| {_f(c['paper_t'], 2)} | {_f(c['ours_b'], 4)} | {_f(c['ours_se'], 4)} "
            f"| {_f(c['ours_t'], 2)} | {_f(c['t_ratio'], 2)} |"
        )
        if truth:
            row += (
                f" {_f(c['truth'], 4)} | {c['truth_kind'] or '–'} "
                f"| {'⚑' if c['truth_outside_ci'] else ''} "
                f"| {_f(c.get('step_outcome'), 4)} | {_f(c.get('step_links'), 4)} "
                f"| {_f(c.get('planted'), 4)} | {c.get('planted_kind') or '–'} |"
            )
        lines.append(row)
    return lines


def scorecard_md(card: dict[str, Any]) -> str:
    """The scorecard as two markdown tables (cells, columns) with a summary line; without
    the truth's columns when the run has no truth (a researcher's own data)."""
    s = card["summary"]
    truth = s.get("has_truth", True)
    flags = (
        f"Truth outside our 95 % interval (flag ⚑): {s['truth_outside_ci']} of "
        f"{s['truth_judged']}. "
        if truth
        else "No truth to compare with (not the synthetic world). "
    )
    lines = [
        "# Scorecard: the paper's Tables 2–7 against this run",
        "",
        f"{s['cells']} published coefficient cells, {s['cells_estimated']} estimated here. "
        f"t within a factor 2 of the paper's: {s['t_within_factor']} of {s['t_judged']}. "
        f"{flags}R² within 0.1 of the paper's (Tables 2, 3, 6): "
        f"{s['r2_within_tol']} of {s['r2_judged']}.",
        "",
        *_cell_rows(card["cells"], truth),
    ]
    lines += [
        "",
        "| table | col. | depvar | paper N | our N | N ratio | paper R² | our R² | R² gap |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in card["columns"]:
        lines.append(
            f"| {c['table']} | ({c['paper_column']}) | {c['depvar']} | {_f(c['paper_n'])} "
            f"| {_f(c['ours_n'])} | {_f(c['n_ratio'], 2)} | {_f(c['paper_r2'])} "
            f"| {_f(c['ours_r2'])} | {_f(c['r2_gap'])} |"
        )
    lines += _flag_notes(card["cells"])
    notes = [c for c in card["columns"] if c.get("r2_note")]
    lines += [""] + [
        f"R² of {c['table']} ({c['paper_column']}) in the paper: {c['r2_note']}." for c in notes
    ]
    if not truth:
        return "\n".join([*lines, "", _PAPER_NOTE, ""])
    lines += [
        "",
        _PAPER_NOTE + " Truth: where "
        "the world knows the column's outcome, the oracle — the same specification (rows, "
        "fixed effects, controls, Table 7 groups as the pipeline builds them) with the "
        "outcome and the platform dummy replaced by the world's truth (results/validation/"
        "oracle_tables.json; Table 4: the matching run again on the true platform status "
        "and join year, with our covariates, k, cells and seed); else the world's population "
        "oracle (the paper's TWFE on the true utilization) or the planted effect. Planted: the world's parameter for comparison (Table 7: the "
        "interaction as planted on the latent effect, before the upper bound of u "
        "compresses it; SFA CU: no like-for-like truth, it is observed over frontier "
        "output, not u). ⚑: the truth lies outside our estimate ± 1.96 s.e. Gap: our estimate "
        "minus the oracle in two steps that add up to it — outcome: ours minus the same "
        "specification on the true outcome with our platform status (what measuring CU, "
        "exports, … costs); links: that minus the oracle (what our platform links cost).",
        "",
    ]
    return "\n".join(lines)


def bias_budget_md(b: dict[str, Any]) -> str:
    """The bias budget as a markdown table: each stage, its estimate and its step."""
    lines = [
        "# Bias budget of Table 2 column (2)",
        "",
        "The truth substituted one stage at a time (cumulative): each row re-estimates the "
        "headline coefficient with one more piece of the data construction replaced by the "
        "synthetic world's truth; the steps add up to the gap between the oracle and the "
        "pipeline's estimate.",
        "",
        "| stage | estimate | s.e. | t | N | step |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in b["stages"]:
        lines.append(
            f"| {s['label']} | {_f(s['b'], 4)} | {_f(s['se'], 4)} | {_f(s['t'], 2)} "
            f"| {_f(s['nobs'])} | {_f(s['step'], 4) if s['step'] is not None else ''} |"
        )
    lines += [
        "",
        f"Gap oracle − pipeline: {_f(b['gap'], 4)} = sum of the steps {_f(b['sum_of_steps'], 4)}. "
        f"Oracle of the world (params.json): {_f(b['oracle_params_json'], 4)}. Sample rows "
        f"whose true firm is unknown (left out from stage 1 on): {b['rows_without_truth']}.",
        "",
    ]
    pb = b.get("precision_bound")
    if pb:
        lines += [
            f"Precision bound: with the paper's residual sd {_f(pb['sigma'], 4)} (Table 1's "
            "sd of CU and Table 2's R²) no error process can give the headline coefficient a "
            f"firm-clustered s.e. above {_f(pb['max_se'], 4)} on the world's treatment "
            f"pattern (Σ S_g = {_f(pb['sum_S'], 0)}, {_f(pb['effective_switchers'], 0)} "
            "effective switching firms); see docs/synthetic_world.md.",
            "",
        ]
    return "\n".join(lines)

"""Render the machine-readable estimates JSON (``results/estimates/table{N}.json``) as tables.

Formats: LaTeX (booktabs: ``\\toprule``/``\\midrule``/``\\bottomrule``; a plain ``tabular`` in a
``table`` float, no threeparttable), GitHub Markdown (pipe table) and an HTML fragment with
inline CSS only (no external resources). The layout follows the paper: one column per
regression, the coefficient with its significance stars (``***`` p<0.01, ``**`` p<0.05,
``*`` p<0.1, from the stored ``p``) and beneath it the t statistic in parentheses with two
decimals, e.g. ``(5.42)`` (or the standard error with ``stat="se"``); then the fixed-effect
rows (企业固定效应 / 行业时间固定效应 / 地区时间固定效应: 控制), observations with a thousands
separator, R² and, when present, first-stage diagnostics (Kleibergen-Paap rk LM / Wald F,
first-stage F, wild-bootstrap p-value / CI).

Input (regression table; see docs/architecture.md, "The estimates JSON")::

    {"table": "table2", "title": ..., "notes": ..., "columns": [
       {"label": "(1)", "depvar": "cu", "estimator": "feols"|"iv2sls"|"first_stage",
        "fixed_effects": ["firm_id", "ind2^year", "city^year"], "vcov": "CRV1:firm_id",
        "coef": {"platform": {"b": .., "se": .., "t": .., "p": ..}, ...},
        "nobs": 233819, "r2": 0.636, "stats": {"kp_lm": 20.8, "kp_wald_f": 155.2},
        "controls": true}]}

Optional extras understood: ``title``/``notes`` as ``{"en": .., "zh": ..}`` (or
``title_zh``/``notes_zh``), a column ``header`` (str or dict; e.g. "Nearest neighbour 1:1",
shown as an extra header row), ``depvar_label`` (str or dict), ``controls`` as a list of the
control-variable names. Descriptive table (Table 1)::

    {"table": "table1", "kind": "descriptive",
     "rows": [{"var": "cu", "n": .., "mean": .., "sd": .., "max": .., "min": ..}, ...],
     "suppressed": [...]}

A ``null`` value (suppressed for confidentiality, or missing) renders as "—" with a note.
LaTeX output with ``lang="zh"`` needs ``\\usepackage{xeCJK}`` (XeLaTeX); with ``lang="en"`` it
is plain ASCII and compiles with pdflatex given ``\\usepackage{booktabs}``.
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cbec.data.io import write_text_atomic
from cbec.tables import labels as L

__all__ = ["Cell", "Grid", "escape_tex", "render_table", "stars", "table_grid", "write_table"]

Fmt = Literal["tex", "md", "html"]
Lang = Literal["en", "zh"]
FORMATS: tuple[str, ...] = ("tex", "md", "html")
MISSING = "—"  # em dash: suppressed / unavailable value

_TEX_MAP = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "×": r"$\times$",
    "²": r"$^{2}$",
    "—": "---",
    "–": "--",
    "−": "$-$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
}


# --------------------------------------------------------------------------- basic helpers
def escape_tex(s: str) -> str:
    """Escape LaTeX special characters (``\\ & % $ # _ { } ~ ^ < >``) and map ×, ², dashes."""
    return "".join(_TEX_MAP.get(ch, ch) for ch in s)


def _escape_md(s: str) -> str:
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("`", "\\`")


def stars(p: float | None) -> str:
    """Significance stars: ``***`` p<0.01, ``**`` p<0.05, ``*`` p<0.1 (none for missing p)."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    if p < 0.01:
        return "***"
    if p < 0.05:
        return "**"
    if p < 0.1:
        return "*"
    return ""


def _is_missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def _num(x: Any, digits: int) -> str:
    """Fixed-decimal number; missing -> "—"; negative zero printed as zero."""
    if _is_missing(x):
        return MISSING
    s = f"{float(x):.{digits}f}"
    if s.startswith("-") and float(s) == 0.0:
        s = s[1:]
    return s


def _pval(x: Any, digits: int = 3) -> str:
    """A p-value: "<0.001" below 0.001, else fixed decimals; missing -> "—"."""
    if _is_missing(x):
        return MISSING
    return "<0.001" if float(x) < 0.001 else _num(x, digits)


def _int_sep(x: Any) -> str:
    """Integer with thousands separator (233,819); missing -> "—"."""
    if _is_missing(x):
        return MISSING
    return f"{int(round(float(x))):,}"


def _loc(value: Any, lang: Lang) -> str | None:
    """A possibly language-keyed string: ``{"en": .., "zh": ..}`` or a plain string."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        v = value.get(lang)
        if v is None:
            v = value.get("en", next(iter(value.values()), None))
        return None if v is None else str(v)
    return str(value)


def _has_cjk(s: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in s)


# --------------------------------------------------------------------------- intermediate grid
@dataclass
class Cell:
    """One table cell: plain text, optional significance stars, numeric flag (alignment)."""

    text: str = ""
    stars: str = ""
    num: bool = False


@dataclass
class Grid:
    """Format-neutral table: header rows, body sections (separated by rules) and notes."""

    table: str
    title: str
    lang: Lang
    header: list[list[Cell]]
    sections: list[list[list[Cell]]]
    notes: list[str] = field(default_factory=list)

    @property
    def ncols(self) -> int:
        return len(self.header[0])


def _title(est: Mapping[str, Any], lang: Lang) -> str:
    table = str(est.get("table", ""))
    t = est.get("title")
    if isinstance(t, Mapping):
        got = t.get(lang)
        if got:
            return str(got)
    if est.get(f"title_{lang}"):
        return str(est[f"title_{lang}"])
    if isinstance(t, str) and t and (lang == "en") != _has_cjk(t):
        return t  # plain title already in the requested language
    default = L.title_for(table, lang)
    if default:
        return default
    return _loc(t, lang) or table


def _user_notes(est: Mapping[str, Any], lang: Lang) -> list[str]:
    """The table's own notes in ``lang``, each a sentence (known English notes translated)."""
    n = est.get("notes")
    if isinstance(n, Mapping):
        got = n.get(lang) or n.get("en")
        raw = [str(got)] if got else []
    elif est.get(f"notes_{lang}"):
        raw = [str(est[f"notes_{lang}"])]
    elif isinstance(n, str) and n.strip():
        raw = [n.strip()]
    elif isinstance(n, Sequence) and not isinstance(n, str):
        raw = [str(x) for x in n if x]
    else:
        raw = []
    return [sentence(L.note_text(x, lang), lang) for x in raw]


def sentence(s: str, lang: Lang) -> str:
    """``s`` as a sentence: capitalised (English) and ending in a full stop (。 in Chinese)."""
    s = s.strip()
    if not s:
        return s
    if lang == "en" and s[0].islower():
        s = s[0].upper() + s[1:]
    if s[-1] in ".。!?！？":
        return s
    return s + ("。" if lang == "zh" else ".")


def _table_number(table: str) -> str:
    digits = "".join(ch for ch in table if ch.isdigit())
    return digits or table


# --------------------------------------------------------------------------- regression tables
_CLUSTER_NAMES = {
    "firm_id": {"en": "firm", "zh": "企业"},
    "city": {"en": "city", "zh": "地区"},
    "ind2": {"en": "industry", "zh": "行业"},
    "province": {"en": "province", "zh": "省份"},
    "year": {"en": "year", "zh": "年份"},
}


def _vcov_phrase(vcov: Any, lang: Lang) -> str | None:
    """Describe a pyfixest vcov spec: "CRV1:firm_id", {"CRV1": "firm_id"}, "hetero", "iid"."""
    if vcov is None:
        return None
    if isinstance(vcov, Mapping):
        if not vcov:
            return None
        kind, cl = next(iter(vcov.items()))
        vcov = f"{kind}:{cl}"
    v = str(vcov).strip()
    kind, _, cl = v.partition(":")
    if cl:
        names = [
            _CLUSTER_NAMES.get(c.strip(), {}).get(lang, c.strip())
            for c in cl.replace("^", "+").split("+")
        ]
        if lang == "zh":
            return f"在{'和'.join(names)}层面聚类"
        return f"clustered at the {' and '.join(names)} level"
    low = kind.lower()
    if low in ("hetero", "hc1", "hc2", "hc3", "robust"):
        return "异方差稳健" if lang == "zh" else "heteroskedasticity-robust"
    if low == "iid":
        return "假定同方差" if lang == "zh" else "assuming iid errors"
    return v


def _column_controls(col: Mapping[str, Any]) -> tuple[bool, set[str]]:
    """(does the column include controls?, names of its control variables)."""
    c = col.get("controls")
    coefs = set((col.get("coef") or {}).keys())
    if isinstance(c, Sequence) and not isinstance(c, str):
        names = {str(x) for x in c}
        return (len(names) > 0, names)
    names = set(L.CONTROLS)
    if c is None:
        return (bool(coefs & names), names)
    return (bool(c), names)


def _coef_rows_order(
    columns: Sequence[Mapping[str, Any]], coef_order: Sequence[str] | None, hidden: set[str]
) -> list[str]:
    """Stable row order: ``coef_order`` first, then treatment, interactions, instruments,
    other regressors, controls, intercept; ties by first appearance across columns."""
    seen: dict[str, int] = {}
    for col in columns:
        for name in (col.get("coef") or {}).keys():
            seen.setdefault(name, len(seen))
    names = [n for n in seen if n not in hidden]
    given = [n for n in (coef_order or []) if n in seen and n not in hidden]

    def group(n: str) -> int:
        if n in L.TREATMENTS:
            return 0
        if ":" in n:
            return 1
        if n.startswith("iv_"):
            return 2
        if n.lower() in ("intercept", "(intercept)", "_cons", "const"):
            return 5
        if n in L.CONTROLS:
            return 4
        return 3

    rest = sorted((n for n in names if n not in given), key=lambda n: (group(n), seen[n]))
    return list(dict.fromkeys(given)) + rest


def _stats_rows_keys(
    columns: Sequence[Mapping[str, Any]], stats_keys: Sequence[str] | None
) -> list[str]:
    """The statistics rows: ``stats_keys`` as given, else every known statistic present (in
    :data:`labels.STAT_LABELS` order), without a first-stage F that the Kleibergen-Paap Wald
    F already reports."""
    if stats_keys is not None:
        return list(stats_keys)
    present: dict[str, None] = {}
    for col in columns:
        for k in _flat_stats(col.get("stats")):
            present.setdefault(k, None)
    keys = [k for k in L.STAT_LABELS if k in present]
    if "kp_wald_f" in keys and "first_stage_f" in keys:
        keys.remove("first_stage_f")
    return keys


_FIRST_STAGE_ONLY = ("kp_lm", "kp_lm_p", "kp_wald_f", "first_stage_f", "eff_f")


def _shown_stats(columns: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each column's statistics, the first-stage diagnostics shown once: in the first-stage
    column, not again in the 2SLS column that follows it."""
    flat = [_flat_stats(c.get("stats")) for c in columns]
    for i, col in enumerate(columns):
        prev = columns[i - 1] if i else None
        if col.get("estimator") == "iv2sls" and prev and prev.get("estimator") == "first_stage":
            for k in _FIRST_STAGE_ONLY:
                if k in flat[i - 1]:
                    flat[i].pop(k, None)
    return flat


def _flat_stats(stats: Any) -> dict[str, Any]:
    """Stats by key; one level of nesting is flattened (``{"wild": {"p": ..}}``)."""
    out: dict[str, Any] = {}
    if not isinstance(stats, Mapping):
        return out
    for k, v in stats.items():
        if isinstance(v, Mapping):
            for k2, v2 in v.items():
                out[f"{k}_{k2}"] = v2
        else:
            out[str(k)] = v
    return out


def _stat_cell(key: str, value: Any, digits: int) -> Cell:
    if isinstance(value, bool) or value is None:
        return Cell("")
    if isinstance(value, Sequence) and not isinstance(value, str):
        vals = list(value)
        return Cell("[" + ", ".join(_num(v, digits) for v in vals) + "]", num=True)
    if isinstance(value, int | float):
        if key in L.COUNT_STATS:
            return Cell(_int_sep(value), num=True)
        if key in L.P_VALUE_STATS:
            return Cell(_pval(value, digits), num=True)
        return Cell(_num(value, digits), num=True)
    return Cell("")  # free text (e.g. an error message) is never printed in a table


def _checked_columns(est: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The ``columns`` of a regression table, checked to be a non-empty list of objects."""
    table = str(est.get("table", ""))
    columns = est.get("columns")
    if not isinstance(columns, Sequence) or isinstance(columns, str) or not columns:
        raise ValueError(f"{table or 'estimates'}: 'columns' must be a non-empty list")
    for i, col in enumerate(columns):
        if not isinstance(col, Mapping):
            raise ValueError(f"{table}: column {i + 1} is not an object")
        if not isinstance(col.get("coef", {}), Mapping):
            raise ValueError(f"{table}: column {i + 1}: 'coef' must be an object")
    return columns


def _header_rows(
    columns: Sequence[Mapping[str, Any]], col_labels: list[str], lang: Lang
) -> list[list[Cell]]:
    """Column labels; then, when any column has one, headers, dependent variables, estimators."""
    header: list[list[Cell]] = [[Cell(L.text("variable", lang))] + [Cell(x) for x in col_labels]]
    if any(c.get("header") for c in columns):
        header.append(
            [Cell("")] + [Cell(L.header_label(c.get("header"), lang) or "") for c in columns]
        )
    depvars = []
    for c in columns:
        lab = _loc(c.get("depvar_label"), lang)
        if lab is None and c.get("depvar"):
            lab = L.var_label(str(c["depvar"]), lang, "label")
        depvars.append(lab or "")
    if any(depvars):
        header.append([Cell("")] + [Cell(x) for x in depvars])
    ests = [str(c.get("estimator") or "feols") for c in columns]
    if any(e != "feols" for e in ests):
        header.append(
            [Cell(L.text("estimator", lang))] + [Cell(L.estimator_label(e, lang)) for e in ests]
        )
    return header


@dataclass
class _Controls:
    """How a table shows control variables."""

    info: list[tuple[bool, set[str]]]  # per column: (has controls?, their names)
    names: set[str]  # every column's control names
    row: bool  # a "Controls: Yes/No" row
    hidden: set[str]  # coefficient rows not shown


def _controls(columns: Sequence[Mapping[str, Any]], show_controls: bool) -> _Controls:
    """Controls row and hidden coefficients: hidden with ``show_controls``; a row also when a
    column declares controls whose coefficients are absent."""
    info = [_column_controls(c) for c in columns]
    names: set[str] = set().union(*(n for _, n in info))
    present = [
        bool(set((c.get("coef") or {}).keys()) & n) for c, (_, n) in zip(columns, info, strict=True)
    ]
    declared_hidden = any(has and not shown for (has, _), shown in zip(info, present, strict=True))
    return _Controls(
        info=info,
        names=names,
        row=show_controls or declared_hidden,
        hidden=names if show_controls else set(),
    )


def _coef_cells(
    c: Mapping[str, Any] | None, stat: Literal["t", "se"], digits: int, sd: int
) -> tuple[Cell, Cell, bool]:
    """(coefficient cell, statistic cell, was the coefficient missing?) of one column."""
    if c is None:
        return Cell(""), Cell(""), False
    b = c.get("b")
    if _is_missing(b):
        return Cell(MISSING), Cell(""), True
    if stat == "t":
        v = c.get("t")
        se = c.get("se")
        if _is_missing(v) and not _is_missing(se) and float(se) > 0:
            v = float(b) / float(se)
    else:
        v = c.get("se")
    scell = Cell(f"({_num(v, sd)})", num=True) if not _is_missing(v) else Cell("")
    return Cell(_num(b, digits), stars(c.get("p")), num=True), scell, False


def _coef_rows(
    columns: Sequence[Mapping[str, Any]],
    order: Sequence[str],
    *,
    stat: Literal["t", "se"],
    lang: Lang,
    digits: int,
    sd: int,
    var_names: Literal["code", "label"],
) -> tuple[list[list[Cell]], bool]:
    """Two rows per coefficient (estimate with stars, statistic); whether any was missing."""
    rows: list[list[Cell]] = []
    missing_used = False
    for name in order:
        brow = [Cell(L.var_label(name, lang, var_names))]
        srow = [Cell("")]
        for col in columns:
            bcell, scell, missing = _coef_cells((col.get("coef") or {}).get(name), stat, digits, sd)
            missing_used |= missing
            brow.append(bcell)
            srow.append(scell)
        rows.append(brow)
        rows.append(srow)
    return rows, missing_used


def _spec_rows(
    columns: Sequence[Mapping[str, Any]], controls: _Controls, lang: Lang
) -> list[list[Cell]]:
    """The Controls row (when shown) and one Yes/No row per fixed effect."""
    fe_lists = [L.split_fixed_effects(c.get("fixed_effects")) for c in columns]
    all_fe = sorted({f for fl in fe_lists for f in fl}, key=L.fe_sort_key)
    yes, no = L.text("yes", lang), L.text("no", lang)
    rows: list[list[Cell]] = []
    if controls.row:
        rows.append(
            [Cell(L.text("controls", lang))]
            + [Cell(yes if has else no) for has, _ in controls.info]
        )
    for fe in all_fe:
        rows.append(
            [Cell(L.fe_label(fe, lang))] + [Cell(yes if fe in fl else no) for fl in fe_lists]
        )
    return rows


def _fit_rows(
    columns: Sequence[Mapping[str, Any]],
    stats_keys: Sequence[str] | None,
    lang: Lang,
    digits: int,
) -> tuple[list[list[Cell]], bool]:
    """Observations, R² and statistics rows; whether an observation count was missing."""
    rows: list[list[Cell]] = []
    missing_used = False
    nobs = [c.get("nobs") for c in columns]
    if any("nobs" in c for c in columns):
        missing_used = any(_is_missing(n) for n in nobs)
        rows.append([Cell(L.text("nobs", lang))] + [Cell(_int_sep(n), num=True) for n in nobs])
    r2 = [c.get("r2") for c in columns]
    if any(not _is_missing(x) for x in r2):
        rows.append(
            [Cell(L.text("r2", lang))]
            + [Cell(_num(x, 3), num=True) if not _is_missing(x) else Cell("") for x in r2]
        )
    flat = _shown_stats(columns)
    for key in _stats_rows_keys(columns, stats_keys):
        if key == "se_type":
            phrases = [_vcov_phrase(c.get("vcov"), lang) or "" for c in columns]
            rows.append([Cell(L.stat_label(key, lang))] + [Cell(p) for p in phrases])
            continue
        rows.append(
            [Cell(L.stat_label(key, lang))] + [_stat_cell(key, f.get(key), digits) for f in flat]
        )
    return rows, missing_used


def _controls_note(names: set[str], lang: Lang) -> str:
    """Which controls the hidden coefficients belong to."""
    shown = [n for n in L.CONTROLS if n in names] + sorted(names - set(L.CONTROLS))
    if lang == "zh":
        return f"控制变量包括{'、'.join(shown)},系数未报告。"
    return f"Controls: {', '.join(shown)} (coefficients not reported)."


def _regression_grid(
    est: Mapping[str, Any],
    *,
    stat: Literal["t", "se"],
    lang: Lang,
    digits: int,
    stat_digits: int | None,
    coef_order: Sequence[str] | None,
    show_controls: bool,
    var_names: Literal["code", "label"],
    stats_keys: Sequence[str] | None,
    auto_notes: bool,
) -> Grid:
    """Header, coefficient, specification and fit sections and the notes of a regression table."""
    columns = _checked_columns(est)
    sd = stat_digits if stat_digits is not None else (2 if stat == "t" else digits)
    col_labels = [str(c.get("label") or f"({i + 1})") for i, c in enumerate(columns)]
    controls = _controls(columns, show_controls)
    order = _coef_rows_order(columns, coef_order, controls.hidden)
    coef_rows, missing_coef = _coef_rows(
        columns, order, stat=stat, lang=lang, digits=digits, sd=sd, var_names=var_names
    )
    fit_rows, missing_nobs = _fit_rows(columns, stats_keys, lang, digits)
    spec_rows = _spec_rows(columns, controls, lang)
    notes = _user_notes(est, lang)
    if auto_notes:
        notes.append(_regression_note(columns, col_labels, stat, lang))
        notes.append(_sample_note(columns, col_labels, lang))
        notes += _absorbed_notes(columns, col_labels, lang)
        notes += _not_estimated_note(columns, col_labels, lang)
        if controls.row and show_controls:
            everywhere = set.intersection(*(set(c.get("absorbed") or []) for c in columns))
            notes.append(_controls_note(controls.names - everywhere, lang))
        if missing_coef or missing_nobs:
            notes.append(_missing_note(lang))
        notes += _bootstrap_notes(columns, col_labels, lang)
    return Grid(
        table=str(est.get("table", "")),
        title=_title(est, lang),
        lang=lang,
        header=_header_rows(columns, col_labels, lang),
        sections=[s for s in (coef_rows, spec_rows, fit_rows) if s],
        notes=notes,
    )


def _regression_note(
    columns: Sequence[Mapping[str, Any]], col_labels: list[str], stat: str, lang: Lang
) -> str:
    phrases = [_vcov_phrase(c.get("vcov"), lang) for c in columns]
    distinct = list(dict.fromkeys(p for p in phrases if p))
    if len(distinct) <= 1:
        vc = distinct[0] if distinct else None
    else:
        groups = []
        for ph in distinct:
            labs = [lab for lab, p in zip(col_labels, phrases, strict=True) if p == ph]
            groups.append(f"{''.join(labs) if lang == 'zh' else ', '.join(labs)}: {ph}")
        vc = ("; " if lang == "en" else ";").join(groups)
    if lang == "zh":
        what = "t统计值" if stat == "t" else "标准误"
        s = f"括号内为{what}"
        if vc:
            s += f",标准误{vc}" if len(distinct) <= 1 else f"(标准误{vc})"
        return s + ";*、**和***分别代表10%、5%和1%的显著性水平。"
    if stat == "t":
        s = "t statistics in parentheses"
        if vc:
            s += (
                f", based on standard errors {vc}"
                if len(distinct) <= 1
                else f" (standard errors {vc})"
            )
    else:
        s = "Standard errors in parentheses"
        if vc:
            s += f", {vc}" if len(distinct) <= 1 else f" ({vc})"
    return s + ". *** p<0.01, ** p<0.05, * p<0.1."


def _bootstrap_notes(
    columns: Sequence[Mapping[str, Any]], col_labels: list[str], lang: Lang
) -> list[str]:
    """One sentence per column with a wild cluster bootstrap: draws, weights, and whether the
    bootstrap residuals were projected on the fixed effects again."""
    out = []
    for c, lab in zip(columns, col_labels, strict=True):
        st = _flat_stats(c.get("stats"))
        if "wild_method" not in st:
            continue
        exact = str(st["wild_method"]).startswith("exact")
        reps, weights = st.get("wild_reps"), str(st.get("wild_weights", "")).capitalize()
        if lang == "zh":
            how = (
                "自助残差重新剔除全部固定效应"
                if exact
                else "自助残差未重新剔除非嵌套固定效应(近似)"
            )
            out.append(
                f"第{lab}列的wild bootstrap为约束野聚类自助法({reps}次{weights}权重抽样,{how}),"
                "置信区间由检验反演得到。"
            )
        else:
            how = (
                "bootstrap residuals projected on all fixed effects again"
                if exact
                else "bootstrap residuals not re-projected on the non-nested fixed effects, "
                "an approximation"
            )
            out.append(
                f"Column {lab}: restricted wild cluster bootstrap ({reps} draws, {weights} "
                f"weights; {how}); confidence interval by test inversion."
            )
    return out


def _sample_note(columns: Sequence[Mapping[str, Any]], col_labels: list[str], lang: Lang) -> str:
    """How the observations of each column arise: complete cases, minus singletons."""
    dropped = [_flat_stats(c.get("stats")).get("dropped_singletons") for c in columns]
    parts = [
        (lab, int(d))
        for lab, d in zip(col_labels, dropped, strict=True)
        if isinstance(d, int | float)
    ]
    if lang == "zh":
        s = "观测值为该列全部变量均非缺失的企业—年份"
        if parts:
            counts = "、".join(f"第{lab}列{_int_sep(d)}个" for lab, d in parts)
            s += f",并剔除了固定效应组内仅有一个观测值的样本(单例:{counts})"
        return s + "。"
    s = "Observations are the firm-years with every variable of the column observed"
    if parts:
        counts = ", ".join(f"{lab} {_int_sep(d)}" for lab, d in parts)
        s += f", less the firm-years alone in a fixed-effect group (singletons dropped: {counts})"
    return s + "."


def _absorbed_notes(
    columns: Sequence[Mapping[str, Any]], col_labels: list[str], lang: Lang
) -> list[str]:
    """The regressors the columns list under ``absorbed`` (dropped: absorbed by the fixed
    effects), one sentence per set of columns that lose the same variables."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for c, lab in zip(columns, col_labels, strict=True):
        gone = tuple(str(x) for x in c.get("absorbed") or [])
        if gone:
            groups.setdefault(gone, []).append(lab)
    out = []
    for gone, labs in groups.items():
        names = [L.var_label(n, lang, "code") for n in gone]
        if lang == "zh":
            out.append(f"第{'、'.join(labs)}列中,{'、'.join(names)}被固定效应吸收,未纳入估计。")
            continue
        shown = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        verb = "is" if len(names) == 1 else "are"
        cols = f"column {labs[0]}" if len(labs) == 1 else f"columns {', '.join(labs)}"
        out.append(f"In {cols}, {shown} {verb} absorbed by the fixed effects and omitted.")
    return out


def _not_estimated_note(
    columns: Sequence[Mapping[str, Any]], col_labels: list[str], lang: Lang
) -> list[str]:
    """One sentence naming the columns that could not be estimated (reason in the log)."""
    labs = [
        lab
        for c, lab in zip(columns, col_labels, strict=True)
        if _flat_stats(c.get("stats")).get("not_estimated")
    ]
    if not labs:
        return []
    if lang == "zh":
        return [f"第{'、'.join(labs)}列在该样本上无法估计(原因见运行日志),留空。"]
    which = ", ".join(labs)
    verb = "was" if len(labs) == 1 else "were"
    return [
        f"Column{'s' if len(labs) > 1 else ''} {which} {verb} not estimable on this sample "
        "(the run log gives the reason) and are left empty."
        if len(labs) > 1
        else f"Column {which} {verb} not estimable on this sample (the run log gives the reason) "
        "and is left empty."
    ]


def _missing_note(lang: Lang) -> str:
    if lang == "zh":
        return f"{MISSING}表示因数据保密要求未予报告(或不可得)的数值。"
    return f"{MISSING} denotes a value suppressed for confidentiality (or unavailable)."


# --------------------------------------------------------------------------- descriptive table
_DESC_FIELDS = ("n", "mean", "sd", "max", "min")


def _descriptive_grid(
    est: Mapping[str, Any],
    *,
    lang: Lang,
    digits: int,
    var_names: Literal["code", "label"],
    auto_notes: bool,
) -> Grid:
    table = str(est.get("table", ""))
    rows = est.get("rows")
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise ValueError(f"{table or 'descriptive table'}: 'rows' must be a list")
    header = [[Cell(L.text("variable", lang))] + [Cell(L.text(f, lang)) for f in _DESC_FIELDS]]
    body: list[list[Cell]] = []
    missing_used = False
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping) or "var" not in r:
            raise ValueError(f"{table}: row {i + 1} must be an object with a 'var' field")
        label = _loc(r.get("label"), lang) or L.var_label(str(r["var"]), lang, var_names)
        cells = [Cell(label)]
        for f in _DESC_FIELDS:
            v = r.get(f)
            missing_used |= _is_missing(v)
            cells.append(Cell(_int_sep(v) if f == "n" else _num(v, digits), num=True))
        body.append(cells)
    notes = _user_notes(est, lang)
    suppressed = est.get("suppressed") or []
    if auto_notes and (missing_used or suppressed):
        note = _missing_note(lang)
        items = [_suppressed_item(s) for s in suppressed]
        items = [x for x in items if x]
        if items:
            note += ("未报告:" if lang == "zh" else " Suppressed: ") + "; ".join(items) + "."
        notes.append(note)
    return Grid(
        table=table, title=_title(est, lang), lang=lang, header=header, sections=[body], notes=notes
    )


def _suppressed_item(s: Any) -> str:
    if isinstance(s, Mapping):
        var = s.get("var") or s.get("variable") or ""
        what = s.get("stat") or s.get("field") or s.get("cell") or ""
        why = s.get("reason") or ""
        out = str(var)
        if what:
            what = ", ".join(map(str, what)) if isinstance(what, list) else str(what)
            out += f" ({what})"
        if why:
            out += f": {why}"
        return out
    return str(s)


# --------------------------------------------------------------------------- format writers
def _lead_sep(g: Grid) -> str:
    return "" if g.lang == "zh" else " "


def _join_notes(g: Grid) -> str:
    return ("" if g.lang == "zh" else " ").join(g.notes)


def _tex_cell(c: Cell) -> str:
    t = c.text
    if c.num:
        t = "$-$".join(escape_tex(p) for p in t.split("-"))
    else:
        t = escape_tex(t)
    if c.stars:
        t += f"$^{{{c.stars}}}$"
    return t


def _tex_layout(n: int) -> tuple[str, str, str]:
    """(font size, \\tabcolsep, share of the line for the label column) for ``n`` data columns."""
    if n <= 3:
        return r"\small", "6pt", "0.34"
    if n <= 4:
        return r"\small", "4pt", "0.30"
    return r"\footnotesize", "3pt", "0.22"


def _tex_width(share: str, span: int, n: int) -> str:
    """Width of ``span`` of the ``n`` data columns, which share the line after the labels."""
    rest = f"{1 - float(share):.2f}"
    return rf"\dimexpr {rest}\linewidth*{span}/{n}-2\tabcolsep\relax"


def _tex_runs(row: list[Cell]) -> list[tuple[int, int, Cell]]:
    """Runs of equal adjacent header cells after the label: (first column, span, cell)."""
    runs: list[tuple[int, int, Cell]] = []
    for j, c in enumerate(row[1:], start=1):
        if runs and c.text and runs[-1][2].text == c.text:
            first, span, cell = runs[-1]
            runs[-1] = (first, span + 1, cell)
        else:
            runs.append((j, 1, c))
    return runs


def _tex_header(
    row: list[Cell], share: str, n: int, spanning: bool, rule: bool = True
) -> list[str]:
    """One header row; with ``spanning``, equal neighbours merge (a ``\\cmidrule`` below them
    with ``rule``)."""
    if not spanning:
        return [" & ".join(_tex_cell(c) for c in row) + r" \\"]
    cells, rules = [_tex_cell(row[0])], []
    for first, span, c in _tex_runs(row):
        if span == 1:
            cells.append(_tex_cell(c))
            continue
        width = _tex_width(share, span, n)
        cells.append(
            rf"\multicolumn{{{span}}}{{>{{\centering\arraybackslash}}p{{{width}}}}}{{{_tex_cell(c)}}}"
        )
        rules.append(rf"\cmidrule(lr){{{first + 1}-{first + span}}}")
    return [" & ".join(cells) + r" \\", *(rules if rule else [])]


def _render_tex(g: Grid, standalone: bool) -> str:
    """A ``table`` float whose tabular is exactly ``\\linewidth`` wide: a wrapping label column,
    equal wrapping data columns, spanning group headers, notes below at the table's width."""
    n = g.ncols - 1
    size, sep, share = _tex_layout(n)
    label_col = (
        rf">{{\raggedright\arraybackslash}}p{{\dimexpr {share}\linewidth-2\tabcolsep\relax}}"
    )
    data_col = rf">{{\centering\arraybackslash}}p{{{_tex_width(share, 1, n)}}}"
    out: list[str] = [r"% Requires \usepackage{booktabs,array}."]
    if g.lang == "zh":
        out.append(r"% Chinese labels: also requires \usepackage{xeCJK} (compile with XeLaTeX).")
    out += [r"\begin{table}[htbp]", r"\centering", size, rf"\setlength{{\tabcolsep}}{{{sep}}}"]
    out.append(rf"\caption{{{escape_tex(g.title)}}}")
    if g.table:
        out.append(rf"\label{{tab:{escape_tex(g.table)}}}")
    out.append(rf"\begin{{tabular}}{{@{{}}{label_col}*{{{n}}}{{{data_col}}}@{{}}}}")
    out.append(r"\toprule")
    for i, row in enumerate(g.header):
        out += _tex_header(row, share, n, spanning=i > 0, rule=i < len(g.header) - 1)
    for sec in g.sections:
        out.append(r"\midrule")
        for row in sec:
            out.append(" & ".join(_tex_cell(c) for c in row) + r" \\")
    out.append(r"\bottomrule")
    out.append(r"\end{tabular}")
    if g.notes:
        out.append(r"\par\smallskip")
        out.append(r"\begin{minipage}{\linewidth}\footnotesize")
        out.append(escape_tex(L.text("notes", g.lang) + _lead_sep(g) + _join_notes(g)))
        out.append(r"\end{minipage}")
    out.append(r"\end{table}")
    body = "\n".join(out) + "\n"
    if not standalone:
        return body
    pre = [r"\documentclass{article}", r"\usepackage{booktabs,array}"]
    if g.lang == "zh":
        pre.append(r"\usepackage{xeCJK}")
    return "\n".join([*pre, r"\begin{document}", body.rstrip("\n"), r"\end{document}"]) + "\n"


def _display_width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


def _md_cell(c: Cell) -> str:
    return _escape_md(c.text) + c.stars


def _render_md(g: Grid) -> str:
    rows = [[_md_cell(c) for c in r] for r in g.header]
    rows += [[_md_cell(c) for c in r] for sec in g.sections for r in sec]
    n = g.ncols
    widths = [max(3, *(_display_width(r[j]) for r in rows)) for j in range(n)]

    def line(cells: list[str]) -> str:
        padded = [c + " " * (widths[j] - _display_width(c)) for j, c in enumerate(cells)]
        return "| " + " | ".join(padded) + " |"

    sep = ["-" * widths[0]] + [":" + "-" * (widths[j] - 2) + ":" for j in range(1, n)]
    out = []
    tnum = _table_number(g.table)
    if g.lang == "zh":
        caption = f"{L.text('table', 'zh')}{tnum} {g.title}" if g.table else g.title
    else:
        caption = f"{L.text('table', 'en')} {tnum}. {g.title}" if g.table else g.title
    out.append(f"**{_escape_md(caption)}**")
    out.append("")
    out.append(line(rows[0]))
    out.append("| " + " | ".join(sep) + " |")
    out.extend(line(r) for r in rows[1:])
    if g.notes:
        out.append("")
        lead = L.text("notes", g.lang)
        out.append(f"*{_escape_md(lead.rstrip(':'))}*:{_lead_sep(g)}" + _escape_md(_join_notes(g)))
    return "\n".join(out) + "\n"


_CSS_WRAP = (
    "font-family: 'Times New Roman', 'Songti SC', 'SimSun', serif; font-size: 14px; "
    "color: #111; margin: 1em 0; display: inline-block; max-width: 100%; overflow-x: auto"
)
_CSS_TABLE = "border-collapse: collapse; border-spacing: 0; margin: 0"
_CSS_CAPTION = "caption-side: top; text-align: center; font-weight: bold; padding: 0 0 6px 0"
_CSS_CELL = "padding: 2px 10px; vertical-align: top"
_CSS_NOTES = "font-size: 12px; margin: 6px 0 0 0; max-width: 60em; text-align: left"
_TOP = "border-top: 2px solid #000"
_MID = "border-top: 1px solid #000"
_BOTTOM = "border-bottom: 2px solid #000"


def _html_cell(c: Cell, tag: str, col: int, rules: list[str]) -> str:
    align = "text-align: left" if col == 0 else "text-align: center"
    style = "; ".join([_CSS_CELL, align, *(["white-space: nowrap"] if c.num else []), *rules])
    text = html.escape(c.text)
    if c.stars:
        text += f"<sup>{html.escape(c.stars)}</sup>"
    return f'<{tag} style="{style}">{text}</{tag}>'


def _render_html(g: Grid, standalone: bool) -> str:
    lang_attr = "zh-CN" if g.lang == "zh" else "en"
    tnum = _table_number(g.table)
    if g.lang == "zh":
        caption = f"{L.text('table', 'zh')}{tnum} {g.title}" if g.table else g.title
    else:
        caption = f"{L.text('table', 'en')} {tnum}. {g.title}" if g.table else g.title
    out = [
        f'<div class="cbec-table" id="{html.escape(g.table or "table")}" lang="{lang_attr}" '
        f'style="{_CSS_WRAP}">',
        f'<table style="{_CSS_TABLE}">',
        f'<caption style="{_CSS_CAPTION}">{html.escape(caption)}</caption>',
        "<thead>",
    ]
    for i, row in enumerate(g.header):
        rules = [_TOP] if i == 0 else []
        if i == 0:
            cells = "".join(_html_cell(c, "th", j, rules) for j, c in enumerate(row))
        else:  # equal neighbouring headers span their columns
            cells = _html_cell(row[0], "th", 0, rules) + "".join(
                _html_cell(c, "th", first, rules).replace("<th ", f'<th colspan="{span}" ', 1)
                if span > 1
                else _html_cell(c, "th", first, rules)
                for first, span, c in _tex_runs(row)
            )
        out.append(f"<tr>{cells}</tr>")
    out.append("</thead>")
    out.append("<tbody>")
    body = [(si, ri, row) for si, sec in enumerate(g.sections) for ri, row in enumerate(sec)]
    for k, (_si, ri, row) in enumerate(body):
        rules = []
        if ri == 0:
            rules.append(_MID)
        if k == len(body) - 1:
            rules.append(_BOTTOM)
        cells = "".join(_html_cell(c, "td", j, rules) for j, c in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody>")
    out.append("</table>")
    if g.notes:
        lead = html.escape(L.text("notes", g.lang))
        out.append(
            f'<p style="{_CSS_NOTES}"><em>{lead}</em>{_lead_sep(g)}{html.escape(_join_notes(g))}</p>'
        )
    out.append("</div>")
    frag = "\n".join(out) + "\n"
    if not standalone:
        return frag
    return (
        f'<!DOCTYPE html>\n<html lang="{lang_attr}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(caption)}</title>\n</head>\n<body>\n{frag}</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- public API
def table_grid(
    est: Mapping[str, Any],
    *,
    stat: Literal["t", "se"] = "t",
    lang: Lang = "en",
    digits: int | None = None,
    coef_order: Sequence[str] | None = None,
    show_controls: bool = False,
    var_names: Literal["code", "label"] = "code",
    stat_digits: int | None = None,
    stats_keys: Sequence[str] | None = None,
    auto_notes: bool = True,
    row_labels: Mapping[str, Any] | None = None,
) -> Grid:
    """The format-neutral :class:`Grid` of one estimates JSON (see :func:`render_table`)."""
    if stat not in ("t", "se"):
        raise ValueError(f"stat must be 't' or 'se', got {stat!r}")
    if lang not in ("en", "zh"):
        raise ValueError(f"lang must be 'en' or 'zh', got {lang!r}")
    if var_names not in ("code", "label"):
        raise ValueError(f"var_names must be 'code' or 'label', got {var_names!r}")
    descriptive = est.get("kind") == "descriptive" or ("rows" in est and "columns" not in est)
    if descriptive:
        return _descriptive_grid(
            est,
            lang=lang,
            digits=4 if digits is None else digits,
            var_names=var_names,
            auto_notes=auto_notes,
        )
    grid = _regression_grid(
        est,
        stat=stat,
        lang=lang,
        digits=3 if digits is None else digits,
        stat_digits=stat_digits,
        coef_order=coef_order,
        show_controls=show_controls,
        var_names=var_names,
        stats_keys=stats_keys,
        auto_notes=auto_notes,
    )
    if row_labels:
        _relabel(grid, est, row_labels, lang, var_names)
    return grid


def _relabel(
    grid: Grid,
    est: Mapping[str, Any],
    row_labels: Mapping[str, Any],
    lang: Lang,
    var_names: Literal["code", "label"],
) -> None:
    """Replace the default label of each coefficient row named in ``row_labels``."""
    wanted = {L.var_label(k, lang, var_names): _loc(v, lang) for k, v in row_labels.items()}
    for sec in grid.sections:
        for row in sec:
            new = wanted.get(row[0].text)
            if new is not None and row[0].text:
                row[0] = Cell(new)


def render_table(est: Mapping[str, Any], fmt: Fmt, *, standalone: bool = False, **kw: Any) -> str:
    """Render one estimates JSON (regression or descriptive table) as tex, md or html.

    Keywords (passed to :func:`table_grid`): ``stat``: what the parentheses hold (t
    statistic, 2 decimals as in the paper, or the standard error). ``digits``: decimals of
    coefficients (default 3) or of descriptive statistics (default 4, as Table 1).
    ``coef_order``: coefficient rows listed first, the remaining rows follow (treatment,
    interactions, instruments, others, controls). ``show_controls``: hide the control
    coefficients behind a "Controls: Yes/控制" row (a Controls row also appears when a column
    declares controls whose coefficients are absent). ``var_names``: row labels as the
    paper's variable codes or descriptive labels (names the paper does not print are always
    labelled). ``stats_keys``: which ``stats`` entries to show (default: the known ones
    present). ``auto_notes``: append what the parentheses hold, how N arises, clustering,
    stars and suppression. ``row_labels``: coefficient name -> label (str or by language).
    ``standalone``: wrap tex in a minimal document / html in a complete page.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    grid = table_grid(est, **kw)
    if fmt == "tex":
        return _render_tex(grid, standalone)
    if fmt == "md":
        return _render_md(grid)
    return _render_html(grid, standalone)


def write_table(est: Mapping[str, Any], out_paths: Mapping[str, Path | str], **kw: Any) -> None:
    """Render ``est`` into every format in ``out_paths`` (``{"tex": path, "md": ..}``).

    All formats are rendered before anything is written; each file is written atomically
    (temporary file in the target directory, then rename). ``kw`` go to :func:`render_table`.
    """
    bad = [k for k in out_paths if k not in FORMATS]
    if bad:
        raise ValueError(f"unknown output format(s) {bad}; expected keys among {FORMATS}")
    rendered = {fmt: render_table(est, fmt, **kw) for fmt in out_paths}  # type: ignore[arg-type]
    for fmt, path in out_paths.items():
        write_text_atomic(rendered[fmt], path)

"""Rendering of estimates JSON into LaTeX / Markdown / HTML tables.

Fixtures use the paper's published numbers (Tables 1, 2, 5 and 7): coefficients and t
statistics as printed, p-values from the two-sided normal tail of t, so the stars the renderer
derives must equal the stars the paper prints.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from scipy import stats as st

from cbec.tables import labels as L
from cbec.tables.render import escape_tex, render_table, stars, write_table

FE = ["firm_id", "ind2^year", "city^year"]


def _c(b: float, t: float) -> dict:
    """Coefficient entry from the paper's (b, t); p from the normal tail, se = b / t."""
    return {"b": b, "se": b / t, "t": t, "p": float(2 * st.norm.sf(abs(t)))}


@pytest.fixture
def table2() -> dict:
    """Paper Table 2 (baseline)."""
    controls = {
        "lnqygm": _c(0.013, 3.41),
        "lnage": _c(0.037, 1.98),
        "percs": _c(0.226, 2.03),
        "sfgyqy": _c(0.172, 1.60),
        "sfwzqy": _c(0.214, 4.25),
        "fc": _c(0.034, 2.06),
    }
    cols = [
        {"coef": {"platform": _c(0.091, 5.42)}, "r2": 0.636, "controls": False},
        # controls listed before the treatment: the renderer must still put platform first
        {"coef": {**controls, "platform": _c(0.090, 5.45)}, "r2": 0.638, "controls": True},
    ]
    for i, c in enumerate(cols):
        c.update(
            label=f"({i + 1})",
            depvar="cu",
            estimator="feols",
            fixed_effects=FE,
            vcov="CRV1:firm_id",
            nobs=233819,
        )
    # round trip through JSON text, as the pipeline reads it
    return json.loads(
        json.dumps({"table": "table2", "title": "Baseline regressions", "columns": cols})
    )


@pytest.fixture
def table5() -> dict:
    """Paper Table 5 (IV): first stages (1), (3) and 2SLS (2), (4) with KP statistics."""
    ctrl = {"lnqygm": _c(0.012, 3.0)}
    base = {"fixed_effects": FE, "vcov": "CRV1:firm_id", "controls": True}
    cols = [
        {
            "depvar": "platform",
            "estimator": "first_stage",
            "coef": {**ctrl, "iv_dist": _c(0.516, 3.62)},
            "nobs": 233819,
        },
        {
            "depvar": "cu",
            "estimator": "iv2sls",
            "coef": {**ctrl, "platform": _c(0.049, 3.31)},
            "nobs": 233819,
            "stats": {"kp_lm": 20.824, "kp_wald_f": 155.237},
        },
        {
            "depvar": "platform",
            "estimator": "first_stage",
            "coef": {**ctrl, "iv_bartik": _c(0.246, 4.15)},
            "nobs": 218092,
        },
        {
            "depvar": "cu",
            "estimator": "iv2sls",
            "coef": {**ctrl, "platform": _c(0.061, 2.75)},
            "nobs": 218092,
            "stats": {
                "kp_lm": 24.390,
                "kp_wald_f": 180.193,
                "wild_p": 0.012,
                "wild_ci": [0.011, 0.104],
            },
        },
    ]
    for i, c in enumerate(cols):
        c.update(base, label=f"({i + 1})")
    return {"table": "table5", "title": "Instrumental-variable estimates", "columns": cols}


@pytest.fixture
def table7() -> dict:
    """Paper Table 7 (heterogeneity), interactions as pyfixest names them."""
    specs = [
        ("sfhighict", 0.483, 2.17, 0.328, 4.11, 233819),
        ("sfold", 0.012, 1.76, 0.184, 5.26, 233819),
        ("sfhighscore", 0.091, 1.80, 0.152, 2.49, 121258),
    ]
    cols = []
    for i, (h, b, t, bi, ti, n) in enumerate(specs):
        cols.append(
            {
                "label": f"({i + 1})",
                "depvar": "cu",
                "estimator": "feols",
                "fixed_effects": FE,
                "vcov": "CRV1:firm_id",
                # the dummy itself and a control come before the treatment in the JSON
                "coef": {
                    h: _c(0.01, 0.5),
                    "lnqygm": _c(0.01, 3.0),
                    f"platform:{h}": _c(bi, ti),
                    "platform": _c(b, t),
                },
                "nobs": n,
                "r2": 0.6,
                "controls": True,
            }
        )
    return {"table": "table7", "title": "Heterogeneity", "columns": cols}


@pytest.fixture
def table1() -> dict:
    """Paper Table 1 with one suppressed cell pair (confidentiality)."""
    rows = [
        ("cu", 0.7381, 0.1259, 0.9615, 0.3004),
        ("platform", 0.1026, 0.3035, 1.0, 0.0),
        ("lnqygm", 2.3756, 0.4163, 2.7707, 1.9553),
        ("fc", 0.0531, 0.1034, None, None),
    ]
    return {
        "table": "table1",
        "kind": "descriptive",
        "rows": [
            {"var": v, "n": 233819, "mean": m, "sd": s, "max": mx, "min": mn}
            for v, m, s, mx, mn in rows
        ],
        "suppressed": [{"var": "fc", "stat": ["max", "min"], "reason": "fewer than 3 firms"}],
    }


def _md_row(md: str, label: str) -> list[str]:
    """Cells of the first Markdown row whose first cell equals ``label``."""
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] == label:
                return cells[1:]
    raise AssertionError(f"row {label!r} not found in\n{md}")


def _md_rows_after(md: str, label: str) -> list[str]:
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    for i, line in enumerate(lines):
        if line.strip("| ").split("|")[0].strip() == label:
            return [c.strip() for c in lines[i + 1].strip().strip("|").split("|")][1:]
    raise AssertionError(label)


# --------------------------------------------------------------------------- stars and numbers
@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (1e-7, "***"),
        (0.0099, "***"),
        (0.01, "**"),
        (0.049, "**"),
        (0.05, "*"),
        (0.099, "*"),
        (0.1, ""),
        (0.5, ""),
        (None, ""),
    ],
)
def test_stars_thresholds(p, expected):
    assert stars(p) == expected


def test_table2_md_reproduces_paper_cells(table2):
    md = render_table(table2, "md")
    # paper Table 2 as printed: coefficient + stars, t in parentheses with 2 decimals
    assert _md_row(md, "platform") == ["0.091***", "0.090***"]
    assert _md_rows_after(md, "platform") == ["(5.42)", "(5.45)"]
    paper = {
        "lnqygm": "0.013***",
        "lnage": "0.037**",
        "percs": "0.226**",
        "sfgyqy": "0.172",
        "sfwzqy": "0.214***",
        "fc": "0.034**",
    }
    for var, cell in paper.items():
        assert _md_row(md, var) == ["", cell], var
    assert _md_rows_after(md, "lnage") == ["", "(1.98)"]
    assert _md_rows_after(md, "sfgyqy") == ["", "(1.60)"]
    assert _md_row(md, "Observations") == ["233,819", "233,819"]
    assert _md_row(md, "R²") == ["0.636", "0.638"]
    for fe in ("Firm FE", "Industry×year FE", "City×year FE"):
        assert _md_row(md, fe) == ["Yes", "Yes"]
    assert _md_row(md, "Variable") == ["(1)", "(2)"]
    assert _md_row(md, "") == ["Capacity utilization", "Capacity utilization"]  # depvar header
    assert md.startswith("**Table 2. Baseline regressions**\n")
    assert "t statistics in parentheses" in md and "clustered at the firm level" in md
    assert r"\*\*\* p<0.01, \*\* p<0.05, \* p<0.1" in md
    # row order: treatment first although it came last in column (2)
    labels = [ln.split("|")[1].strip() for ln in md.splitlines() if ln.startswith("|")]
    coef_labels = [x for x in labels if x in {"platform", *L.CONTROLS}]
    assert coef_labels == ["platform", "lnqygm", "lnage", "percs", "sfgyqy", "sfwzqy", "fc"]
    # GitHub pipe table: every table line has the same number of pipes
    table_lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len({ln.count("|") for ln in table_lines}) == 1
    assert re.fullmatch(r"\| -+ \| :-+: \| :-+: \|", table_lines[1])


def test_table2_chinese_labels(table2):
    md = render_table(table2, "md", lang="zh")
    assert md.startswith("**表2 基准回归结果**")
    assert _md_row(md, "企业固定效应") == ["控制", "控制"]
    assert _md_row(md, "行业时间固定效应") == ["控制", "控制"]
    assert _md_row(md, "地区时间固定效应") == ["控制", "控制"]
    assert _md_row(md, "观测值") == ["233,819", "233,819"]
    assert _md_row(md, "") == ["企业产能利用率", "企业产能利用率"]
    assert "括号内为t统计值" in md and "在企业层面聚类" in md


def test_se_option_and_digits(table2):
    md = render_table(table2, "md", stat="se")
    # se = b / t = 0.091 / 5.42 = 0.01679 -> (0.017)
    assert _md_rows_after(md, "platform") == ["(0.017)", "(0.017)"]
    assert "Standard errors in parentheses" in md
    md4 = render_table(table2, "md", stat="se", digits=4)
    assert _md_row(md4, "platform") == ["0.0910***", "0.0900***"]
    assert _md_rows_after(md4, "platform") == ["(0.0168)", "(0.0165)"]


def test_t_computed_from_se_when_missing(table2):
    est = copy.deepcopy(table2)
    del est["columns"][0]["coef"]["platform"]["t"]
    est["columns"][0]["coef"]["platform"]["se"] = 0.091 / 5.424
    assert _md_rows_after(render_table(est, "md"), "platform")[0] == "(5.42)"


def test_show_controls_hides_controls(table2):
    md = render_table(table2, "md", show_controls=True)
    assert _md_row(md, "Controls") == ["No", "Yes"]
    for var in L.CONTROLS:
        assert f"| {var} " not in md
    assert "Controls: lnqygm" in md
    zh = render_table(table2, "md", show_controls=True, lang="zh")
    assert _md_row(zh, "控制变量") == ["未控制", "控制"]


def test_controls_row_when_coefficients_absent(table2):
    est = copy.deepcopy(table2)
    est["columns"][1]["coef"] = {"platform": est["columns"][1]["coef"]["platform"]}
    md = render_table(est, "md")  # column declares controls but none are stored
    assert _md_row(md, "Controls") == ["No", "Yes"]


def test_fixed_effect_rows_from_columns(table2):
    est = copy.deepcopy(table2)
    est["columns"][0]["fixed_effects"] = "firm_id+year^ind2"  # pyfixest string, reversed order
    md = render_table(est, "md")
    assert _md_row(md, "Firm FE") == ["Yes", "Yes"]
    assert _md_row(md, "Industry×year FE") == ["Yes", "Yes"]
    assert _md_row(md, "City×year FE") == ["No", "Yes"]


def test_coef_order_override(table2):
    md = render_table(table2, "md", coef_order=["fc", "platform"])
    labels = [ln.split("|")[1].strip() for ln in md.splitlines() if ln.startswith("|")]
    coefs = [x for x in labels if x in {"platform", *L.CONTROLS}]
    assert coefs[:3] == ["fc", "platform", "lnqygm"]


def test_table5_iv_layout(table5):
    md = render_table(table5, "md", show_controls=True)
    assert _md_row(md, "Estimator") == ["First stage", "2SLS", "First stage", "2SLS"]
    assert _md_row(md, "") == ["Cross-border e-commerce platform", "Capacity utilization"] * 2
    assert _md_row(md, "platform") == ["", "0.049***", "", "0.061***"]
    iv1 = L.VARIABLES["iv_dist"]["en"]
    iv2 = L.VARIABLES["iv_bartik"]["en"]
    assert _md_row(md, iv1) == ["0.516***", "", "", ""]
    assert _md_rows_after(md, iv2) == ["", "", "(4.15)", ""]
    assert _md_row(md, "Kleibergen-Paap rk LM statistic") == ["", "20.824", "", "24.390"]
    assert _md_row(md, "Kleibergen-Paap rk Wald F statistic") == ["", "155.237", "", "180.193"]
    assert _md_row(md, "Wild-bootstrap p-value") == ["", "", "", "0.012"]
    assert _md_row(md, "Wild-bootstrap 95% CI") == ["", "", "", "[0.011, 0.104]"]
    assert _md_row(md, "Observations") == ["233,819", "233,819", "218,092", "218,092"]
    assert "R²" not in md  # no column reports R², as in the paper's Table 5
    labels = [ln.split("|")[1].strip() for ln in md.splitlines() if ln.startswith("|")]
    assert labels.index("platform") < labels.index(iv1) < labels.index(iv2)
    zh = render_table(table5, "md", lang="zh", show_controls=True)
    assert _md_row(zh, "Kleibergen-Paap rk LM统计量") == ["", "20.824", "", "24.390"]
    assert _md_row(zh, "估计方法") == ["第一阶段", "2SLS", "第一阶段", "2SLS"]


def test_table7_interactions(table7):
    md = render_table(table7, "md", show_controls=True)
    labels = [ln.split("|")[1].strip() for ln in md.splitlines() if ln.startswith("|")]
    coefs = [x for x in labels if x and x[0].islower()]
    assert coefs[:4] == [
        "platform",
        "platform × sfhighict",
        "platform × sfold",
        "platform × sfhighscore",
    ]
    # paper Table 7: 0.483** (2.17), 0.012* (1.76), 0.091* (1.80); 0.328*** 0.184*** 0.152**
    assert _md_row(md, "platform") == ["0.483**", "0.012*", "0.091*"]
    assert _md_rows_after(md, "platform") == ["(2.17)", "(1.76)", "(1.80)"]
    assert _md_row(md, "platform × sfhighscore") == ["", "", "0.152**"]
    assert _md_row(md, "Observations") == ["233,819", "233,819", "121,258"]
    tex = render_table(table7, "tex")
    assert r"platform $\times$ sfhighict" in tex


def test_null_cells_regression(table2):
    est = copy.deepcopy(table2)
    est["columns"][1]["coef"]["fc"]["b"] = None
    est["columns"][1]["nobs"] = None
    md = render_table(est, "md")
    assert _md_row(md, "fc") == ["", "—"]
    assert _md_row(md, "Observations") == ["233,819", "—"]
    assert "— denotes a value suppressed for confidentiality" in md


# --------------------------------------------------------------------------- descriptive table
def test_table1_descriptive(table1):
    md = render_table(table1, "md")
    assert _md_row(md, "Variable") == ["Obs.", "Mean", "S.D.", "Max", "Min"]
    assert _md_row(md, "cu") == ["233,819", "0.7381", "0.1259", "0.9615", "0.3004"]
    assert _md_row(md, "platform") == ["233,819", "0.1026", "0.3035", "1.0000", "0.0000"]
    assert _md_row(md, "fc") == ["233,819", "0.0531", "0.1034", "—", "—"]
    assert "suppressed for confidentiality" in md and "fc (max, min): fewer than 3 firms" in md
    tex = render_table(table1, "tex")
    assert r"fc & 233,819 & 0.0531 & 0.1034 & --- & --- \\" in tex
    html = render_table(table1, "html")
    assert "<td" in html and "—</td>" in html and "suppressed for confidentiality" in html
    zh = render_table(table1, "md", lang="zh")
    assert _md_row(zh, "变量") == ["观测值", "均值", "标准差", "最大值", "最小值"]
    assert "因数据保密要求未予报告" in zh
    assert _md_row(render_table(table1, "md", digits=2), "cu")[1] == "0.74"


# --------------------------------------------------------------------------- LaTeX
def test_tex_structure_and_escaping(table2):
    est = copy.deepcopy(table2)
    est["title"] = "Growth & 50% of #exports_total"
    est["columns"][1]["coef"]["ln_export"] = {"b": -0.0124, "se": 0.005, "t": -2.48, "p": 0.013}
    tex = render_table(est, "tex")
    assert tex.count(r"\toprule") == 1 and tex.count(r"\bottomrule") == 1
    assert tex.count(r"\midrule") == 3
    assert r"\begin{tabular}{@{}>{\raggedright" in tex and r"\begin{table}" in tex
    assert r"\caption{Growth \& 50\% of \#exports\_total}" in tex
    assert r"Export value (ln) &  & $-$0.012$^{**}$ \\" in tex
    assert r" &  & ($-$2.48) \\" in tex
    assert r"platform & 0.091$^{***}$ & 0.090$^{***}$ \\" in tex
    assert r" & (5.42) & (5.45) \\" in tex
    assert r"Observations & 233,819 & 233,819 \\" in tex
    assert r"Industry$\times$year FE & Yes & Yes \\" in tex
    assert "p\\textless{}0.01" in tex
    assert tex.isascii()  # English output needs no CJK/unicode support
    # every tabular row has the same number of column separators
    rows = tex.split(r"\toprule")[1].split(r"\bottomrule")[0]
    body = [ln for ln in rows.splitlines() if ln.endswith(r"\\")]
    spans = [sum(int(k) - 1 for k in re.findall(r"\\multicolumn\{(\d+)\}", ln)) for ln in body]
    assert {ln.replace(r"\&", "").count("&") + k for ln, k in zip(body, spans, strict=True)} == {2}
    # equal neighbouring headers span their columns, with a rule below
    assert r"\multicolumn{2}" in tex and r"\cmidrule" not in tex  # the last header row: no rule
    tex5 = render_table(_with_headers(), "tex")
    assert r"\cmidrule(lr){2-3}" in tex5 and r"\cmidrule(lr){4-5}" in tex5


def test_escape_tex():
    assert escape_tex(r"a_b & c% #1 {x} ~^\ ") == (
        r"a\_b \& c\% \#1 \{x\} \textasciitilde{}\textasciicircum{}\textbackslash{} "
    )


def test_tex_chinese_mentions_xecjk(table2):
    tex = render_table(table2, "tex", lang="zh")
    assert "xeCJK" in tex and "企业固定效应 & 控制 & 控制" in tex
    assert "xeCJK" not in render_table(table2, "tex")
    doc = render_table(table2, "tex", lang="zh", standalone=True)
    assert doc.startswith(r"\documentclass{article}") and r"\usepackage{xeCJK}" in doc


def _compile(tex_doc: str, engine: str, tmp_path: Path) -> subprocess.CompletedProcess:
    (tmp_path / "t.tex").write_text(tex_doc, encoding="utf-8")
    return subprocess.run(
        [engine, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _en_document(frags: list[str]) -> str:
    """An article holding the given table fragments (English: pdflatex)."""
    return (
        "\\documentclass{article}\n\\usepackage{booktabs,array}\n\\begin{document}\n"
        + "\n".join(frags)
        + "\\end{document}\n"
    )


def _log_after_compile(doc: str, engine: str, tmp_path: Path) -> str:
    """Compile ``doc``; assert it compiled without an overfull box; return the log."""
    res = _compile(doc, engine, tmp_path)
    assert res.returncode == 0, res.stdout[-3000:]
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log, log[log.find("Overfull") - 200 :][:1500]
    return log


def _with_headers() -> dict:
    """Four columns, two groups of two under one header each, different dependent variables."""
    cols = []
    for i, (dv, head) in enumerate(
        [("platform", "A"), ("cu", "A"), ("platform", "B"), ("cu", "B")]
    ):
        cols.append(
            {"label": f"({i + 1})", "depvar": dv, "header": head, "coef": {"x": _c(0.1, 2.0)}}
        )
    return {"table": "table5", "columns": cols}


def _wide_table() -> dict:
    """Six columns with long dependent-variable labels, long headers and negative starred
    coefficients (the shape of the paper's Table 6, wider)."""
    cols = []
    for i, dv in enumerate(
        ["tfp_lp", "tfp_op", "newprod_share", "ln_export", "ln_markets", "n_products"]
    ):
        cols.append(
            {
                "label": f"({i + 1})",
                "depvar": dv,
                "header": "Distance to Hangzhou x IT revenue",
                "estimator": "feols",
                "fixed_effects": ["firm_id", "ind2^year", "city^year"],
                "vcov": "CRV1:firm_id",
                "coef": {
                    "platform": _c(-0.1234, -12.34),
                    "iv_dist": _c(-0.0123, -2.1),
                    "platform:sfhighict": _c(0.3284, 4.11),
                },
                "nobs": 1233819,
                "r2": 0.71,
                "stats": {"wild_ci": [-0.1234, 0.9876], "n_clusters": 123456},
            }
        )
    return {"table": "table6", "title": "Mechanisms", "columns": cols}


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not on PATH")
def test_tex_compiles_pdflatex_and_fits(table2, table5, table1, tmp_path):
    """Every table compiles and no box is wider than the text (no "Overfull \\hbox")."""
    frags = [
        render_table(table2, "tex"),
        render_table(table5, "tex", show_controls=True, stat="se"),
        render_table(table1, "tex"),
        render_table(_wide_table(), "tex"),
    ]
    _log_after_compile(_en_document(frags), "pdflatex", tmp_path)
    assert (tmp_path / "t.pdf").exists()


@pytest.mark.skipif(shutil.which("xelatex") is None, reason="xelatex not on PATH")
def test_tex_compiles_xelatex_chinese(table2, table5, tmp_path):
    """Chinese tables compile with XeLaTeX + xeCJK, every glyph is found and nothing overflows."""
    for est in (table2, table5):
        doc = render_table(est, "tex", lang="zh", standalone=True)
        log = _log_after_compile(doc, "xelatex", tmp_path)
        assert "Missing character" not in log, log[log.find("Missing character") - 200 :][:800]


# --------------------------------------------------------------------------- HTML
def test_html_self_contained(table2):
    est = copy.deepcopy(table2)
    est["notes"] = "Sample <2008 & >2010"
    html = render_table(est, "html")
    assert html.startswith('<div class="cbec-table"') and html.rstrip().endswith("</div>")
    assert "0.091<sup>***</sup>" in html and ">(5.42)</td>" in html and ">233,819</td>" in html
    assert "Sample &lt;2008 &amp; &gt;2010" in html
    for bad in ("http://", "https://", "<link", "<script", "src=", "@import", "url("):
        assert bad not in html
    assert html.count("<tr>") == 2 + 2 * 7 + 3 + 2  # 2 header rows, 7 coefs × 2, 3 FE, N and R²
    assert "border-top: 2px solid" in html and "border-bottom: 2px solid" in html
    page = render_table(est, "html", standalone=True, lang="zh")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert 'lang="zh-CN"' in page and "企业固定效应" in page


def test_md_escapes_pipes(table2):
    est = copy.deepcopy(table2)
    est["columns"][0]["coef"]["a|b"] = {"b": 1.0, "se": 1.0, "t": 1.0, "p": 0.3}
    md = render_table(est, "md")
    assert r"| a\|b " in md
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len({ln.count("|") - ln.count(r"\|") for ln in lines}) == 1


# --------------------------------------------------------------------------- write_table
def test_write_table_atomic(table2, tmp_path):
    out = {f: tmp_path / "tables" / f"table2.{f}" for f in ("tex", "md", "html")}
    write_table(table2, out, lang="en", show_controls=True)
    for f, p in out.items():
        assert p.read_text(encoding="utf-8") == render_table(table2, f, show_controls=True)
    assert sorted(x.name for x in (tmp_path / "tables").iterdir()) == [
        "table2.html",
        "table2.md",
        "table2.tex",
    ]
    with pytest.raises(ValueError, match="unknown output format"):
        write_table(table2, {"pdf": tmp_path / "x.pdf"})
    # a rendering error writes nothing and leaves no temporary files
    bad = {"table": "table9", "columns": []}
    with pytest.raises(ValueError, match="non-empty"):
        write_table(bad, {"md": tmp_path / "t9" / "table9.md"})
    assert not (tmp_path / "t9").exists() or not any((tmp_path / "t9").iterdir())


def test_bad_arguments(table2):
    with pytest.raises(ValueError):
        render_table(table2, "pdf")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        render_table(table2, "md", stat="z")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- labels
REQUIRED = [
    "cu", "cu_sfa_cd", "cu_sfa_tl", "platform", "platform_mic", "lnqygm", "lnage", "sfgyqy",
    "sfwzqy", "percs", "fc", "tfp_lp", "tfp_op", "newprod_share", "ln_export", "n_markets",
    "n_products", "sfhighict", "sfold", "sfhighscore", "iv_dist", "iv_bartik", "ln_markets",
    "ln_products", "att",
]  # fmt: skip


def test_labels_complete():
    for v in REQUIRED:
        assert L.VARIABLES[v]["en"] and L.VARIABLES[v]["zh"], v
        assert any("\u4e00" <= ch <= "\u9fff" for ch in L.VARIABLES[v]["zh"]) or v in (
            "tfp_lp",
            "tfp_op",
            "iv_bartik",
        ), v
    assert L.var_label("platform:sfhighict", "en", "code") == "platform × sfhighict"
    assert L.var_label("platform:sfhighict", "zh") == "跨境电商平台 × 网络基础设施建设水平"
    assert L.var_label("cu", "zh") == "企业产能利用率"
    assert L.fe_label("firm_id", "zh") == "企业固定效应"
    assert L.fe_label("ind2^year", "zh") == "行业时间固定效应"
    assert L.fe_label("city^year", "zh") == "地区时间固定效应"
    assert L.fe_label("city^year", "en") == "City×year FE"
    assert L.stat_label("wild_p") == "Wild-bootstrap p-value"
    assert L.split_fixed_effects("firm_id+year^ind2") == ["firm_id", "ind2^year"]


def test_localized_title_notes_and_column_headers(table2):
    est = copy.deepcopy(table2)
    est["title"] = {"en": "Robustness", "zh": "指标替换的稳健性检验"}
    est["notes"] = {
        "en": "Sample 2001-2007, 2011-2015.",
        "zh": "样本期为2001—2007年和2011—2015年。",
    }
    est["columns"][0]["header"] = {"en": "Made-in-China.com", "zh": "中国制造网"}
    est["columns"][1]["header"] = "SFA"
    en = render_table(est, "md")
    assert en.startswith("**Table 2. Robustness**")
    assert "*Notes*: Sample 2001-2007, 2011-2015. t statistics" in en
    assert _md_row(en, "") == ["Made-in-China.com", "SFA"]  # extra header row before depvar
    zh = render_table(est, "md", lang="zh")
    assert zh.startswith("**表2 指标替换的稳健性检验**")
    assert "*注*:样本期为2001—2007年和2011—2015年。括号内为t统计值" in zh
    assert _md_row(zh, "") == ["中国制造网", "SFA"]
    # an English plain-string title falls back to the paper's Chinese title in zh
    assert render_table(table2, "md", lang="zh").startswith("**表2 基准回归结果**")


@pytest.mark.parametrize("method", ["exact (projection)", "fast"])
def test_wild_bootstrap_method_in_notes(table2, method):
    """The note says how the wild bootstrap treated the fixed effects, in both languages."""
    est = copy.deepcopy(table2)
    est["columns"][1]["stats"] = {
        "wild_p": 0.001,
        "wild_ci": [0.06, 0.12],
        "wild_reps": 999,
        "wild_method": method,
        "wild_weights": "webb",
    }
    en = render_table(est, "md", lang="en")
    assert "Column (2): restricted wild cluster bootstrap (999 draws, Webb weights" in en
    assert ("projected on all fixed effects again" in en) == (method != "fast")
    assert ("an approximation" in en) == (method == "fast")
    zh = render_table(est, "md", lang="zh")
    assert "第(2)列的wild bootstrap" in zh and ("近似" in zh) == (method == "fast")
    assert "wild cluster bootstrap" not in render_table(table2, "md", lang="en")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not on PATH")
@pytest.mark.slow
def test_workflow_tex_compiles_and_fits(tiny_run, tmp_path):
    """The tables of the session's tiny workflow run (English) compile and fit \\textwidth."""
    frags = sorted((tiny_run / "results" / "tables").glob("*.tex"))
    assert len(frags) >= 8
    texts = [f.read_text(encoding="utf-8") for f in frags]
    if not all(t.isascii() for t in texts):
        pytest.skip("tables rendered with lang: zh need xelatex")
    _log_after_compile(_en_document(texts), "pdflatex", tmp_path)


def test_absorbed_controls_named_not_listed(table5):
    est = copy.deepcopy(table5)
    for c in est["columns"]:
        c["absorbed"] = ["sfgyqy", "sfwzqy"]
    md = render_table(est, "md", show_controls=True)
    assert "In columns (1), (2), (3), (4), sfgyqy and sfwzqy are absorbed by the fixed" in md
    controls = md.split("Controls: ")[1].split(" (coefficients")[0]
    assert "sfgyqy" not in controls and "lnqygm" in controls
    zh = render_table(est, "md", lang="zh", show_controls=True)
    assert "第(1)、(2)、(3)、(4)列中,sfgyqy、sfwzqy被固定效应吸收" in zh


def test_html_group_headers_span_their_columns():
    html = render_table(_with_headers(), "html")
    assert html.count('<th colspan="2" ') == 2  # header A over (1)-(2), B over (3)-(4)
    rows = [r for r in html.split("<tr>")[1:]]
    widths = []
    for r in rows:
        spans = [int(x) for x in re.findall(r'colspan="(\d+)"', r)]
        widths.append(r.count("<th") + r.count("<td") + sum(k - 1 for k in spans))
    assert set(widths) == {5}


def test_config_headers_by_language(base_config):
    """A column header in config.yaml is a string (translated when labels.HEADERS knows it)
    or given per language; both pass the schema."""
    from cbec.config import validate_config
    from cbec.errors import ConfigError

    assert L.header_label("No firm FE", "zh") == "无企业固定效应"
    assert L.header_label({"en": "Exporters", "zh": "出口企业"}, "zh") == "出口企业"
    assert L.header_label({"en": "Exporters"}, "zh") == "Exporters"
    assert L.header_label("Something new", "zh") == "Something new"
    cfg = copy.deepcopy(base_config)
    cfg["tables"]["specs"]["table2"]["columns"][0]["header"] = {"en": "A", "zh": "甲"}
    validate_config(cfg)
    cfg["tables"]["specs"]["table2"]["columns"][0]["header"] = {"fr": "A"}
    with pytest.raises(ConfigError):
        validate_config(cfg)

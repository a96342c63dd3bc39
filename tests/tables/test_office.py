"""Word and Excel tables: the cells equal the estimates JSON; three-line layout; reproducible
bytes; no internal names in any rendered format."""

from __future__ import annotations

import io
import re

import pytest
from docx import Document
from openpyxl import load_workbook

from cbec.tables import labels as L
from cbec.tables.event_notes import event_study_render
from cbec.tables.office import docx_bytes, xlsx_bytes
from cbec.tables.render import render_table, stars, table_grid


def _c(b: float, se: float, p: float) -> dict:
    return {"b": b, "se": se, "t": b / se, "p": p}


@pytest.fixture
def est() -> dict:
    ctrl = {"lnqygm": _c(0.021, 0.004, 0.0), "lnage": _c(-0.0031, 0.002, 0.12)}
    col = {
        "depvar": "cu",
        "estimator": "feols",
        "fixed_effects": ["firm_id", "ind2^year", "city^year"],
        "vcov": "CRV1:firm_id",
        "controls": True,
        "stats": {"n_clusters": 41234, "dropped_singletons": 1234, "r2_within": 0.01},
    }
    return {
        "table": "table2",
        "title": "Baseline regressions",
        "columns": [
            {**col, "label": "(1)", "coef": {"platform": _c(0.0912, 0.0168, 0.00002)},
             "nobs": 233819, "r2": 0.636},
            {**col, "label": "(2)", "coef": {"platform": _c(0.0871, 0.0301, 0.004), **ctrl},
             "nobs": 218906, "r2": 0.638, "header": "No firm FE"},
        ],
    }  # fmt: skip


def _expected(c: dict) -> tuple[str, str]:
    return f"{c['b']:.3f}{stars(c['p'])}", f"({c['t']:.2f})"


def _docx_rows(data: bytes) -> tuple[list[list[str]], list[str]]:
    doc = Document(io.BytesIO(data))
    (table,) = doc.tables
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    return rows, [p.text for p in doc.paragraphs]


def _row(rows: list[list[str]], label: str) -> list[str]:
    for r in rows:
        if r[0] == label:
            return r[1:]
    raise AssertionError(f"no row {label!r} in {rows}")


def _row_after(rows: list[list[str]], label: str) -> list[str]:
    for i, r in enumerate(rows):
        if r[0] == label:
            return rows[i + 1][1:]
    raise AssertionError(label)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_docx_cells_equal_json(est, lang):
    data = docx_bytes(table_grid(est, lang=lang, show_controls=True))
    rows, paragraphs = _docx_rows(data)
    b1, t1 = _expected(est["columns"][0]["coef"]["platform"])
    b2, t2 = _expected(est["columns"][1]["coef"]["platform"])
    assert _row(rows, "platform") == [b1, b2]
    assert _row_after(rows, "platform") == [t1, t2]
    nobs = L.text("nobs", lang)
    assert _row(rows, nobs) == [f"{c['nobs']:,}" for c in est["columns"]]
    assert _row(rows, L.stat_label("n_clusters", lang)) == ["41,234", "41,234"]
    assert _row(rows, L.fe_label("firm_id", lang)) == [L.text("yes", lang)] * 2
    assert rows[1][2] == L.HEADERS["No firm FE"][lang]
    assert paragraphs[0] == (
        "表2 基准回归结果" if lang == "zh" else "Table 2. Baseline regressions"
    )
    assert paragraphs[-1].startswith(L.text("notes", lang)) and "1,234" in paragraphs[-1]


def test_docx_three_line_rules(est):
    doc = Document(io.BytesIO(docx_bytes(table_grid(est))))
    xml = doc.tables[0]._tbl.xml
    # a thick rule over the 3 cells of the first row, a thin one under the header's last row
    # (its 2 cells: the dependent variable spans both columns), a thick one under the 3 cells
    # of the last row
    assert xml.count('w:val="single"') == 3 + 2 + 3
    assert xml.count('<w:gridSpan w:val="2"/>') == 1
    assert "w:left " not in xml and "w:insideV" not in xml  # no vertical rules


def test_office_files_reproducible(est):
    g = table_grid(est)
    assert docx_bytes(g) == docx_bytes(g)
    assert xlsx_bytes({"table2": g}) == xlsx_bytes({"table2": g})


def test_xlsx_one_sheet_per_table(est):
    g2 = table_grid(est, lang="zh")
    g3 = table_grid({**est, "table": "table3"})
    wb = load_workbook(io.BytesIO(xlsx_bytes({"table2": g2, "table3": g3})))
    assert wb.sheetnames == ["table2", "table3"]
    ws = wb["table2"]
    rows = [[("" if v is None else str(v)) for v in r] for r in ws.iter_rows(values_only=True)]
    assert rows[0][0] == "表2 基准回归结果"
    b1, _ = _expected(est["columns"][0]["coef"]["platform"])
    assert _row(rows, "platform")[0] == b1
    assert _row(rows, "观测值") == ["233,819", "218,906"]
    assert rows[-1][0].startswith("注:")


# ------------------------------------------------------------------ no internal names
_INTERNAL = re.compile(
    r"\b(?:rel_-?\d+|att|pretrend_[fp]|n_clusters|ln_markets|ln_products|iv_dist|iv_bartik|"
    r"feols_weighted|feols|iv2sls|first_stage|twfe|static_twfe|sun_abraham|did2s|"
    r"platform_mic|cu_sfa_cd|cu_sfa_tl|tfp_lp|tfp_op|newprod_share|ln_export|firm_id|"
    r"dropped_singletons|wild_p|wild_ci|kp_lm|kp_wald_f|r2_within)\b"
)


def _event_study_est() -> dict:
    coef = {f"rel_{k}": _c(0.01 * k, 0.01, 0.2) for k in (-5, -3, -2, 0, 1, 5)}
    cols = []
    for i, key in enumerate(["twfe", "sun_abraham", "did2s"]):
        cols.append(
            {
                "label": f"({i + 1})",
                "header": key,
                "depvar": "cu",
                "estimator": key,
                "fixed_effects": ["firm_id", "year"],
                "vcov": "CRV1:firm_id",
                "coef": {**coef, "att": _c(0.09, 0.01, 0.0001)},
                "nobs": 5145,
                "stats": {"pretrend_f": 1.8, "pretrend_p": 0.0004, "n_clusters": 700},
            }
        )
    cols.append(
        {
            "label": "(4)",
            "header": "Static TWFE",
            "depvar": "cu",
            "estimator": "static_twfe",
            "fixed_effects": ["firm_id", "year"],
            "vcov": "CRV1:firm_id",
            "coef": {"att": _c(0.095, 0.01, 0.0)},
            "nobs": 5145,
            "stats": {"n_clusters": 700},
        }
    )
    notes = [
        "12 firms joining after 2015 coded as never treated",
        "did2s: dropped 1234 untreated singleton firm-years",
        "static_twfe: did not accept the paper's fixed effects (ValueError: boom); firm + year FE",
        "rel_k: effect k years after joining (reference k = -1); pretrend_f / pretrend_p",
    ]
    return {"table": "table8", "title": "Event study", "columns": cols, "window": [-5, 5],
            "ref": -1, "notes": notes}  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_internal_names_in_any_format(est, lang):
    es, options = event_study_render(_event_study_est())
    psm = {**est, "table": "table4", "columns": [
        {**c, "estimator": "feols_weighted", "depvar": "ln_markets"} for c in est["columns"]
    ]}  # fmt: skip
    for table, kw in ((est, {}), (es, options), (psm, {})):
        for fmt in ("md", "html", "tex"):
            out = render_table(table, fmt, lang=lang, **kw)
            assert not _INTERNAL.search(out.replace(r"\_", "_")), (fmt, _INTERNAL.findall(out))
        grid = table_grid(table, lang=lang, **kw)
        rows, paragraphs = _docx_rows(docx_bytes(grid))
        text = " ".join(" ".join(r) for r in rows) + " ".join(paragraphs)
        assert not _INTERNAL.search(text), _INTERNAL.findall(text)
        assert "ValueError" not in text and "boom" not in text


def test_event_study_rows_and_notes():
    es, options = event_study_render(_event_study_est())
    md = render_table(es, "md", **options)
    assert "| −5 and earlier" in md and "| 5 and later" in md
    assert "| Pre-trend p" in md and "<0.001" in md
    assert "12 firms that join after 2015 are treated as never members." in md
    assert "1,234 untreated firm-years" in md
    assert "uses firm and year fixed effects instead." in md
    zh = render_table(es, "md", lang="zh", **options)
    assert "−5及更早" in zh and "5及更晚" in zh and "事前趋势F统计量" in zh

"""The HTML report: self-contained, complete, deterministic, escaped and identifier-free."""

from __future__ import annotations

import base64
import io
import re

import polars as pl
import pytest
from report._report_data import PATH, sample_frame

from cbec.report import figures as F
from cbec.report import report as R
from cbec.tables.render import render_table

TABLE2 = {
    "table": "table2",
    "title": "Baseline regressions",
    "columns": [
        {
            "label": "(1)",
            "depvar": "cu",
            "coef": {"platform": {"b": 0.09, "t": 5.4, "p": 1e-7}},
            "fixed_effects": ["firm_id"],
            "vcov": "CRV1:firm_id",
            "nobs": 1000,
        }
    ],
}
MATCH = {
    "alibaba": {
        "n_members": 599,
        "matched": 416,
        "n_review": 1,
        "by_method": {"name_exact": 410, "fuzzy": 6},
    },
    "customs_asif": {"n_parties": 8910, "matched": 6684, "match_rate": 0.75},
}
# match quality against the synthetic truth (the validation rules), per link
VALIDATION = {"alibaba": {"links": 416, "correct": 416, "precision": 1.0, "recall": 0.967442}}
DIAG = pl.DataFrame(
    {
        "ind2": ["13", "14", "13", "14", "15"],
        "measure": ["tfp_op", "tfp_op", "cu", "cu", "cu"],
        "converged": ["false", "true", "true", "true", "true"],
        "fallback": ["failed", "none", "none", "group", "all"],
    }
)
CALIB = "# Calibration\n\nSample: **5,332** firm-years <b>x</b>.\n\n| variable | paper |\n|---|---:|\n| cu | 0.7381 |\n"
PROV = {
    "git": {"commit": None, "dirty": None, "note": "not a git repository"},
    "config_sha256": "ab" * 32,
    "inputs": [{"key": "asif[2001]", "path": "a.parquet", "sha256": "cd" * 32, "bytes": 10}],
    "packages": {"numpy": "2.4.6", "absent": None},
    "python": "3.11.9",
    "implementation": "CPython",
}


def _figs() -> list[R.Figure]:
    return [
        R.Figure("event_study", F.figure_bytes(F.fig_event_study(PATH)), "bands"),
        R.Figure("first_stage", F.figure_bytes(F.fig_first_stage(sample_frame())), "fs"),
        R.Figure("psm_balance", None, "missing"),
    ]


def build(**kw) -> str:
    args = dict(
        title="Run report",
        tables=[
            R.Table("table2", html=render_table(TABLE2, "html")),
            R.Table("table9", markdown=render_table(TABLE2, "md")),
        ],
        figures=_figs(),
        attrition={
            "attrition_sample.csv": pl.DataFrame({"reason": ["read", "kept"], "rows": [10, 7]})
        },
        match_reports=MATCH,
        validation=VALIDATION,
        calibration_md=CALIB,
        diagnostics=DIAG,
        provenance=PROV,
    )
    args.update(kw)
    return R.build_report(**args)


def img_sources(page: str) -> list[str]:
    return re.findall(r"<img[^>]*\bsrc=\"([^\"]*)\"", page)


def test_report_is_complete_and_self_contained():
    page = build()
    for head in (
        "Tables",
        "Figures",
        "Attrition",
        "Match quality",
        "Calibration against the paper",
        "Measures diagnostics",
        "Provenance",
    ):
        assert f">{head}" in page, head
    assert 'id="table2"' in page and "Baseline regressions" in page
    assert "<table" in page.split('id="table9"')[1]  # markdown table converted
    srcs = img_sources(page)
    assert len(srcs) == 2
    for s in srcs:
        assert s.startswith("data:image/png;base64,")
        png = base64.b64decode(s.split(",", 1)[1], validate=True)
        from PIL import Image

        with Image.open(io.BytesIO(png)) as im:
            im.verify()
    assert "psm_balance: figure not available" in page
    # no external references of any kind
    assert not re.search(r"(src|href)\s*=\s*\"(?!data:|#)", page)
    assert not re.search(r"https?://|url\(|<link|<script|@import", page)


def test_report_is_deterministic_and_has_no_timestamps():
    a, b = build(), build()
    assert a == b
    assert not re.search(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", a)


def test_match_quality_and_diagnostics_numbers():
    assert "precision" not in R.match_quality(MATCH).columns  # real inputs: no truth
    mq = R.match_quality(MATCH, VALIDATION)
    ali = mq.filter(pl.col("link") == "alibaba").row(0, named=True)
    assert (ali["candidates"], ali["matched"], ali["recall"]) == (599, 416, 0.967442)
    assert ali["by_method"] == "fuzzy: 6; name_exact: 410"
    assert mq.filter(pl.col("link") == "customs_asif")["precision"].item() is None
    ds = R.diagnostics_summary(DIAG)
    cu = ds.filter(pl.col("measure") == "cu").row(0, named=True)
    assert cu["industries"] == 3 and cu["converged"] == 3
    assert (cu["fallback: none"], cu["fallback: group"], cu["fallback: all"]) == (1, 1, 1)
    op = ds.filter(pl.col("measure") == "tfp_op").row(0, named=True)
    assert op["fallback: failed"] == 1 and op["converged"] == 1
    page = build()
    assert "0.9674" in page and "not a git repository" in page and "ab" * 32 in page


def test_markdown_is_escaped():
    h = R.markdown_to_html(
        "para <script>alert(1)</script> **b** *i* `c`\n\n| a \\| b | c |\n|---|---|\n| 1 | 2 |"
    )
    assert "<script>" not in h and "&lt;script&gt;" in h
    assert "<strong>b</strong>" in h and "<em>i</em>" in h and "<code>c</code>" in h
    assert '<td class="s">1</td>' in h and "a | b" in h


def test_png_data_uri_rejects_non_png():
    with pytest.raises(ValueError):
        R.png_data_uri(b"GIF89a")


def test_frame_to_html_escapes():
    h = R.frame_to_html(pl.DataFrame({"reason": ["<b>&"], "rows": [1234567]}))
    assert "&lt;b&gt;&amp;" in h and "1,234,567" in h


def test_run_report_from_files(tmp_path):
    """End to end on files laid out as the workflow writes them; a secret in a raw input
    never reaches the report (raw files are hashed only)."""
    (tmp_path / "tables").mkdir()
    for fmt in ("html", "md"):
        (tmp_path / "tables" / f"table2.{fmt}").write_text(render_table(TABLE2, fmt))
    (tmp_path / "tables" / "table10.md").write_text(render_table(TABLE2, "md"))
    figs = []
    for name in ("event_study", "first_stage"):
        figs += F.save_figure(F.fig_event_study(PATH), tmp_path / "figures" / name)
    att = tmp_path / "attrition_asif.csv"
    att.write_text('stage,year,step,reason,rows\nclean,2001,0,read,10\nclean,2001,1,"a, b",2\n')
    rep = tmp_path / "alibaba_report.json"
    rep.write_text('{"n_members": 5, "matched": 4}')
    quality = tmp_path / "alibaba_quality.json"
    quality.write_text('{"links": 4, "correct": 3, "precision": 0.75, "recall": 1.0}')
    diag = tmp_path / "diagnostics.csv"
    DIAG.write_csv(diag)
    raw = tmp_path / "asif_2001.csv"
    raw.write_text("企业名称,电话\nSECRET_FIRM_NAME_XYZ,13800000000\n", encoding="utf-8")
    cfg = {"seed": 1, "preset": "tiny", "inputs": {"source": "files", "asif": str(raw)}}
    out = tmp_path / "report.html"
    kw = dict(
        tables=[
            tmp_path / "tables" / "table2.html",
            tmp_path / "tables" / "table2.md",
            tmp_path / "tables" / "table10.md",
        ],
        figures=[p for p in figs if p.suffix == ".pdf"],  # PNG found next to the PDF
        attrition=[att],
        match_reports=[rep],
        validation=[quality],
        diagnostics=diag,
        calibration=None,
        config=cfg,
        input_files=[("asif[2001]", str(raw))],
        output=out,
        repo=tmp_path,
    )
    R.run_report(**kw)
    page = out.read_text(encoding="utf-8")
    assert page.index('id="table2"') < page.index('id="table10"')  # natural order
    assert len(img_sources(page)) == 2
    assert "SECRET_FIRM_NAME_XYZ" not in page and "13800000000" not in page
    assert R.Path(raw).name in page  # listed with its hash
    from cbec.report.provenance import sha256_file

    assert sha256_file(raw) in page and "0.75" in page and "a, b" in page
    assert "Calibration" not in page  # real inputs: no calibration section
    first = out.read_bytes()
    R.run_report(**kw)
    assert out.read_bytes() == first


def test_attrition_wide_pivots_years():
    d = pl.DataFrame(
        {
            "stage": ["clean"] * 4,
            "year": [2002, 2002, 2001, 2001],
            "step": [0, 1, 0, 1],
            "reason": ["read", "kept", "read", "kept"],
            "rows": [20, 18, 10, 9],
        }
    )
    w = R.attrition_wide(d)
    assert w.columns == ["stage", "step", "reason", "2001", "2002", "all years"]
    assert w.row(1) == ("clean", 1, "kept", 9, 18, 27)
    no_year = d.with_columns(pl.lit(None, dtype=pl.Int64).alias("year"))
    assert R.attrition_wide(no_year).equals(no_year)
    assert ">2001<" in R.frame_to_html(d)  # years without thousands separators


def test_validation_pages_and_human_headings():
    page = build(
        pages={R.PAGE_TITLES["scorecard.md"]: "| estimate | truth |\n|---|---|\n| 0.09 | 0.09 |\n"}
    )
    assert '<h2 id="scorecard-the-published-tables-against-this-run">' in page
    assert "<td" in page.split("Scorecard")[-1]
    assert "<h3>From the panel to the analysis sample</h3>" in page
    assert "attrition_sample.csv" not in page
    assert "<strong>event_study</strong>" not in page
    assert f"<strong>{R.FIGURE_TITLES['event_study']}</strong>" in page


def test_attrition_split_to_fit_the_page():
    rows = [
        {"stage": "clean_asif", "year": y, "step": 0, "reason": "read", "rows": 10}
        for y in range(2001, 2016)
    ]
    parts = R.attrition_tables(pl.DataFrame(rows), per_table=6)
    assert [len(p.columns) for p in parts] == [8, 8, 6]
    assert parts[-1].columns[-1] == "all years" and parts[-1]["all years"].to_list() == [150]


def test_book_noise_note_with_the_diagnostics():
    """The pooled book noise fit is shown under the measures diagnostics, with the fallback
    reason when the AR(1) fit was not used."""
    fit = {"var": 0.023, "sd": 0.1517, "model": "ar1", "rho": 0.435, "note": "", "n_used": 779738}
    page = R.build_report(title="t", diagnostics=DIAG, book_noise=fit)
    note = page.split('id="measures-diagnostics"')[1]
    assert "variance 0.02300 (sd 0.1517; AR(1) + random walk + noise fit, ρ̂ 0.435" in note
    assert "779,738 firm-years" in note
    rw = {**fit, "model": "random_walk", "rho": None, "note": "rho 1.2 outside (0, 1)"}
    assert "not used: rho 1.2 outside (0, 1)" in R.build_report(
        title="t", diagnostics=DIAG, book_noise=rw
    )
    assert "Book noise" not in R.build_report(title="t", diagnostics=DIAG)


def test_yjz_theta_by_industry():
    diag = DIAG.with_columns(
        theta=pl.Series([None, None, 2.0, 1.8, None]),
        theta_se=pl.Series([None, None, 0.1, 0.25, None]),
        n_est=pl.Series([10, 12, 900, 40, 5000]),
    )
    tab = R.yjz_theta_table(diag)
    assert tab["industry"].to_list() == ["13", "14"]  # cu rows with a θ only
    row = tab.row(0, named=True)
    assert (row["theta"], row["s.e."], row["observations"]) == (2.0, 0.1, 900)
    assert row["fallback"] == "none" and tab["fallback"][1] == "group"
    assert (row["95 % low"], row["95 % high"]) == (1.8, 2.2)
    page = build(diagnostics=diag)
    assert "Yu–Jin–Zhang θ by industry" in page and "0.25" in page
    assert "θ by industry" not in build()  # diagnostics without θ: no table
    assert R.yjz_theta_table(DIAG).height == 0

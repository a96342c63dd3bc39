"""The self-contained HTML report (``results/report.html``).

One file, inline CSS, every image a base64 ``data:`` URI: it opens offline and makes no
network request. It gathers every rendered table, every figure, the attrition logs, match
quality (counts from the match reports; precision / recall against the synthetic truth from
the validation rules, synthetic world only), the calibration against the paper's Table 1 (synthetic world only), a summary of the
measures diagnostics and the provenance of the run. No timestamps: the same inputs give the
same bytes. Only aggregates enter: tables, estimates and logs carry no identifiers, and raw
inputs are hashed, never read.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

__all__ = [
    "CSS",
    "Figure",
    "Table",
    "attrition_wide",
    "build_report",
    "diagnostics_summary",
    "frame_to_html",
    "markdown_to_html",
    "match_quality",
    "png_data_uri",
    "run_report",
    "yjz_theta_table",
]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CSS = """
body{font-family:-apple-system,'Segoe UI','DejaVu Sans',Arial,sans-serif;margin:0;color:#1a1a1a;
background:#fafafa;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:1.5em 2em 4em;background:#fff}
h1{font-size:1.6em;border-bottom:2px solid #333;padding-bottom:.3em}
h2{font-size:1.25em;margin-top:2.2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
h3{font-size:1.05em;margin-top:1.4em}
nav ol{columns:2;font-size:.92em}
table.data{border-collapse:collapse;font-size:.85em;margin:.6em 0}
table.data th,table.data td{border:1px solid #ddd;padding:2px 8px;text-align:right}
table.data th{background:#f0f0f0}
table.data td.s,table.data th.s{text-align:left}
figure{margin:1em 0;text-align:center}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#444;max-width:60em;margin:.3em auto}
.note{font-size:.85em;color:#555}
.missing{color:#a00}
code{font-size:.9em;background:#f3f3f3;padding:0 3px;overflow-wrap:anywhere}
table.data td,table.data th{overflow-wrap:anywhere}
@page{size:A4;margin:12mm}
@media print,(max-width:800px){
body{background:#fff}
main{max-width:none;padding:0 .5em}
table.data{font-size:.72em}
table.data th,table.data td{padding:1px 4px}
.cbec-table{overflow:visible!important;font-size:.8em!important}
}
@media print{nav{display:none}h2,h3{break-after:avoid}figure,table{break-inside:avoid}}
""".strip()

#: section headings of the figures (file stem -> heading)
FIGURE_TITLES: dict[str, str] = {
    "cu_distribution": "Capacity utilization of platform members and non-members",
    "psm_balance": "Covariate balance of the propensity-score matching",
    "match_scores": "Name-match scores of the platform member lists",
    "first_stage": "First stage: platform membership and the instruments",
    "event_study": "Event study: the effect by years since joining",
}
#: headings of the attrition logs (file name -> heading)
ATTRITION_TITLES: dict[str, str] = {
    "attrition_asif.csv": "Cleaning the ASIF firm-years, by year",
    "attrition_sample.csv": "From the panel to the analysis sample",
}
#: headings of the validation pages (file name -> heading): the scorecard, on any data, and
#: the synthetic world's bias budget
PAGE_TITLES: dict[str, str] = {
    "scorecard.md": "Scorecard: the published tables against this run",
    "bias_budget.md": "Bias budget",
}
#: years per attrition table, so that a table fits the width of an A4 page
ATTRITION_YEARS_PER_TABLE = 6


@dataclass(frozen=True)
class Table:
    """A rendered table: its name, and an HTML fragment (or markdown, converted)."""

    name: str
    html: str | None = None
    markdown: str | None = None


@dataclass(frozen=True)
class Figure:
    """A PNG figure with a caption."""

    name: str
    png: bytes | None
    caption: str = ""


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...``; raises ValueError if ``png`` is not a PNG."""
    if not png.startswith(PNG_MAGIC):
        raise ValueError("not a PNG image")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


PLAIN_INT_COLUMNS = frozenset({"year", "step", "ind2", "seed"})


def _fmt(v: Any, plain: bool = False) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v) if plain else f"{v:,}"
    if isinstance(v, float):
        if v != v:
            return "—"
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:.6g}" if abs(v) < 1e5 else f"{v:,.0f}"
    return str(v)


def frame_to_html(df: pl.DataFrame, max_rows: int = 500) -> str:
    """A polars frame as an escaped HTML table (numbers right-aligned)."""
    if df.height == 0:
        return '<p class="note">(empty)</p>'
    num = {c for c, t in zip(df.columns, df.dtypes, strict=True) if t.is_numeric()}
    head = "".join(f'<th class="{"" if c in num else "s"}">{_e(c)}</th>' for c in df.columns)
    rows = []
    for r in df.head(max_rows).iter_rows():
        cells = "".join(
            f'<td class="{"" if c in num else "s"}">{_e(_fmt(v, c in PLAIN_INT_COLUMNS))}</td>'
            for c, v in zip(df.columns, r, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    more = (
        f'<p class="note">{df.height - max_rows:,} more rows not shown.</p>'
        if df.height > max_rows
        else ""
    )
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{more}'


_MD_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\\*])\*(?!\s)(.+?)(?<![\\\s])\*"), r"<em>\1</em>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
]


def _md_inline(s: str) -> str:
    s = _e(s)
    for pat, rep in _MD_INLINE:
        s = pat.sub(rep, s)
    return s.replace("\\*", "*").replace("\\|", "|")


def markdown_to_html(md: str) -> str:
    """Minimal markdown: ``#`` headings, pipe tables, paragraphs, bold / italics / code.
    Everything is escaped first (no raw HTML passes)."""
    out: list[str] = []
    lines = md.splitlines()
    i = 0
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(f"<p>{_md_inline(' '.join(para))}</p>")
            para.clear()

    def cells(line: str) -> list[str]:
        parts = re.split(r"(?<!\\)\|", line.strip())
        return [p.strip() for p in parts[1:-1]] if len(parts) > 2 else [line.strip()]

    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("|"):
            flush()
            block = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                block.append(lines[i])
                i += 1
            rows = [cells(b) for b in block]
            sep = [j for j, r in enumerate(rows) if all(re.fullmatch(r":?-{2,}:?", c) for c in r)]
            head = rows[: sep[0]] if sep else []
            body = rows[sep[0] + 1 :] if sep else rows
            h = "".join(
                "<tr>" + "".join(f'<th class="s">{_md_inline(c)}</th>' for c in r) + "</tr>"
                for r in head
            )
            b = "".join(
                "<tr>" + "".join(f'<td class="s">{_md_inline(c)}</td>' for c in r) + "</tr>"
                for r in body
            )
            out.append(f'<table class="data"><thead>{h}</thead><tbody>{b}</tbody></table>')
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            flush()
            level = min(len(m.group(1)) + 2, 6)
            out.append(f"<h{level}>{_md_inline(m.group(2))}</h{level}>")
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)


def match_quality(
    reports: Mapping[str, Mapping[str, Any]],
    validation: Mapping[str, Mapping[str, Any]] | None = None,
) -> pl.DataFrame:
    """One row per link report: counts and, where ``validation`` (link name -> quality
    against the synthetic truth) has them, precision and recall."""
    rows = []
    for name in sorted(reports):
        r = reports[name]
        truth = (validation or {}).get(name) or {}
        methods = r.get("by_method") or r.get("links_by_method") or {}
        rows.append(
            {
                "link": name,
                "candidates": _first(r, "n_members", "n_parties", "firm_years"),
                "matched": _first(r, "matched", "links"),
                "match_rate": r.get("match_rate"),
                "to_review": r.get("n_review"),
                "by_method": "; ".join(f"{k}: {v:,}" for k, v in sorted(methods.items()))
                if isinstance(methods, Mapping)
                else None,
                "precision": truth.get("precision"),
                "recall": truth.get("recall"),
            }
        )
    schema = {
        "link": pl.String,
        "candidates": pl.Int64,
        "matched": pl.Int64,
        "match_rate": pl.Float64,
        "to_review": pl.Int64,
        "by_method": pl.String,
        "precision": pl.Float64,
        "recall": pl.Float64,
    }
    df = pl.DataFrame(rows, schema=schema)
    return df.select([c for c in df.columns if df[c].null_count() < df.height or c == "link"])


def attrition_wide(df: pl.DataFrame) -> pl.DataFrame:
    """An attrition log (stage, year, step, reason, rows) with one column per year (rows =
    steps); logs without years or with other columns are returned unchanged."""
    need = {"year", "step", "reason", "rows"}
    if not need <= set(df.columns) or df["year"].null_count() == df.height:
        return df
    d = df.with_columns(pl.col("year").cast(pl.String))
    years = sorted(d["year"].drop_nulls().unique().to_list())
    idx = [c for c in ("stage", "step", "reason") if c in d.columns]
    wide = d.pivot(on="year", index=idx, values="rows", aggregate_function="sum")
    wide = wide.with_columns(pl.sum_horizontal(years).alias("all years"))
    return wide.sort(idx[:-1]).select(*idx, *years, "all years")


def attrition_tables(
    df: pl.DataFrame, per_table: int = ATTRITION_YEARS_PER_TABLE
) -> list[pl.DataFrame]:
    """The wide attrition log split into tables of at most ``per_table`` year columns (the
    total in the last), each with the step and reason, so none is wider than a page."""
    wide = attrition_wide(df)
    idx = [c for c in ("step", "reason") if c in wide.columns]
    years = [c for c in wide.columns if c.isdigit()]
    if not years or len(years) + 1 <= per_table:
        return [wide.drop("stage") if "stage" in wide.columns and idx else wide]
    cols = [*years, "all years"]
    return [wide.select(*idx, *cols[i : i + per_table]) for i in range(0, len(cols), per_table)]


def _first(r: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if isinstance(r.get(k), int | float):
            return int(r[k])
    return None


def diagnostics_summary(diag: pl.DataFrame) -> pl.DataFrame:
    """Per measure: industries, converged, and how many fell back to each pool / failed."""
    if diag.height == 0 or "measure" not in diag.columns:
        return pl.DataFrame()
    fb = pl.col("fallback").cast(pl.String).fill_null("none")
    conv = pl.col("converged").cast(pl.String).str.to_lowercase().is_in(["true", "1"])
    kinds = sorted(set(diag.select(fb.alias("f"))["f"].to_list()))
    return (
        diag.group_by("measure")
        .agg(
            pl.len().alias("industries"),
            conv.sum().alias("converged"),
            *[(fb == k).sum().alias(f"fallback: {k}") for k in kinds],
        )
        .sort("measure")
    )


def yjz_theta_table(diag: pl.DataFrame) -> pl.DataFrame:
    """Per industry: the Yu–Jin–Zhang θ̂ used for its CU, the firm-clustered standard error,
    the 95 % interval θ̂ ± 1.96 s.e., the fallback level of the estimate (none: its own
    data) and its observations; industries without a θ are left out (empty when no ``cu``
    row has one)."""
    need = {"ind2", "measure", "theta", "theta_se", "fallback", "n_est"}
    if diag.height == 0 or not need <= set(diag.columns):
        return pl.DataFrame()
    th, se = pl.col("theta").cast(pl.Float64), pl.col("theta_se").cast(pl.Float64)
    return (
        diag.filter((pl.col("measure") == "cu") & th.is_not_null() & th.is_not_nan())
        .select(
            pl.col("ind2").cast(pl.String).alias("industry"),
            th.round(3).alias("theta"),
            se.round(3).alias("s.e."),
            (th - 1.96 * se).round(2).alias("95 % low"),
            (th + 1.96 * se).round(2).alias("95 % high"),
            pl.col("fallback").cast(pl.String),
            pl.col("n_est").cast(pl.Int64).alias("observations"),
        )
        .sort("industry")
    )


def _provenance_html(p: Mapping[str, Any]) -> str:
    git = p.get("git") or {}
    commit = git.get("commit")
    gtxt = (
        f"<code>{_e(commit)}</code>"
        + (" (working tree has uncommitted changes)" if git.get("dirty") else "")
        if commit
        else f'<span class="missing">not available ({_e(git.get("note") or "no git")})</span>'
    )
    rows = [
        ("git commit", gtxt),
        ("config sha256", f"<code>{_e(p.get('config_sha256'))}</code>"),
        ("Python", _e(f"{p.get('implementation', '')} {p.get('python', '')}".strip())),
    ]
    out = (
        '<table class="data">'
        + "".join(f'<tr><th class="s">{_e(k)}</th><td class="s">{v}</td></tr>' for k, v in rows)
        + "</table>"
    )
    pk = p.get("packages") or {}
    out += "<h3>Package versions</h3>" + frame_to_html(
        pl.DataFrame(
            {"package": list(pk), "version": [v or "not installed" for v in pk.values()]},
            schema={"package": pl.String, "version": pl.String},
        )
    )
    ins = p.get("inputs") or []
    out += "<h3>Input files (sha256)</h3>" + frame_to_html(
        pl.DataFrame(
            {
                "input": [x["key"] for x in ins],
                "path": [x["path"] for x in ins],
                "bytes": [x.get("bytes") for x in ins],
                "sha256": [x.get("sha256") or "missing" for x in ins],
            },
            schema={"input": pl.String, "path": pl.String, "bytes": pl.Int64, "sha256": pl.String},
        )
    )
    return out


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def _table_html(t: Table) -> str:
    """One table's section: its HTML, else its markdown, else a note that it is missing."""
    body = t.html if t.html else markdown_to_html(t.markdown or "") if t.markdown else ""
    body = body or f'<p class="missing">{_e(t.name)}: not available</p>'
    return f'<section id="{_slug(t.name)}">{body}</section>'


def _figure_html(f: Figure) -> str:
    """One figure with its title and caption (a note where the PNG is missing)."""
    if f.png:
        img = f'<img src="{png_data_uri(f.png)}" alt="{_e(f.name)}">'
    else:
        img = f'<p class="missing">{_e(f.name)}: figure not available</p>'
    head = FIGURE_TITLES.get(f.name, f.name.replace("_", " ").capitalize())
    return (
        f'<figure id="fig-{_slug(f.name)}">{img}<figcaption><strong>{_e(head)}</strong>. '
        f"{_e(f.caption)}</figcaption></figure>"
    )


def build_report(
    *,
    title: str,
    tables: Sequence[Table] = (),
    figures: Sequence[Figure] = (),
    attrition: Mapping[str, pl.DataFrame] | None = None,
    match_reports: Mapping[str, Mapping[str, Any]] | None = None,
    validation: Mapping[str, Mapping[str, Any]] | None = None,
    calibration_md: str | None = None,
    diagnostics: pl.DataFrame | None = None,
    provenance: Mapping[str, Any] | None = None,
    intro: str = "",
    pages: Mapping[str, str] | None = None,
    book_noise: Mapping[str, Any] | None = None,
) -> str:
    """The complete report page (a string; the caller writes it as UTF-8).

    ``match_reports`` and ``validation`` (the match quality against the synthetic truth) are
    keyed by link name (panel_links, customs_asif, alibaba, mic). ``pages``: further
    markdown pages by heading (the scorecard; the synthetic world's bias budget).
    ``book_noise``: the pooled book noise fit (rule book_noise), shown with the diagnostics.
    """
    sections: list[tuple[str, str]] = []
    if tables:
        sections.append(("Tables", "\n".join(_table_html(t) for t in tables)))
    if figures:
        sections.append(("Figures", "\n".join(_figure_html(f) for f in figures)))
    if attrition:
        parts = [
            f"<h3>{_e(ATTRITION_TITLES.get(name, name))}</h3>"
            + "".join(frame_to_html(t) for t in attrition_tables(df))
            for name, df in sorted(attrition.items())
        ]
        sections.append(("Attrition", "\n".join(parts)))
    if match_reports:
        mq = match_quality(match_reports, validation)
        note = (
            '<p class="note">Precision and recall are measured against the synthetic truth '
            "(resources/truth); they are absent when the inputs are real files.</p>"
        )
        sections.append(("Match quality", frame_to_html(mq) + note))
    if calibration_md:
        sections.append(
            ("Calibration against the paper's Table 1", markdown_to_html(calibration_md))
        )
    for head, md in (pages or {}).items():
        sections.append((head, markdown_to_html(md)))
    if diagnostics is not None:
        sections.append(
            (
                "Measures diagnostics",
                '<p class="note">Industries estimated per measure, converged estimates, and how '
                "many industries fell back to a pooled estimate (group: same 1-digit group; all: "
                "every industry) or failed.</p>"
                + frame_to_html(diagnostics_summary(diagnostics))
                + _book_noise_html(book_noise)
                + _theta_html(diagnostics),
            )
        )
    if provenance:
        sections.append(("Provenance", _provenance_html(provenance)))
    toc = "".join(f'<li><a href="#{_slug(h)}">{_e(h)}</a></li>' for h, _ in sections)
    body = "\n".join(f'<h2 id="{_slug(h)}">{_e(h)}</h2>\n{c}' for h, c in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{_e(title)}</h1>\n{intro}\n<nav><ol>{toc}</ol></nav>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _book_noise_html(fit: Mapping[str, Any] | None) -> str:
    """One note on the pooled book noise in ln depreciation rate (empty without a fit)."""
    if not fit:
        return ""
    rho = fit.get("rho")
    how = (
        f"AR(1) + random walk + noise fit, ρ̂ {rho:.3f}"
        if fit.get("model") == "ar1"
        else f"c₂ − c₁ (the AR(1) fit not used: {fit.get('note', '')})"
    )
    return (
        '<p class="note">Book noise in ln depreciation rate, pooled over industries: variance '
        f"{fit['var']:.5f} (sd {fit['sd']:.4f}; {_e(how)}; {fit['n_used']:,} firm-years). "
        "The YJZ level removes it under <code>norm_method: deconvolved</code>.</p>"
    )


def _theta_html(diag: pl.DataFrame) -> str:
    """The YJZ θ̂ of every industry with its standard error (empty without them)."""
    tab = yjz_theta_table(diag)
    if tab.height == 0:
        return ""
    return (
        "<h3>Yu–Jin–Zhang θ by industry</h3>"
        '<p class="note">θ of δ = a·u<sup>θ</sup> used for each industry\'s CU (fallback: none '
        "= its own data; group / all = a pooled estimate), with the firm-clustered standard "
        "error of the second stage (the first stage taken as known). CU effects scale "
        "roughly with 1/θ, so a θ̂ 10 % low raises them by about 10 % "
        "(docs/methods.md).</p>" + frame_to_html(tab)
    )


# --------------------------------------------------------------------------- rule driver
def _natural(s: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _read_pages(pages: Sequence[str | Path]) -> dict[str, str]:
    """Markdown pages by their :data:`PAGE_TITLES` heading (else the file name in words)."""
    return {
        PAGE_TITLES.get(Path(p).name, Path(p).stem.replace("_", " ").capitalize()): Path(
            p
        ).read_text(encoding="utf-8")
        for p in pages
        if Path(p).is_file()
    }


def _read_tables(tables: Sequence[str | Path]) -> list[Table]:
    """The tables (``.html`` and ``.md`` of one stem each), in natural order of their names."""
    out = []
    for t in sorted({Path(x).with_suffix("") for x in tables}, key=lambda p: _natural(p.name)):
        h, m = t.with_suffix(".html"), t.with_suffix(".md")
        out.append(
            Table(
                t.name,
                html=h.read_text(encoding="utf-8") if h.is_file() else None,
                markdown=m.read_text(encoding="utf-8") if m.is_file() else None,
            )
        )
    return out


def _read_json_by_link(files: Sequence[str | Path], suffix: str) -> dict[str, Any]:
    """JSON files ``<link><suffix>`` by link name, in sorted order of their paths."""
    return {
        Path(r).name.removesuffix(suffix): json.loads(Path(r).read_text(encoding="utf-8"))
        for r in sorted(map(str, files))
    }


def run_report(
    *,
    tables: Sequence[str | Path],
    figures: Sequence[str | Path],
    attrition: Sequence[str | Path],
    match_reports: Sequence[str | Path],
    diagnostics: str | Path | None,
    calibration: str | Path | None,
    config: Mapping[str, Any],
    input_files: Sequence[tuple[str, str]],
    output: str | Path,
    repo: str | Path | None = None,
    captions: Mapping[str, str] | None = None,
    title: str = "Cross-border e-commerce platforms and firm capacity utilization: run report",
    validation: Sequence[str | Path] = (),
    pages: Sequence[str | Path] = (),
    book_noise: str | Path | None = None,
) -> str:
    """Read the run's artifacts, build the report and write it (UTF-8, atomic).

    ``match_reports``: ``<link>_report.json`` files of the matching rules; ``validation``:
    ``<link>_quality.json`` files of the validation rules (synthetic world only); ``pages``:
    markdown pages shown under their :data:`PAGE_TITLES` heading (scorecard, bias budget).
    """
    from cbec.data.io import write_text_atomic
    from cbec.report.figures import FIGURES
    from cbec.report.provenance import provenance

    caps = dict(FIGURES, **(captions or {}))
    figs = []
    for f in sorted({Path(x).with_suffix(".png") for x in figures}, key=lambda p: _natural(p.name)):
        figs.append(Figure(f.stem, f.read_bytes() if f.is_file() else None, caps.get(f.stem, "")))
    attr = {
        Path(a).name: pl.read_csv(a, infer_schema_length=None) for a in sorted(map(str, attrition))
    }
    diag = pl.read_csv(diagnostics, infer_schema_length=None) if diagnostics else None
    calib = (
        Path(calibration).read_text(encoding="utf-8")
        if calibration and Path(calibration).is_file()
        else None
    )
    intro = (
        '<p class="note">Inputs: <code>'
        + _e(config.get("inputs", {}).get("source"))
        + "</code>; preset <code>"
        + _e(config.get("preset"))
        + "</code>; seed <code>"
        + _e(config.get("seed"))
        + "</code>. Every number below is read from the workflow's artifacts "
        "(results/); nothing is re-estimated here.</p>"
    )
    page = build_report(
        title=title,
        tables=_read_tables(tables),
        figures=figs,
        attrition=attr,
        match_reports=_read_json_by_link(match_reports, "_report.json"),
        validation=_read_json_by_link(validation, "_quality.json"),
        calibration_md=calib,
        diagnostics=diag,
        provenance=provenance(config, input_files, repo),
        intro=intro,
        pages=_read_pages(pages),
        book_noise=json.loads(Path(book_noise).read_text(encoding="utf-8")) if book_noise else None,
    )
    write_text_atomic(page, output)
    return page

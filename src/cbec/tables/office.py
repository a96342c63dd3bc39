"""Word and Excel versions of the tables, from the same :class:`~cbec.tables.render.Grid` as
the LaTeX, Markdown and HTML ones.

Word (python-docx): the journals' three-line table (a thick rule above the header, a thin one
below it, a thick one under the last row; no vertical rules), the t statistic in parentheses
under each coefficient, the caption above and the notes below, Times New Roman with SimSun
for Chinese. Excel (openpyxl): one workbook, one sheet per table, the cells as printed.
Both are written byte-identically for the same input (fixed zip timestamps and document
dates) and atomically (temporary file, then rename).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

from cbec.tables import labels as L
from cbec.tables.render import Grid

__all__ = ["caption", "docx_bytes", "write_docx", "write_xlsx", "xlsx_bytes"]

_FIXED_DATE = "2000-01-01T00:00:00Z"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def caption(g: Grid) -> str:
    """ "Table 2. Baseline regressions" / "表2 基准回归结果"."""
    num = "".join(ch for ch in g.table if ch.isdigit()) or g.table
    if not g.table:
        return g.title
    if g.lang == "zh":
        return f"{L.text('table', 'zh')}{num} {g.title}"
    return f"{L.text('table', 'en')} {num}. {g.title}"


def notes_text(g: Grid) -> str:
    """The notes paragraph: "Notes: ..." / "注:..."."""
    if not g.notes:
        return ""
    sep = "" if g.lang == "zh" else " "
    return L.text("notes", g.lang) + sep + sep.join(g.notes)


def rows(g: Grid) -> list[list[str]]:
    """Every row of the table as printed (header rows first), stars attached."""
    out = [[c.text + c.stars for c in r] for r in g.header]
    out += [[c.text + c.stars for c in r] for sec in g.sections for r in sec]
    return out


def _deterministic_zip(data: bytes) -> bytes:
    """The same zip with fixed entry timestamps and fixed document dates (docProps/core.xml)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rb"\g<1>" + _FIXED_DATE.encode() + rb"\g<2>",
                    body,
                )
            dst.writestr(zipfile.ZipInfo(info.filename, _ZIP_DATE), body, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _write_bytes(data: bytes, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


# --------------------------------------------------------------------------- Word
def _border(cell, **edges: str) -> None:  # noqa: ANN001 - python-docx cell
    """Set the borders of a table cell: ``top="12"`` (eighths of a point), ``bottom=...``."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    for edge, size in edges.items():
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "single")
        el.set(qn("w:sz"), size)
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "000000")
        borders.append(el)


def _fonts(run, size: float) -> None:  # noqa: ANN001 - python-docx run
    from docx.oxml.ns import qn
    from docx.shared import Pt

    run.font.name = "Times New Roman"
    run.font.size = Pt(size)
    rpr = run._element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), "SimSun")


def _paragraph(doc, text: str, size: float, bold: bool = False, center: bool = False) -> None:  # noqa: ANN001
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    p = doc.add_paragraph()
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(text)
    run.bold = bold
    _fonts(run, size)


def _merge_group_headers(table, g: Grid) -> set[tuple[int, int]]:  # noqa: ANN001
    """Merge equal neighbouring header cells (below the column labels) into one spanning
    cell; return the (row, column) positions covered by a merged cell's first one."""
    from cbec.tables.render import _tex_runs

    covered: set[tuple[int, int]] = set()
    for i, row in enumerate(g.header[1:], start=1):
        for first, span, _ in _tex_runs(row):
            if span > 1:
                table.cell(i, first).merge(table.cell(i, first + span - 1))
                covered |= {(i, j) for j in range(first + 1, first + span)}
    return covered


def docx_bytes(g: Grid) -> bytes:
    """The table as a Word document (a three-line table between caption and notes)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    doc = Document()
    doc.core_properties.title = caption(g)
    doc.core_properties.author = "cbec"
    _paragraph(doc, caption(g), 10.5, bold=True, center=True)
    body = rows(g)
    nh = len(g.header)
    table = doc.add_table(rows=len(body), cols=g.ncols)
    covered = _merge_group_headers(table, g)
    for i, row in enumerate(body):
        for j, text in enumerate(row):
            if (i, j) in covered:
                continue
            cell = table.cell(i, j)
            p = cell.paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.LEFT if j == 0 else WD_ALIGN_PARAGRAPH.CENTER
            _fonts(p.add_run(text), 9)
            edges = {}
            if i == 0:
                edges["top"] = "12"
            if i == nh - 1:
                edges["bottom"] = "6"
            if i == len(body) - 1:
                edges["bottom"] = "12"
            if edges:
                _border(cell, **edges)
    if g.notes:
        _paragraph(doc, notes_text(g), 9)
    buf = io.BytesIO()
    doc.save(buf)
    return _deterministic_zip(buf.getvalue())


def write_docx(g: Grid, path: str | Path) -> None:
    """Write :func:`docx_bytes` to ``path`` atomically."""
    _write_bytes(docx_bytes(g), path)


# --------------------------------------------------------------------------- Excel
def xlsx_bytes(grids: Mapping[str, Grid]) -> bytes:
    """One workbook, a sheet per table (named by the table): caption, the rows, the notes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    wb = Workbook()
    wb.remove(wb.active)
    thick, thin = Side(style="medium"), Side(style="thin")
    for name, g in grids.items():
        ws = wb.create_sheet(title=name[:31])
        ws.append([caption(g)])
        ws.cell(1, 1).font = Font(bold=True)
        body = rows(g)
        for r in body:
            ws.append(r)
        first, last, nh = 2, 1 + len(body), len(g.header)
        for j in range(1, g.ncols + 1):
            ws.cell(first, j).border = Border(top=thick)
            ws.cell(first + nh - 1, j).border = Border(
                top=ws.cell(first + nh - 1, j).border.top, bottom=thin
            )
            ws.cell(last, j).border = Border(bottom=thick)
            for i in range(first, last + 1):
                ws.cell(i, j).alignment = Alignment(horizontal="left" if j == 1 else "center")
        if g.notes:
            ws.append([notes_text(g)])
        ws.column_dimensions["A"].width = 40
        for j in range(2, g.ncols + 1):
            ws.column_dimensions[ws.cell(1, j).column_letter].width = 18
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_zip(buf.getvalue())


def write_xlsx(grids: Mapping[str, Grid], path: str | Path) -> None:
    """Write :func:`xlsx_bytes` to ``path`` atomically."""
    _write_bytes(xlsx_bytes(grids), path)

"""Estimate one table from its spec, write its JSON and render it (called by the table rule)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from cbec.data.io import write_text_atomic
from cbec.tables.descriptive import describe
from cbec.tables.office import write_docx, write_xlsx
from cbec.tables.render import Grid, table_grid, write_table

KINDS = ("descriptive", "feols", "psm", "event_study")


def estimate(sample: pl.DataFrame, name: str, spec: dict, common: dict, seed: int) -> dict:
    """The estimates JSON of table ``name``."""
    kind = spec["kind"]
    if kind == "descriptive":
        est = describe(sample, spec["variables"], min_units=common["min_firms"])
        est.update(table=name, title=spec.get("title", name))
        return est
    if kind == "feols":  # the estimators (numba, scipy) only where a table runs them
        from cbec.tables.build import regression_table

        return regression_table(sample, spec, common, name, seed)
    if kind == "psm":
        from cbec.tables.psm_table import psm_table

        return psm_table(sample, spec, common, name, seed=seed)
    if kind == "event_study":
        from cbec.tables.event_study import event_study_estimates, resolve_spec

        return event_study_estimates(sample, resolve_spec(spec, common), name)
    raise ValueError(f"tables.specs.{name}.kind: unknown kind '{kind}' (one of {KINDS})")


def sample_columns(spec: dict, common: dict) -> list[str] | None:
    """The analysis-sample columns a table reads (None: all of them)."""
    if spec["kind"] == "event_study":
        from cbec.tables.event_study import resolve_spec
        from cbec.tables.event_study import sample_columns as event_study_columns

        return event_study_columns(resolve_spec(spec, common))
    return None


def render_options(est: dict, spec: dict) -> tuple[dict, dict[str, Any]]:
    """(estimates as rendered, keyword arguments of ``write_table``) of a table."""
    if spec["kind"] == "event_study":
        from cbec.tables.event_notes import event_study_render

        table_est, options = event_study_render(est)
    else:
        table_est, options = est, {"show_controls": bool(spec.get("show_controls", False))}
    if spec.get("stats") is not None:
        options["stats_keys"] = list(spec["stats"])
    return table_est, options


def grid_of(est: dict, spec: dict, style: dict) -> Grid:
    """The rendered grid of a table, as every format shows it."""
    table_est, options = render_options(est, spec)
    return table_grid(table_est, stat=style["stat"], lang=style["lang"], **options)


def run_workbook(
    estimates: list[str], names: list[str], specs: dict, style: dict, output: str
) -> None:
    """Every table on its own sheet of one workbook (``results/tables/tables.xlsx``)."""
    grids = {}
    for name, path in zip(names, estimates, strict=True):
        est = json.loads(Path(path).read_text(encoding="utf-8"))
        grids[name] = grid_of(est, specs[name], style)
    write_xlsx(grids, output)


def run_table(
    sample_path: str | Path,
    outputs: dict[str, str],
    name: str,
    spec: dict,
    common: dict,
    style: dict,
    seed: int,
) -> dict:
    """Estimate, write ``outputs['estimates']`` and the rendered tex/md/html/docx."""
    sample = pl.read_parquet(sample_path, columns=sample_columns(spec, common))
    est = estimate(sample, name, spec, common, seed)
    write_text_atomic(
        json.dumps(est, indent=2, ensure_ascii=False, sort_keys=False), outputs["estimates"]
    )
    table_est, options = render_options(est, spec)
    write_table(
        table_est,
        {fmt: Path(outputs[fmt]) for fmt in ("tex", "md", "html")},
        stat=style["stat"],
        lang=style["lang"],
        **options,
    )
    if "docx" in outputs:
        write_docx(grid_of(est, spec, style), outputs["docx"])
    return est

"""Estimate one table from its spec, write its JSON and render it (called by the table rules)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from cbec.data.io import write_text_atomic
from cbec.tables.build import regression_table
from cbec.tables.descriptive import describe
from cbec.tables.render import write_table


def estimate(sample: pl.DataFrame, name: str, spec: dict, common: dict, seed: int) -> dict:
    """The estimates JSON of table ``name``."""
    kind = spec["kind"]
    if kind == "descriptive":
        est = describe(sample, spec["variables"], min_units=common["min_firms"])
        est.update(table=name, title=spec.get("title", name))
        return est
    if kind == "feols":
        return regression_table(sample, spec, common, name, seed)
    if kind == "psm":
        from cbec.tables.psm_table import psm_table

        return psm_table(sample, spec, common, name, seed=seed)
    raise ValueError(f"tables.specs.{name}.kind: unknown kind '{kind}'")


def run_table(
    sample_path: str | Path,
    outputs: dict[str, str],
    name: str,
    spec: dict,
    common: dict,
    style: dict,
    seed: int,
) -> dict:
    """Estimate, write ``outputs['estimates']`` and the rendered tex/md/html."""
    est = estimate(pl.read_parquet(sample_path), name, spec, common, seed)
    write_text_atomic(
        json.dumps(est, indent=2, ensure_ascii=False, sort_keys=False), outputs["estimates"]
    )
    write_table(
        est,
        {fmt: Path(outputs[fmt]) for fmt in ("tex", "md", "html")},
        stat=style["stat"],
        lang=style["lang"],
        show_controls=bool(spec.get("show_controls", False)),
    )
    return est

"""The paper's published coefficient cells of Tables 2-7 (``paper_results.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PAPER_RESULTS = Path(__file__).with_name("paper_results.yaml")
TABLES = ("table2", "table3", "table4", "table5", "table6", "table7")


def load_paper_results(path: Path = PAPER_RESULTS) -> dict[str, Any]:
    """The published Tables 2-7: per table its source and columns (see the YAML header)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    missing = [t for t in TABLES if t not in data]
    if missing:
        raise ValueError(f"{path}: tables missing: {', '.join(missing)}")
    return data


def paper_cells(paper: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per published coefficient cell: table, paper and our column, term, b, t."""
    rows = []
    for table in TABLES:
        for col in paper[table]["columns"]:
            for term, cell in col["coef"].items():
                rows.append(
                    {
                        "table": table,
                        "paper_column": int(col["paper"]),
                        "our_column": int(col["ours"]),
                        "depvar": col["depvar"],
                        "term": term,
                        "paper_b": float(cell["b"]),
                        "paper_t": float(cell["t"]),
                    }
                )
    return rows


def paper_columns(paper: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per published column: table, paper and our column, N and R² (None if absent)
    and the note on the paper's R² (None if none)."""
    return [
        {
            "table": table,
            "paper_column": int(col["paper"]),
            "our_column": int(col["ours"]),
            "depvar": col["depvar"],
            "paper_n": int(col["n"]),
            "paper_r2": None if col.get("r2") is None else float(col["r2"]),
            "r2_note": col.get("r2_note"),
        }
        for table in TABLES
        for col in paper[table]["columns"]
    ]

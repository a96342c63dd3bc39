"""Which tables the oracle re-estimates (no heavy imports: the Snakefile reads it to make one
``oracle_table`` job per table)."""

from __future__ import annotations

from typing import Any

ORACLE_TABLES = ("table2", "table3", "table4", "table6", "table7")
ORACLE_KINDS = ("feols", "psm")


def oracle_names(specs: dict[str, Any]) -> list[str]:
    """The tables of :data:`ORACLE_TABLES` present in ``specs`` whose kind is one of
    :data:`ORACLE_KINDS`, in that order."""
    return [n for n in ORACLE_TABLES if n in specs and specs[n].get("kind") in ORACLE_KINDS]

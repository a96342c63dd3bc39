"""Aggregation of customs transactions to party-years, lazily (customs is the largest input)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cbec.data.io import ZERO_IS_MISSING, load_dictionary, map_columns, read_raw
from cbec.errors import InputError

#: pattern of an all-zero zip or phone (a placeholder, never a corroborating value)
_ZEROS = r"^[\s0.+\-()]*$"


def _missing_str(e: pl.Expr, canon: str) -> pl.Expr:
    """Blank text (and an all-zero zip or phone) as null, lazily."""
    blank = e == ""
    if canon in ZERO_IS_MISSING:
        blank = blank | e.str.contains(_ZEROS)
    return pl.when(blank).then(None).otherwise(e)


REQUIRED = ["party_name", "hs8", "destination", "value_usd"]
EXPORT_FLAGS = ["出口", "export", "exports", "e", "1"]


def scan_customs(path: str | Path, encoding: str = "auto") -> pl.LazyFrame:
    """A lazy frame of one customs file with canonical columns.

    Parquet files with numeric columns stored as numbers are scanned lazily (streaming);
    anything else (CSV, Stata, numbers stored as text) goes through the eager checked reader.
    """
    path = Path(path)
    spec = load_dictionary()["customs"]
    if path.suffix.lower() == ".parquet" and path.exists() and path.stat().st_size > 0:
        try:
            schema = pl.read_parquet_schema(path)
        except Exception as err:
            raise InputError(path, None, f"cannot read file: {type(err).__name__}: {err}") from err
        empty = pl.DataFrame(schema=schema)
        _, found = map_columns(empty, "customs", path)
        # two headers for one variable ("+"): resolved by the eager reader
        numeric_ok = all("+" not in raw for raw in found.values()) and all(
            schema[found[c]].is_numeric()
            for c in found
            if spec[c]["dtype"] in {"float", "int"} and "+" not in found[c]
        )
        if numeric_ok:
            for col in REQUIRED:
                if col not in found:
                    raise InputError(
                        path,
                        col,
                        "required column is missing (looked for: "
                        + ", ".join(spec[col]["raw"])
                        + ")",
                    )
            exprs = []
            for canon, info in spec.items():
                if canon in found:
                    e = pl.col(found[canon])
                    if info["dtype"] == "str":
                        e = _missing_str(e.cast(pl.String).str.strip_chars(), canon)
                    elif info["dtype"] == "float":
                        e = e.cast(pl.Float64)
                        e = pl.when(e.is_finite()).then(e)  # NaN and +-inf are missing
                    else:
                        e = e.cast(pl.Int64)
                    exprs.append(e.alias(canon))
                else:
                    exprs.append(pl.lit(None, dtype=pl.String).alias(canon))
            return pl.scan_parquet(path).select(exprs)
    return read_raw(path, "customs", required=REQUIRED, encoding=encoding).lazy()


def aggregate_party_year(lf: pl.LazyFrame, year: int) -> pl.LazyFrame:
    """Exports per party and year: value, number of destination markets and HS8 products."""
    flow = pl.col("flow").cast(pl.String).str.to_lowercase().str.strip_chars()
    is_export = flow.is_null() | flow.is_in(EXPORT_FLAGS)
    key = pl.coalesce(
        pl.col("party_code"), pl.lit("name:") + pl.col("party_name").str.strip_chars()
    )
    return (
        lf.filter(is_export)
        .with_columns(key.alias("party_key"))
        .group_by("party_key")
        .agg(
            pl.col("party_code").drop_nulls().first(),
            pl.col("party_name").drop_nulls().mode().sort().first(),
            pl.col("zip").drop_nulls().mode().sort().first(),
            pl.col("phone").drop_nulls().mode().sort().first(),
            pl.col("value_usd").sum().alias("export_value"),
            pl.col("destination").drop_nulls().n_unique().alias("n_markets"),
            pl.col("hs8").drop_nulls().n_unique().alias("n_products"),
            pl.len().alias("n_transactions"),
        )
        .with_columns(pl.lit(year, dtype=pl.Int64).alias("year"))
        .sort("party_key")
    )

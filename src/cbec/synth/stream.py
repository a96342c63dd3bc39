"""Writing a large raw file chunk by chunk: parquet row groups, or CSV appended in GBK."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .customs import CustomsYear

#: transaction rows materialized at a time when a customs year is written (~0.3 GB of text)
CHUNK_ROWS = 1_000_000


def write_chunks(frames: Iterable[pl.DataFrame], path: Path, encoding: str = "gbk") -> int:
    """Write ``frames`` (one schema) to ``path`` one at a time: parquet (zstd level 1, one row
    group per frame) or, for a ``.csv`` path, CSV text encoded as ``encoding`` (header once).
    Returns the number of rows written."""
    path = Path(path)
    n = 0
    if path.suffix.lower() == ".csv":
        with open(path, "wb") as fh:
            for i, df in enumerate(frames):
                fh.write(df.write_csv(include_header=i == 0).encode(encoding))
                n += df.height
        return n
    if path.suffix.lower() != ".parquet":
        raise ValueError(f"{path}: chunked writing supports .parquet and .csv")
    writer: pq.ParquetWriter | None = None
    try:
        for df in frames:
            table = df.to_arrow()
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema, compression="zstd", compression_level=1)
            writer.write_table(pa.Table.from_batches(table.cast(schema).to_batches(), schema))
            n += df.height
    finally:
        if writer is not None:
            writer.close()
    return n


def write_customs_year(
    year: CustomsYear, path: Path, chunk_rows: int = CHUNK_ROWS, encoding: str = "gbk"
) -> int:
    """Write one customs year ``chunk_rows`` rows at a time (never the year's text at once)
    into a temporary sibling renamed to ``path`` at the end (a failed job leaves no
    half-written file); returns the number of rows written."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    starts = range(0, max(year.height, 1), chunk_rows)
    try:
        n = write_chunks((year.rows(a, a + chunk_rows) for a in starts), tmp, encoding)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n

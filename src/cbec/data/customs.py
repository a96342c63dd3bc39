"""Aggregation of customs transactions to party-years, one year at a time in bounded memory.

Customs is the largest input (tens of millions of rows a year at real volume). A year is
never held in memory: parquet with numeric columns stored as numbers is scanned lazily and
aggregated by polars' streaming engine; any other delivery (CSV in UTF-8 / GBK / GB18030,
Stata ``.dta``, parquet with numbers stored as text) is read chunk by chunk through the same
checked coercion as :func:`cbec.data.io.read_raw` and staged as parquet parts, which are then
scanned the same way. Only the columns the aggregation needs are kept.
"""

from __future__ import annotations

import codecs
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from cbec.data.io import (
    CODE_WIDTH,
    ZERO_IS_MISSING,
    coerce,
    load_dictionary,
    map_columns,
    sniff_delimiter,
    sniff_format,
)
from cbec.errors import InputError

log = logging.getLogger("cbec.data.customs")

#: pattern of an all-zero zip or phone (a placeholder, never a corroborating value)
_ZEROS = r"^[\s0.+\-()]*$"

REQUIRED = ["party_name", "hs8", "destination", "value_usd"]
EXPORT_FLAGS = ["出口", "export", "exports", "e", "1"]
#: canonical columns the party-year aggregation reads (the rest of a delivery is skipped)
AGG_COLUMNS = [
    "party_code",
    "party_name",
    "zip",
    "phone",
    "hs8",
    "destination",
    "value_usd",
    "flow",
]
#: rows per chunk of a CSV, .dta or text-typed parquet delivery (about 0.2-0.5 GB in memory)
CHUNK_ROWS = 1_000_000
_BLOCK = 1 << 24  # bytes per block when a CSV is transcoded to UTF-8


@dataclass
class Scan:
    """A lazy frame of one customs year with canonical column names, and the expressions that
    clean its text columns as :func:`cbec.data.io.read_raw` does (empty when the frame is
    already clean). The aggregation cleans distinct values, not every row."""

    frame: pl.LazyFrame
    clean: dict[str, pl.Expr] = field(default_factory=dict)


def _lazy_str(name: str, dtype: pl.DataType, canon: str) -> pl.Expr:
    """A text column as :func:`cbec.data.io.read_raw` coerces it, as a lazy expression: codes
    stored as floats lose their ``.0``, text is stripped and NFKC-normalized, blank text (and an
    all-zero zip or phone) is null, code columns are zero-padded."""
    e = pl.col(name)
    if dtype.is_float():
        e = e.cast(pl.Int64, strict=False)
    e = e.cast(pl.String).str.strip_chars().str.normalize("NFKC")
    blank = e.str.strip_chars() == ""
    if canon in ZERO_IS_MISSING:
        blank = blank | e.str.contains(_ZEROS)
    e = pl.when(blank).then(None).otherwise(e)
    if canon in CODE_WIDTH:
        e = e.str.replace(r"\.0+$", "").str.zfill(CODE_WIDTH[canon])
    return e


def _check_required(found: dict[str, str], path: Path) -> None:
    spec = load_dictionary()["customs"]
    for col in REQUIRED:
        if col not in found:
            raise InputError(
                path,
                col,
                "required column is missing (looked for: " + ", ".join(spec[col]["raw"]) + ")",
            )


def _lazy_parquet(path: Path, columns: list[str]) -> Scan | None:
    """A lazy scan of a parquet delivery with canonical ``columns`` (text as delivered) and
    the expressions that clean its text columns, or None when its numbers are stored as text
    or two headers spell one variable (then it is read chunk by chunk)."""
    spec = load_dictionary()["customs"]
    try:
        schema = pl.read_parquet_schema(path)
    except Exception as err:
        raise InputError(path, None, f"cannot read file: {type(err).__name__}: {err}") from err
    _, found = map_columns(pl.DataFrame(schema=schema), "customs", path)
    if any("+" in raw for raw in found.values()):
        return None
    if not all(schema[found[c]].is_numeric() for c in found if spec[c]["dtype"] != "str"):
        return None
    _check_required(found, path)
    exprs, clean = [], {}
    for canon in columns:
        want = spec[canon]["dtype"]
        if canon not in found:
            dtype = {"str": pl.String, "float": pl.Float64, "int": pl.Int64}[want]
            exprs.append(pl.lit(None, dtype=dtype).alias(canon))
        elif want == "str":
            exprs.append(pl.col(found[canon]).alias(canon))
            clean[canon] = _lazy_str(canon, schema[found[canon]], canon).alias(canon)
        elif want == "float":
            e = pl.col(found[canon]).cast(pl.Float64)
            exprs.append(pl.when(e.is_finite()).then(e).alias(canon))  # NaN, +-inf missing
        else:
            exprs.append(pl.col(found[canon]).cast(pl.Int64).alias(canon))
    return Scan(pl.scan_parquet(path).select(exprs), clean)


def _utf8_copy(path: Path, encoding: str, out: Path) -> Path:
    """``path`` transcoded block by block to UTF-8 at ``out`` (auto: UTF-8, else GB18030)."""
    encodings = ["utf-8-sig", "gb18030"] if encoding == "auto" else [encoding]
    for enc in encodings:
        dec = codecs.getincrementaldecoder(enc)()
        offset = 0
        try:
            with open(path, "rb") as src, open(out, "w", encoding="utf-8", newline="") as dst:
                while block := src.read(_BLOCK):
                    dst.write(dec.decode(block))
                    offset += len(block)
                dst.write(dec.decode(b"", final=True))
            return out
        except UnicodeDecodeError as err:
            last, at = err, offset + err.start
    raise InputError(
        path,
        None,
        f"cannot decode the file as {' or '.join(encodings)} (byte {at}: "
        f"{last.object[last.start : last.start + 4]!r}); set inputs.csv_encoding in config.yaml",
    )


def _csv_chunks(path: Path, encoding: str, rows: int, work: Path) -> Iterator[pl.DataFrame]:
    utf8 = _utf8_copy(path, encoding, work / "utf8.csv")
    with open(utf8, encoding="utf-8") as fh:
        sep = sniff_delimiter(fh.readline())
    lf = pl.scan_csv(utf8, infer_schema=False, separator=sep)
    yield from lf.collect_batches(chunk_size=rows)


def _dta_chunks(path: Path, encoding: str, rows: int) -> Iterator[pl.DataFrame]:
    import pyreadstat

    enc = None if encoding == "auto" else encoding
    chunks = pyreadstat.read_file_in_chunks(
        pyreadstat.read_dta, str(path), chunksize=rows, encoding=enc
    )
    for pdf, _ in chunks:
        yield pl.from_pandas(pdf)


def raw_chunks(path: Path, encoding: str, rows: int, work: Path) -> Iterator[pl.DataFrame]:
    """The rows of a raw file as delivered (CSV: all text), ``rows`` at a time."""
    fmt = sniff_format(path)
    if fmt == "parquet":
        yield from pl.scan_parquet(path).collect_batches(chunk_size=rows)
    elif fmt == "dta":
        yield from _dta_chunks(path, encoding, rows)
    elif path.suffix.lower() in {".xls", ".xlsx"}:
        raise InputError(path, None, f"unsupported file type '{path.suffix.lower()}'")
    else:
        yield from _csv_chunks(path, encoding, rows, work)


def _raw_text(s: pl.Series) -> pl.Series:
    """A text column as delivered; codes stored as floats lose their ``.0`` (as read_raw)."""
    return (s.cast(pl.Int64, strict=False) if s.dtype.is_float() else s).cast(pl.String)


def _stage_chunk(
    chunk: pl.DataFrame, path: Path, first_row: int, columns: list[str]
) -> pl.DataFrame:
    """A chunk's canonical ``columns``: numbers coerced and checked as read_raw checks them,
    text as delivered (cleaned later, on distinct values). ``first_row``: the chunk's first
    data row in the file (an error's row number is the chunk's)."""
    spec = load_dictionary()["customs"]
    try:
        mapped, found = map_columns(chunk, "customs", path)
        _check_required(found, path)
        num = coerce(
            mapped.select(c for c in mapped.columns if spec[c]["dtype"] != "str"), "customs", path
        )
    except InputError as err:
        if not first_row:
            raise
        problem = f"{err.problem} (rows counted from data row {first_row + 1}: read in chunks)"
        raise InputError(path, err.column, problem) from err
    dtypes = {"str": pl.String, "float": pl.Float64, "int": pl.Int64}
    out = []
    for c in columns:
        if c in num.columns:
            out.append(num[c])
        elif c in mapped.columns:
            out.append(_raw_text(mapped[c]).alias(c))
        else:
            out.append(pl.Series(c, [None] * chunk.height, dtype=dtypes[spec[c]["dtype"]]))
    return pl.DataFrame(out)


def stage_customs(
    path: Path, encoding: str, work: Path, columns: list[str], rows: int = CHUNK_ROWS
) -> Scan:
    """Read ``path`` chunk by chunk into canonical ``columns`` (numbers checked as
    :func:`cbec.data.io.read_raw` checks them, text as delivered), write each chunk as a
    parquet part under ``work`` and return a lazy scan of the parts with the text cleaning.
    ``work`` must hold no parts yet (a file's scan reads every part in it)."""
    if any(work.glob("part-*.parquet")):
        raise ValueError(f"{work}: already holds staged parts (one work directory per file)")
    n = 0
    try:
        for i, chunk in enumerate(raw_chunks(path, encoding, rows, work)):
            part = _stage_chunk(chunk, path, n, columns)
            part.write_parquet(work / f"part-{i:06d}.parquet", compression="lz4")
            n += chunk.height
    except InputError:
        raise
    except Exception as err:  # polars/pyreadstat errors on corrupt files
        raise InputError(path, None, f"cannot read file: {type(err).__name__}: {err}") from err
    if n == 0:
        raise InputError(path, None, "file has a header but no rows")
    spec = load_dictionary()["customs"]
    clean = {c: _lazy_str(c, pl.String(), c).alias(c) for c in columns if spec[c]["dtype"] == "str"}
    return Scan(pl.scan_parquet(work / "part-*.parquet"), clean)


def scan_customs(
    path: str | Path,
    encoding: str = "auto",
    work: str | Path | None = None,
    columns: list[str] | None = None,
    rows: int = CHUNK_ROWS,
) -> Scan:
    """One customs file as a lazy frame with canonical ``columns`` (default: all).

    Parquet with numbers stored as numbers is scanned directly; anything else is staged
    chunk by chunk as parquet parts in the directory ``work`` (which must then be given and
    must outlive the returned frame's collection)."""
    path = Path(path)
    columns = list(load_dictionary()["customs"]) if columns is None else columns
    if not path.exists():
        raise InputError(path, None, "file does not exist")
    if path.stat().st_size == 0:
        raise InputError(path, None, "file is empty (0 bytes)")
    if sniff_format(path) == "parquet":
        scan = _lazy_parquet(path, columns)
        if scan is not None:
            return scan
    if work is None:
        raise ValueError(f"{path}: a work directory is needed to read it chunk by chunk")
    return stage_customs(path, encoding, Path(work), columns, rows)


#: a party's identity columns and the distinct-value columns counted per party
_IDENTITY = ["party_code", "party_name", "zip", "phone", "flow"]
_COUNTED = {"destination": "n_markets", "hs8": "n_products"}


def _cleaned(lf: pl.LazyFrame, clean: dict[str, pl.Expr]) -> pl.LazyFrame:
    """Text cleaned, exports kept, and the party key: code, else ``name:`` + name."""
    flow = pl.col("flow").cast(pl.String).str.to_lowercase().str.strip_chars()
    key = pl.coalesce(
        pl.col("party_code"), pl.lit("name:") + pl.col("party_name").str.strip_chars()
    )
    present = [e for c, e in clean.items() if c in lf.collect_schema().names()]
    return (
        lf.with_columns(present)
        .filter(flow.is_null() | flow.is_in(EXPORT_FLAGS))
        .with_columns(key.alias("party_key"))
    )


def _mode(ident: pl.DataFrame, col: str) -> pl.DataFrame:
    """Per party, the most frequent non-missing value of ``col`` (ties: the smallest)."""
    w = ident.drop_nulls(col).group_by("party_key", col).agg(pl.col("n").sum())
    return w.group_by("party_key").agg(pl.col(col).filter(pl.col("n") == pl.col("n").max()).min())


def aggregate_year(scan: Scan, year: int) -> pl.DataFrame:
    """Exports per party and year: value, number of destination markets and HS8 products,
    and the party's most frequent name, zip and phone.

    The rows are first reduced as delivered, by the streaming engine (bounded memory): per
    distinct identity (code, name, zip, phone, flow) the number of rows and the value; the
    distinct destinations and HS8 codes per identity. Only these distinct values are then
    cleaned and aggregated per party, which gives what cleaning every row and grouping would
    (up to the order of summing values)."""
    lf = scan.frame
    reduced = [lf.group_by(_IDENTITY).agg(pl.len().alias("n"), pl.col("value_usd").sum())]
    reduced += [lf.select(*_IDENTITY[:2], "flow", col).unique() for col in _COUNTED]
    # one streaming pass each (a shared scan would be cached whole in memory)
    ident, *counted = (q.collect(engine="streaming") for q in reduced)
    ident = _cleaned(ident.lazy(), scan.clean).collect()
    out = (
        ident.group_by("party_key")
        .agg(
            pl.col("party_code").drop_nulls().first(),
            pl.col("value_usd").sum().alias("export_value"),
            pl.col("n").sum().cast(pl.UInt32).alias("n_transactions"),
        )
        .join(_mode(ident, "party_name"), on="party_key", how="left", nulls_equal=True)
        .join(_mode(ident, "zip"), on="party_key", how="left", nulls_equal=True)
        .join(_mode(ident, "phone"), on="party_key", how="left", nulls_equal=True)
    )
    for (col, name), df in zip(_COUNTED.items(), counted, strict=True):
        n = (
            _cleaned(df.lazy(), scan.clean)
            .select("party_key", col)
            .drop_nulls(col)
            .unique()
            .group_by("party_key")
            .agg(pl.len().alias(name))
            .collect()
        )
        out = out.join(n, on="party_key", how="left", nulls_equal=True).with_columns(
            pl.col(name).fill_null(0)
        )
    return out.select(
        "party_key",
        "party_code",
        "party_name",
        "zip",
        "phone",
        "export_value",
        "n_markets",
        "n_products",
        "n_transactions",
        pl.lit(year, dtype=pl.Int64).alias("year"),
    ).sort("party_key")


def customs_year(
    path: str | Path, year: int, encoding: str, work: str | Path, rows: int = CHUNK_ROWS
) -> pl.DataFrame:
    """Party-year aggregates of one year's customs file, streamed (``work``: scratch
    directory for chunked formats, read ``rows`` rows at a time)."""
    return aggregate_year(scan_customs(path, encoding, work, columns=AGG_COLUMNS, rows=rows), year)


def customs_years(
    paths: Sequence[str | Path],
    years: Sequence[int],
    encoding: str,
    out: Path,
    flag: Callable[[pl.Series], pl.Series],
) -> pl.DataFrame:
    """The party-years of each year of a batch (:func:`customs_year`, one year at a time),
    stacked, with ``intermediary`` = ``flag(party_name)`` (the caller passes
    :func:`cbec.matching.names.flag_intermediaries`: ``data`` does not import ``matching``).

    A chunked year is staged next to ``out`` (not in a memory-backed ``/tmp``), in a
    directory of the year's own, removed once the year is aggregated."""
    parts = []
    for path, year in zip(map(Path, paths), years, strict=True):
        log.info("%d: reading %s (format %s)", year, path, path.suffix.lstrip(".").lower())
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.stem}-{year}-") as work:
            df = customs_year(path, year, encoding, work)
        log.info("%d: %d parties, %d transactions", year, df.height, df["n_transactions"].sum())
        df = df.with_columns(flag(df["party_name"]).alias("intermediary"))
        n = df["intermediary"].sum()
        log.info("%d: intermediaries flagged: %d of %d parties", year, n, df.height)
        parts.append(df)
    return pl.concat(parts, how="vertical_relaxed")

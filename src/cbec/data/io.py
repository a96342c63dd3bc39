"""Readers for raw inputs in the formats real deliveries come in.

Parquet, CSV (UTF-8, GBK or GB18030) and Stata ``.dta``. Raw headers are mapped to canonical
names through the data dictionary (``dictionary.yaml``); values are coerced to the canonical
type. Every problem raises :class:`~cbec.errors.InputError` naming the file, the column and
what is wrong.
"""

from __future__ import annotations

import io
import unicodedata
from functools import cache
from pathlib import Path

import polars as pl
import yaml

from cbec.errors import InputError

DICTIONARY_PATH = Path(__file__).with_name("dictionary.yaml")

#: code columns and the width they are zero-padded to (leading zeros lost in Excel/Stata)
CODE_WIDTH = {"zip": 6, "region_code": 6, "industry_code": 4}

_DTYPES = {"str": pl.String, "int": pl.Int64, "float": pl.Float64}


@cache
def load_dictionary() -> dict[str, dict[str, dict]]:
    """The data dictionary: ``{kind: {canonical: {dtype, raw: [...], desc}}}``."""
    with open(DICTIONARY_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _norm_header(h: str) -> str:
    """Header as compared: NFKC (full-width brackets and digits), no spaces, lower case."""
    return unicodedata.normalize("NFKC", str(h)).replace(" ", "").replace("\u3000", "").lower()


def _decode_csv(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    encodings = ["utf-8-sig", "gb18030"] if encoding == "auto" else [encoding]
    for enc in encodings:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError as err:
            last = err
    raise InputError(
        path,
        None,
        f"cannot decode the file as {' or '.join(encodings)} "
        f"(byte {last.start}: {raw[last.start : last.start + 4]!r}); "
        "set inputs.csv_encoding in config.yaml",
    )


#: field separators a delivery may use, in order of preference on a tie
DELIMITERS = (",", "\t", ";", "|")


def sniff_delimiter(text: str) -> str:
    """The separator of a CSV text: the candidate most frequent in its header line."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def sniff_format(path: Path) -> str:
    """The file's format from its first bytes: parquet | dta | csv (whatever its suffix says)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"PAR1"):
        return "parquet"
    old_stata = head[:1] in {b"\x71", b"\x72", b"\x73"} and head[1:2] in {b"\x01", b"\x02"}
    if head.startswith(b"<stata_dta>") or old_stata:
        return "dta"
    return "csv"


def read_table(path: str | Path, encoding: str = "auto") -> pl.DataFrame:
    """Read a raw file with every column as delivered (CSV: all as strings).

    The format comes from the content (parquet and Stata magic bytes), so a CSV saved under
    a ``.parquet`` name is still read; binary content that is neither fails to decode as text
    and is reported so.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "file does not exist")
    if path.stat().st_size == 0:
        raise InputError(path, None, "file is empty (0 bytes)")
    fmt = sniff_format(path)
    suffix = path.suffix.lower()
    try:
        if fmt == "parquet":
            df = pl.read_parquet(path)
        elif fmt == "csv" and suffix not in {".xls", ".xlsx"}:
            text = _decode_csv(path, encoding)
            sep = sniff_delimiter(text)
            df = pl.read_csv(io.StringIO(text), infer_schema=False, separator=sep)
        elif fmt == "dta":
            import pyreadstat

            pdf, _ = pyreadstat.read_dta(
                str(path), encoding=None if encoding == "auto" else encoding
            )
            df = pl.from_pandas(pdf)
        else:
            raise InputError(path, None, f"unsupported file type '{suffix}'")
    except InputError:
        raise
    except Exception as err:  # polars/pyarrow/pyreadstat errors on corrupt files
        raise InputError(path, None, f"cannot read file: {type(err).__name__}: {err}") from err
    if df.height == 0:
        raise InputError(path, None, "file has a header but no rows")
    return df


def _header_hits(df: pl.DataFrame, kind: str) -> dict[str, list[str]]:
    """``{canonical: [raw headers of the file that spell it]}`` (a raw header used once)."""
    spec = load_dictionary()[kind]
    taken: set[str] = set()
    hits: dict[str, list[str]] = {}
    for canon, info in spec.items():
        spellings = {_norm_header(r) for r in [canon, *info["raw"]]}
        cols = [c for c in df.columns if _norm_header(c) in spellings and c not in taken]
        if cols:
            hits[canon] = cols
            taken.update(cols)
    return hits


def _one_of(df: pl.DataFrame, canon: str, cols: list[str], kind: str, path) -> pl.Series:
    """The column among ``cols`` (two headers for one variable) that has data; their
    agreement where both have it; an error naming both headers when they conflict."""
    want = load_dictionary()[kind][canon]["dtype"]
    vals = [
        (_coerce_str(df[c], canon) if want == "str" else _coerce_num(df[c], canon, want, path))[0]
        for c in cols
    ]
    with_data = [(c, v) for c, v in zip(cols, vals, strict=True) if v.null_count() < v.len()]
    if not with_data:
        return vals[0]
    col0, out = with_data[0]
    for c, v in with_data[1:]:
        both = out.is_not_null() & v.is_not_null()
        differ = both & (out != v)
        if differ.any():
            i = int(differ.arg_true()[0])
            raise InputError(
                path,
                canon,
                f"headers '{col0}' and '{c}' both spell this variable and disagree in "
                f"{int(differ.sum())} row(s), e.g. row {i + 1}; delete the wrong one",
            )
        out = out.fill_null(v)
    return out


def map_columns(df: pl.DataFrame, kind: str, path: str | Path) -> tuple[pl.DataFrame, dict]:
    """Rename raw headers to canonical names; return the frame and ``{canonical: raw}``.

    When two headers spell one variable (a Chinese and a pinyin header), the one with data
    is used (both, where they agree); conflicting data stop the run naming both headers.
    """
    hits = _header_hits(df, kind)
    found = {canon: cols[0] for canon, cols in hits.items()}
    exprs = []
    for canon, cols in hits.items():
        if len(cols) == 1:
            exprs.append(df[cols[0]].alias(canon))
        else:
            exprs.append(_one_of(df, canon, cols, kind, path).alias(canon))
            found[canon] = "+".join(cols)
    out = pl.DataFrame(exprs, schema=None) if exprs else df.select([])
    return out, found


def header_report(df: pl.DataFrame, kind: str) -> tuple[list[str], list[str]]:
    """(headers the dictionary does not know, dictionary variables the file lacks)."""
    hits = _header_hits(df, kind)
    used = {c for cols in hits.values() for c in cols}
    unknown = [c for c in df.columns if c not in used]
    absent = [c for c in load_dictionary()[kind] if c not in hits]
    return unknown, absent


#: code columns whose all-zero value is a placeholder, not a code ("000000" zips, "0" phones)
ZERO_IS_MISSING = ("zip", "phone")


def _missing_str(s: pl.Series, col: str) -> tuple[pl.Series, int]:
    """Blank, whitespace-only (and all-zero zip/phone) strings as null; how many there were."""
    blank = s.is_not_null() & (s.str.strip_chars() == "")
    if col in ZERO_IS_MISSING:
        blank = blank | (s.is_not_null() & s.str.contains(r"^[\s0.+\-()]*$"))
    n = int(blank.sum())
    return (s.set(blank, None) if n else s), n


def _missing_num(s: pl.Series) -> tuple[pl.Series, int]:
    """NaN and +-inf as null; how many there were."""
    if not s.dtype.is_float():
        return s, 0
    bad = s.is_not_null() & ~s.is_finite()
    n = int(bad.sum())
    return (s.set(bad, None) if n else s), n


def _coerce_str(s: pl.Series, col: str) -> tuple[pl.Series, int]:
    if s.dtype.is_numeric():
        # codes exported as numbers: 315000.0 -> "315000"
        if s.dtype.is_float():
            s = s.cast(pl.Int64, strict=False)
        s = s.cast(pl.String)
    else:
        s = s.cast(pl.String)
    s = s.str.strip_chars().str.normalize("NFKC")
    s, n = _missing_str(s, col)
    if col in CODE_WIDTH:
        s = s.str.replace(r"\.0+$", "").str.zfill(CODE_WIDTH[col])
    return s, n


def _coerce_num(s: pl.Series, col: str, want: str, path: str | Path) -> tuple[pl.Series, int]:
    n_blank = 0
    if s.dtype == pl.String:
        clean = s.str.normalize("NFKC").str.strip_chars().str.replace_all(",", "")
        n_blank = int((clean == "").sum())
        clean = clean.replace("", None)
        conv = clean.cast(pl.Float64, strict=False)
        bad = clean.is_not_null() & conv.is_null()
        if bad.any():
            idx = int(bad.arg_true()[0])
            raise InputError(
                path,
                col,
                f"{int(bad.sum())} non-numeric value(s), e.g. {clean[idx]!r} in row {idx + 1}",
            )
        s = conv
    elif not (s.dtype.is_numeric() or s.dtype == pl.Null or s.dtype == pl.Boolean):
        raise InputError(path, col, f"expected a number, found type {s.dtype}")
    if s.dtype.is_float():
        s, n_bad = _missing_num(s)
        n_blank += n_bad
    if want == "int":
        f = s.cast(pl.Float64)
        frac = f.is_not_null() & (f != f.round(0))
        if frac.any():
            idx = int(frac.arg_true()[0])
            raise InputError(path, col, f"expected a whole number, found {f[idx]} in row {idx + 1}")
    return s.cast(_DTYPES[want]), n_blank


def coerce(
    df: pl.DataFrame, kind: str, path: str | Path, counts: dict[str, int] | None = None
) -> pl.DataFrame:
    """Canonical types; blank, whitespace-only, NaN and +-inf values become null.

    ``counts`` (if given) receives, per column, how many values were such disguised
    missings (blank or whitespace text, NaN, inf, all-zero zip or phone).
    """
    spec = load_dictionary()[kind]
    exprs = []
    for col in df.columns:
        want = spec[col]["dtype"]
        if want == "str":
            s, n = _coerce_str(df[col], col)
        else:
            s, n = _coerce_num(df[col], col, want, path)
        if counts is not None:
            counts[col] = n
        exprs.append(s.alias(col))
    return pl.DataFrame(exprs) if exprs else df


def missing_counts(df: pl.DataFrame, disguised: dict[str, int]) -> pl.DataFrame:
    """Per column: ``missing`` (null after reading) and ``disguised`` (of which: blank text,
    NaN, inf or an all-zero zip/phone in the file)."""
    return pl.DataFrame(
        {
            "column": df.columns,
            "missing": [int(df[c].null_count()) for c in df.columns],
            "disguised": [int(disguised.get(c, 0)) for c in df.columns],
        },
        schema={"column": pl.String, "missing": pl.Int64, "disguised": pl.Int64},
    )


def read_raw(
    path: str | Path,
    kind: str,
    required: list[str] | None = None,
    encoding: str = "auto",
    counts: dict[str, int] | None = None,
    headers: dict[str, list[str]] | None = None,
) -> pl.DataFrame:
    """Read one raw input of ``kind`` (asif | customs | members) into canonical columns.

    Columns of the dictionary absent from the file are added as nulls unless listed in
    ``required``, whose absence is an error naming every raw spelling looked for. Blank,
    whitespace-only, NaN and inf values are null; ``counts`` receives how many per column;
    ``headers`` receives ``unknown`` (headers not in the dictionary) and ``absent``
    (dictionary variables without a header in the file).
    """
    df = read_table(path, encoding)
    if headers is not None:
        headers["unknown"], headers["absent"] = header_report(df, kind)
    mapped, found = map_columns(df, kind, path)
    spec = load_dictionary()[kind]
    for col in required or []:
        if col not in found:
            raise InputError(
                path,
                col,
                "required column is missing (looked for: " + ", ".join(spec[col]["raw"]) + ")",
            )
    out = coerce(mapped, kind, path, counts)
    missing = [c for c in spec if c not in out.columns]
    if missing:
        out = out.with_columns(
            [pl.lit(None, dtype=_DTYPES[spec[c]["dtype"]]).alias(c) for c in missing]
        )
    return out.select(list(spec))


def read_csv_checked(
    path: str | Path, columns: dict[str, type[pl.DataType] | pl.DataType], encoding: str = "auto"
) -> pl.DataFrame:
    """Read a small external CSV whose columns are named canonically and check their types."""
    df = read_table(path, encoding)
    for col, dtype in columns.items():
        if col not in df.columns:
            raise InputError(path, col, "required column is missing")
        s = df[col]
        if dtype == pl.String:
            conv = s.cast(pl.String)
        else:
            conv = s.cast(dtype, strict=False)
            bad = s.is_not_null() & conv.is_null()
            if bad.any():
                idx = int(bad.arg_true()[0])
                raise InputError(path, col, f"non-numeric value {s[idx]!r} in row {idx + 1}")
            conv, _ = _missing_num(conv)
        df = df.with_columns(conv.alias(col))
    return df.select(list(columns))


def write_parquet_atomic(df: pl.DataFrame, path: str | Path) -> None:
    """Write parquet through a temporary file renamed into place: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    df.write_parquet(tmp, compression="zstd", statistics=True)
    tmp.replace(path)


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write text through a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)

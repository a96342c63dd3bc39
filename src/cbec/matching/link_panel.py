"""Brandt, Van Biesebroeck & Zhang (2012) sequential linkage of ASIF firm-years.

For every pair of years (t, t+1), records are linked in five sequential steps, each using
only keys that are *unique on both sides among the records still unmatched* (a record of
year t is unmatched if it has no forward link yet; a record of t+1 if it has no backward
link yet):

1. ``firm_code``: legal-person code (upper-cased, stripped; all-zero codes ignored);
2. ``name``: normalized firm name (:func:`cbec.matching.names.normalize_names`, ``name_key``:
   place + core, legal form ignored, branch marker kept);
3. ``legal_rep_region``: legal representative + region code (first ``region_digits`` digits:
   6 = county, 4 = city);
4. ``region_industry_phone``: region + 4-digit industry + local phone number;
5. ``found_region_industry_product``: founding year + region + industry + main product.

Then the same five steps are run on (t, t+2) for records still without a forward link in t
and without a backward link in t+2, bridging one missing year. Each record therefore has at
most one forward and one backward link; a firm is a chain of links and ``firm_id`` is the
dense rank of the chain's first record by (year, row position). Row keys are positions in
the input frame (0-based), so ids are deterministic given the input order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from cbec.matching.names import clean_text, normalize_names, normalize_phone

__all__ = ["METHODS", "link_asif_panel", "link_keys", "link_panel", "link_report"]

METHODS: list[str] = [
    "firm_code",
    "name",
    "legal_rep_region",
    "region_industry_phone",
    "found_region_industry_product",
]
_CANON = [
    "firm_code",
    "firm_name",
    "legal_rep",
    "region_code",
    "industry_code",
    "phone",
    "found_year",
    "main_product",
]


def _hash_key(parts: list[pl.Expr]) -> pl.Expr:
    """UInt64 hash of the concatenated parts; null if any part is null or empty."""
    any_null = pl.any_horizontal([p.is_null() | (p.cast(pl.String) == "") for p in parts])
    joined = pl.concat_str([p.cast(pl.String) for p in parts], separator="\x1f")
    return pl.when(any_null).then(None).otherwise(joined.hash(seed=0))


def link_keys(
    df: pl.DataFrame, keys: Mapping[str, str] | None = None, region_digits: int = 6
) -> pl.DataFrame:
    """Matching keys (UInt64 hashes, null when unusable) for the five BvBZ steps."""
    k = {c: c for c in _CANON}
    k.update(keys or {})

    def col(name: str) -> pl.Series:
        c = k[name]
        if c in df.columns:
            return df[c].cast(pl.String)
        return pl.Series(name, [None] * df.height, dtype=pl.String)

    code = col("firm_code").str.strip_chars().str.to_uppercase()
    code = pl.select(
        pl.when(code.str.contains(r"^0*$") | code.is_null()).then(None).otherwise(code)
    ).to_series()
    region = col("region_code").str.strip_chars().str.slice(0, region_digits)
    region = pl.select(
        pl.when(region.str.len_chars() == region_digits).then(region).otherwise(None)
    ).to_series()
    ind = col("industry_code").str.strip_chars()
    tmp = pl.DataFrame(
        {
            "code": code,
            "name": normalize_names(col("firm_name"))["name_key"],
            "rep": clean_text(col("legal_rep")),
            "region": region,
            "ind": ind,
            "phone": normalize_phone(col("phone")),
            "found": col("found_year").str.replace(r"\.0+$", ""),
            "product": clean_text(col("main_product")),
        }
    )
    c = pl.col
    return tmp.select(
        _hash_key([c("code")]).alias("firm_code"),
        _hash_key([c("name")]).alias("name"),
        _hash_key([c("rep"), c("region")]).alias("legal_rep_region"),
        _hash_key([c("region"), c("ind"), c("phone")]).alias("region_industry_phone"),
        _hash_key([c("found"), c("region"), c("ind"), c("product")]).alias(
            "found_region_industry_product"
        ),
    )


def _unique_keyed(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    f = frame.select("row", key).drop_nulls(key)
    return f.filter(pl.len().over(key) == 1)


def _link_pair(a: pl.DataFrame, b: pl.DataFrame, methods: list[str]) -> list[pl.DataFrame]:
    """Sequential unique-key matching between two frames of (row, keys...)."""
    out = []
    for m in methods:
        if a.height == 0 or b.height == 0:
            break
        j = _unique_keyed(a, m).join(_unique_keyed(b, m), on=m, suffix="_to")
        if j.height == 0:
            continue
        j = j.select(pl.col("row").alias("row_from"), pl.col("row_to"), pl.lit(m).alias("method"))
        out.append(j)
        a = a.join(j.select(pl.col("row_from").alias("row")), on="row", how="anti")
        b = b.join(j.select(pl.col("row_to").alias("row")), on="row", how="anti")
    return out


def link_panel(
    df: pl.DataFrame,
    year: str = "year",
    keys: Mapping[str, str] | None = None,
    *,
    region_digits: int = 6,
    methods: list[str] | None = None,
    max_gap: int = 2,
    strict_max_gap: int = 5,
    strict_methods: tuple[str, ...] = ("firm_code", "name"),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Link firm-years into a stable ``firm_id`` (BvBZ 2012).

    ``keys`` maps canonical names (firm_code, firm_name, legal_rep, region_code,
    industry_code, phone, found_year, main_product) to column names of ``df`` when they
    differ; missing columns simply disable their step. ``max_gap`` = 2 adds the (t, t+2)
    windows, 1 disables them. Firms leave the survey for several years (below the scale
    threshold, or absent in 2008–2010) and come back: for gaps beyond ``max_gap`` and up to
    ``strict_max_gap`` only the strict keys ``strict_methods`` (legal-person code, exact
    normalized name) link the records still unmatched. Returns ``(df + firm_id, links)`` with links columns
    year_from, year_to, row_from, row_to, method.
    """
    methods = list(methods or METHODS)
    bad = set(methods) - set(METHODS)
    if bad:
        raise ValueError(f"unknown linkage methods: {sorted(bad)}")
    n = df.height
    kf = link_keys(df, keys, region_digits).with_columns(
        pl.int_range(n, dtype=pl.Int64).alias("row"),
        df[year].cast(pl.Int64).alias("_year"),
    )
    years = sorted(kf["_year"].unique().drop_nulls().to_list())
    has_out = np.zeros(n, dtype=bool)
    has_in = np.zeros(n, dtype=bool)
    by_year = {y: kf.filter(pl.col("_year") == y) for y in years}
    links: list[pl.DataFrame] = []
    for gap in range(1, max(max_gap, strict_max_gap) + 1):
        gap_methods = methods if gap <= max_gap else [m for m in methods if m in strict_methods]
        if not gap_methods:
            continue
        for t in years:
            if t + gap not in by_year:
                continue
            a = by_year[t].filter(pl.Series(~has_out[by_year[t]["row"].to_numpy()]))
            b = by_year[t + gap].filter(pl.Series(~has_in[by_year[t + gap]["row"].to_numpy()]))
            for j in _link_pair(a, b, gap_methods):
                has_out[j["row_from"].to_numpy()] = True
                has_in[j["row_to"].to_numpy()] = True
                links.append(
                    j.with_columns(
                        pl.lit(t, dtype=pl.Int64).alias("year_from"),
                        pl.lit(t + gap, dtype=pl.Int64).alias("year_to"),
                    )
                )
    schema = {
        "year_from": pl.Int64,
        "year_to": pl.Int64,
        "row_from": pl.Int64,
        "row_to": pl.Int64,
        "method": pl.String,
    }
    lk = (
        pl.concat(links).select(list(schema)).cast(schema) if links else pl.DataFrame(schema=schema)
    )
    lk = lk.sort("year_from", "year_to", "row_from")
    # chains: propagate the root forward in order of the target year
    root = np.arange(n, dtype=np.int64)
    for _, g in lk.sort("year_to").group_by("year_to", maintain_order=True):
        root[g["row_to"].to_numpy()] = root[g["row_from"].to_numpy()]
    yr = kf["_year"].to_numpy()
    ids = (
        pl.DataFrame({"ry": yr[root], "rr": root})
        .select(pl.struct("ry", "rr").rank("dense").cast(pl.Int64) - 1)
        .to_series()
    )
    return df.with_columns(ids.alias("firm_id")), lk


def link_report(panel: pl.DataFrame, links: pl.DataFrame) -> dict:
    """Counts of a linked panel: firm-years, firms (distinct ``firm_id``), links, links by
    method."""
    by_method = links.group_by("method").len().sort("method")
    return {
        "firm_years": panel.height,
        "firms": panel["firm_id"].n_unique(),
        "links": links.height,
        "links_by_method": dict(zip(by_method["method"], by_method["len"], strict=True)),
    }


def link_asif_panel(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Rule link_panel: the cleaned ASIF firm-years with an Int64 ``firm_id``
    (:func:`link_panel` with its defaults), the links and their :func:`link_report`."""
    panel, links = link_panel(df)
    panel = panel.with_columns(pl.col("firm_id").cast(pl.Int64))
    return panel, links, link_report(panel, links)

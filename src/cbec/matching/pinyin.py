"""Pinyin keys for matching English / pinyin member names to Chinese firm names.

Platform members are often listed only under an English name that transliterates the trade
name (字号) in pinyin: 宁波海天塑料有限公司 -> "Ningbo Haitian Plastic Co., Ltd.". The
firm side gets one key per window of two or three Han characters of its ``name_core``
(the trade name is its first two or three characters, or follows an unstripped district),
transliterated with :mod:`pypinyin` (toneless, syllables joined, lower case); every reading
of a polyphonic character (重 zhong / chong) gives a key. The member side gets one key per
word of its English name (lower case, letters only). A member and a firm whose keys agree
within the same city are candidates; the caller decides with corroborating fields.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import polars as pl

__all__ = [
    "WINDOWS",
    "city_pinyin",
    "english_city",
    "english_tokens",
    "pinyin_windows",
    "place_keys",
]

# window lengths (Han characters) of the firm-side keys, and the first start position
WINDOWS: tuple[int, ...] = (2, 3)
MAX_START = 3
# words of English company names that are never a transliterated trade name
STOPWORDS: frozenset[str] = frozenset(
    "co ltd limited company corp corporation inc group stock factory industrial industry "
    "and of the trading trade import export international economic foreign sci tech "
    "branch office manufacturing manufacturer".split()
)


@lru_cache(maxsize=200_000)
def _readings(ch: str) -> tuple[str, ...]:
    from pypinyin import Style, pinyin

    out = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    return tuple(dict.fromkeys(out[0])) if out and out[0] else ()


def _keys_of(window: str) -> list[str]:
    """Every transliteration of a window (product of the characters' readings, at most 8)."""
    parts = [_readings(c) for c in window]
    if not all(parts):
        return []
    return ["".join(x) for x in itertools.islice(itertools.product(*parts), 8)]


def pinyin_windows(ids: pl.Series, core: pl.Series) -> pl.DataFrame:
    """(id, key, w, start): pinyin of every 2- and 3-character (``w``) Han window of
    ``core`` starting at positions 0..MAX_START-1 (null cores give no rows)."""
    df = pl.DataFrame({"id": ids, "core": core}).drop_nulls("core")
    wins = pl.concat(
        [
            df.select(
                "id",
                pl.col("core").str.slice(s, n).alias("win"),
                pl.lit(s, pl.Int32).alias("start"),
            )
            for n in WINDOWS
            for s in range(MAX_START)
        ]
    ).filter(pl.col("win").str.contains(rf"^\p{{Han}}{{{min(WINDOWS)},}}$"))
    wins = wins.filter(pl.col("win").str.len_chars().is_in(list(WINDOWS)))
    uniq = wins["win"].unique().to_list()
    m = pl.DataFrame(
        [(w, k) for w in uniq for k in _keys_of(w)],
        schema={"win": pl.String, "key": pl.String},
        orient="row",
    )
    return (
        wins.join(m, on="win")
        .select("id", "key", pl.col("win").str.len_chars().cast(pl.Int32).alias("w"), "start")
        .unique(maintain_order=True)
    )


def _english_words(ids: pl.Series, name_en: pl.Series) -> pl.DataFrame:
    """(id, key): every lower-case run of letters of each English name, in order."""
    df = pl.DataFrame({"id": ids, "en": name_en.cast(pl.String)}).drop_nulls("en")
    return df.select(
        "id",
        pl.col("en")
        .str.normalize("NFKC")
        .str.to_lowercase()
        .str.extract_all(r"[a-z]+")
        .alias("key"),
    ).explode("key")


def english_tokens(ids: pl.Series, name_en: pl.Series) -> pl.DataFrame:
    """(id, key): the lower-case words (letters only, >= 3 letters) of English names that are
    not :data:`STOPWORDS` nor the leading place: the first word when it names a place
    ("Ningbo Haitian ..."), and the second too when the first names a province and the
    second a city ("Zhejiang Ningbo Haitian ..."). A place word later in the name
    is kept: it may be the trade name ("Nanping Ningde Building Materials")."""
    pk = place_keys()
    prov = pk.filter(pl.col("level") == "prov")["key"].implode()
    city = pk.filter(pl.col("level") == "city")["key"].implode()
    local = pk.filter(pl.col("level") != "prov")["key"].implode()
    tok = _english_words(ids, name_en).with_columns(pl.int_range(pl.len()).over("id").alias("pos"))
    first_is = tok.filter(pl.col("pos") == 0).select(
        "id", pl.col("key").is_in(prov).alias("p0"), pl.col("key").is_in(local).alias("l0")
    )
    lead = pl.col("pos") == 0
    second = (pl.col("pos") == 1) & pl.col("p0") & pl.col("key").is_in(city)
    return (
        tok.join(first_is, on="id", how="left")
        .filter(~((lead & (pl.col("p0") | pl.col("l0"))) | second))
        .filter((pl.col("key").str.len_chars() >= 3) & ~pl.col("key").is_in(list(STOPWORDS)))
        .select("id", "key")
        .unique(maintain_order=True)
    )


@lru_cache(maxsize=1)
def _place_names() -> tuple[tuple[str, str, str], ...]:
    """(short name, code, level) of every province ("prov": 2-digit code), prefecture-level
    city or municipality ("city": 4-digit, municipalities PP00) and county-level city or
    county ("county": 6-digit) of cpca's division codes; names without a safe short form
    are left out."""
    from cbec.matching.names import MUNICIPALITIES, _read_adcodes, _short

    prov, city, county = _read_adcodes()
    out = []
    for p2, name in prov.items():
        muni = p2 in MUNICIPALITIES
        out.append(
            (_short(name, "prov") or name, p2 + "00" if muni else p2, "city" if muni else "prov")
        )
    for c4, name in city.items():
        if c4[:2] not in MUNICIPALITIES:
            out.append((_short(name, "city") or name, c4, "city"))
    for c6, name in county.items():
        if (short := _short(name, "county")) is not None:
            out.append((short, c6, "county"))
    return tuple(out)


@lru_cache(maxsize=1)
def place_keys() -> pl.DataFrame:
    """(key, level): every pinyin reading (polyphonic characters: each reading, 漯河 luohe /
    tahe) of the short name of every province, city and county (:func:`_place_names`)."""
    rows = [(k, lvl) for n, _, lvl in _place_names() for k in _keys_of(n)]
    return pl.DataFrame(rows, schema={"key": pl.String, "level": pl.String}, orient="row").unique()


@lru_cache(maxsize=1)
def city_pinyin() -> pl.DataFrame:
    """(key, city): pinyin of the short name of every prefecture-level city (4-digit code;
    municipalities PP00) from cpca's ``adcodes.csv`` (a key two cities share, taizhou = 台州
    and 泰州, gives both); then the other readings of polyphonic characters (漯河 tahe besides
    luohe) where they are no city's usual reading."""
    from pypinyin import lazy_pinyin

    names = [(n, c) for n, c, lvl in _place_names() if lvl == "city"]
    schema = {"key": pl.String, "city": pl.String}
    main = pl.DataFrame(
        [("".join(lazy_pinyin(n)).lower(), c) for n, c in names], schema=schema, orient="row"
    ).unique()
    alt = pl.DataFrame(
        [(k, c) for n, c in names for k in _keys_of(n)], schema=schema, orient="row"
    ).unique()
    return pl.concat([main, alt.join(main, on="key", how="anti")]).sort("key", "city")


def english_city(ids: pl.Series, name_en: pl.Series) -> pl.DataFrame:
    """(id, city): the cities whose pinyin is the first word of the English name that names
    a city ("Ningbo Haitian Plastic Co., Ltd." -> 3302; "Taizhou ..." -> 台州 3310 and 泰州
    3212: both are candidates, the other fields decide)."""
    tok = _english_words(ids, name_en).with_columns(pl.int_range(pl.len()).over("id").alias("pos"))
    hit = tok.join(city_pinyin(), on="key", maintain_order="left")
    return hit.filter(pl.col("pos") == pl.col("pos").min().over("id")).select("id", "city")

"""Matching scraped platform members (Alibaba / Made-in-China lists) to firms.

Members are listed under their registered Chinese name, an English / pinyin name only, a
short trade name without the legal suffix, a related trading company or an old name, and
sometimes with the address of a sales office in another city. A member's *candidate cities*
are all of: the city of its address (``cpca.transform``), of the place in its Chinese name,
of its zip prefix and of its phone's area code (zip4 / area -> city learnt from the firm
side, most frequent city), and the city its English name begins with ("Ningbo ..."; every
city of that pinyin when several share it: "Taizhou" = 台州 and 泰州).

Sequence (each member and each firm is linked at most once; earlier steps win):

1. ``name_exact``: identical ``name_key`` (normalized full name: place + core, legal form
   ignored) against any of the firm's (historic) names; the key must point to one firm and
   one member.
2. ``core_city`` then ``core_province``: identical ``name_core`` within one of the member's
   candidate cities / provinces, unique on both sides.
3. ``trade_name``: the member's stem (its core without trailing trade words: 海天进出口 ->
   海天; a short name is its own stem) begins the core of a firm of a candidate city.
   Without a corroborating field it is accepted when the member's address lies in the
   firm's county and the stem is unique on both sides in the city (no other unmatched
   member has it, no other unmatched firm's core begins with it).
4. ``pinyin``: a word of the member's English name (not its leading place word) equals the
   pinyin (:mod:`pypinyin`, every reading of a polyphonic character) of a 2- or 3-character
   window of the core of a firm of a candidate city ("Haitian" = 海天).
   Otherwise steps 3 and 4 need a corroborating field (phone last seven digits, zip, legal
   representative); among several corroborated candidates the one with most agreeing
   fields, then the same county (address vs the firm's region code), then the longest
   name part (and, for pinyin, a window at the start of the core)
   wins if unique for the member and the firm. Step 4 also accepts an uncorroborated
   candidate when the member is no trading company, the window starts the firm's core, and
   the word is unique on both sides in the city.
5. ``phone_legal_rep``: same candidate city, phone (last seven digits) and legal
   representative, unique on both sides: a firm renamed beyond recognition.
6. ``fuzzy``: character-level :func:`rapidfuzz.fuzz.ratio` (Indel similarity, 0-100) on
   ``name_core`` — Chinese has no spaces, so token scorers are meaningless — computed with
   :func:`rapidfuzz.process.cdist` **within blocks** (city x branch flag; the member's city
   is that of its address, else of its name, else of its zip, else of its phone).
   Candidates must be mutual best matches with a unique best score. A candidate is
   accepted when ``score >= high``, or ``score >= accept`` and at least one corroborating
   field agrees, or ``score >= review`` and at least two fields agree; a candidate with
   ``score >= review`` that is not accepted (or whose best is tied / not mutual) goes to
   the clerical-review frame.

A firm's names get alternative cores where normalization cut them badly: the remnant of the
firm's own county name (region code) stripped from the start (浦东新区: 浦东新生聚制衣 ->
生聚制衣), and a trade name that is also a place outside the firm's city put back (双鸭山新丰丝绸:
core 丝绸 -> 新丰丝绸). Steps 2-6 see them as further names of the firm.

Branch offices (…分公司, "... Branch") carry a ``#`` marker in their core and are blocked
separately, so a branch never matches its parent. The full cross product is never formed:
the report gives the number of string comparisons against ``n_members x n_firm_names``.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl

from cbec.data.members import check_members, member_years_n, parse_scrape_dates
from cbec.errors import InputError
from cbec.matching.names import (
    INTERMEDIARY_AMBIGUOUS,
    INTERMEDIARY_STRONG,
    MUNICIPALITIES,
    clean_text,
    flag_intermediaries,
    normalize_names,
    normalize_zip,
    phone_area_code,
    phone_last7,
)
from cbec.matching.pinyin import english_city, english_tokens, pinyin_windows

__all__ = [
    "MEMBER_COLUMNS",
    "PANEL_COLUMNS",
    "address_city",
    "link_members",
    "match_platform",
    "member_info",
    "panel_firms",
    "parse_member_years",
]

_LINK_SCHEMA = {
    "member_id": pl.String,
    "firm_id": pl.String,
    "method": pl.String,
    "score": pl.Float64,
}


# trade words that end the name of a trading company, in Chinese and English
_TRADE_CN = "|".join(["国际贸易", *INTERMEDIARY_STRONG, *INTERMEDIARY_AMBIGUOUS])
_TRADE_EN = r"(?i)\b(?:import|export|trading|trade)\b"


def _canon_city(e: pl.Expr) -> pl.Expr:
    """4-digit city code; municipalities folded to PP00; 'PP00' of provinces -> null."""
    e = e.cast(pl.String).str.slice(0, 4)
    muni = e.str.slice(0, 2).is_in(list(MUNICIPALITIES))
    return (
        pl.when(muni)
        .then(pl.concat_str([e.str.slice(0, 2), pl.lit("00")]))
        .when(e.str.ends_with("00") | (e.str.len_chars() < 4))
        .then(None)
        .otherwise(e)
    )


def address_city(address: pl.Series) -> pl.DataFrame:
    """City (4-digit), province (2-digit) and county (6-digit, null when the address
    names no county) codes parsed from address text with cpca."""
    import cpca

    uniq = address.cast(pl.String).drop_nulls().unique().to_list()
    codes: list[str | None] = []
    if uniq:
        res = cpca.transform(uniq)
        for v in res["adcode"].tolist():
            codes.append(str(v) if isinstance(v, str) and v.strip() else None)
    m = pl.DataFrame({"_addr": uniq, "_ad": codes}, schema={"_addr": pl.String, "_ad": pl.String})
    out = address.cast(pl.String).rename("_addr").to_frame().join(m, on="_addr", how="left")
    return out.select(
        _canon_city(pl.col("_ad")).alias("city"),
        pl.col("_ad").str.slice(0, 2).replace("", None).alias("prov"),
        pl.when(pl.col("_ad").str.slice(4, 2) != "00")
        .then(pl.col("_ad").str.slice(0, 6))
        .alias("county"),
    )


def _mode_map(df: pl.DataFrame, key: str, val: str) -> pl.DataFrame:
    return (
        df.drop_nulls([key, val])
        .group_by(key, val)
        .len()
        .sort([key, "len", val], descending=[False, True, False])
        .unique(key, keep="first", maintain_order=True)
        .select(key, val)
    )


def _unique_join(m: pl.DataFrame, f: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """Member-firm pairs whose key maps to exactly one member and one firm."""
    mk = m.drop_nulls(on).select("member_id", *on).unique()
    fk = f.drop_nulls(on).select("firm_id", *on).unique()
    mk = mk.filter(pl.col("member_id").n_unique().over(on) == 1)
    fk = fk.filter(pl.col("firm_id").n_unique().over(on) == 1)
    j = mk.join(fk, on=on).select("member_id", "firm_id").unique()
    # a member reaching two firms through different keys (or the reverse) is ambiguous
    return j.filter((pl.len().over("member_id") == 1) & (pl.len().over("firm_id") == 1))


def _block_candidates(
    mids: list[str],
    queries: list[str],
    fids: list[str],
    choices: list[str],
    *,
    review: float,
    workers: int,
    max_cells: int,
) -> list[tuple[str, str, float, str]]:
    """Best firm per member within one block, with mutual-best / unique-best status.

    Scores are computed in member chunks of at most ``max_cells`` cells; the firms' best
    member (and ties) is tracked across chunks, so memory stays bounded.
    """
    from rapidfuzz import fuzz, process

    fid_arr = np.asarray(fids, dtype=object)
    starts = np.flatnonzero(np.r_[True, fid_arr[1:] != fid_arr[:-1]])
    ufids = fid_arr[starts]
    nf = len(ufids)
    col_max = np.full(nf, -1.0, dtype=np.float32)
    col_arg = np.zeros(nf, dtype=np.int64)
    col_n = np.zeros(nf, dtype=np.int64)
    best_f_all, best_s_all, n_best_all = [], [], []
    step = max(1, max_cells // max(len(choices), 1))
    for lo in range(0, len(queries), step):
        s = process.cdist(
            queries[lo : lo + step], choices, scorer=fuzz.ratio, dtype=np.float32, workers=workers
        )
        s = np.maximum.reduceat(s, starts, axis=1)  # best over a firm's historic names
        rows = np.arange(s.shape[0])
        bf = s.argmax(axis=1)
        bs = s[rows, bf]
        best_f_all.append(bf)
        best_s_all.append(bs)
        n_best_all.append((s == bs[:, None]).sum(axis=1))
        cm = s.max(axis=0)
        ca = s.argmax(axis=0) + lo
        cn = (s == cm[None, :]).sum(axis=0)
        better = cm > col_max
        same = cm == col_max
        col_n = np.where(better, cn, np.where(same, col_n + cn, col_n))
        col_arg = np.where(better, ca, col_arg)
        col_max = np.where(better, cm, col_max)
    best_f = np.concatenate(best_f_all)
    best_s = np.concatenate(best_s_all)
    n_best = np.concatenate(n_best_all)
    out = []
    for i in np.flatnonzero(best_s >= review):
        j = best_f[i]
        mutual = col_arg[j] == i and n_best[i] == 1 and col_n[j] == 1
        out.append((mids[i], str(ufids[j]), float(best_s[i]), "ok" if mutual else "ambiguous"))
    return out


def _firm_side(firms: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Firms with canonical city / province; their names (one row each, normalized); their
    corroborating fields (p7, area, zipn, rep)."""
    name_col = "firm_name" if "firm_name" in firms.columns else "firm_names"
    f = firms.with_columns(
        pl.col("firm_id").cast(pl.String),
        _canon_city(pl.col("city_code")).alias("city"),
        pl.col("province_code").cast(pl.String).str.slice(0, 2).alias("prov"),
    )
    if isinstance(f.schema[name_col], pl.List):
        f = f.with_columns(pl.col(name_col).cast(pl.List(pl.String)))
    else:
        f = f.with_columns(pl.concat_list(pl.col(name_col).cast(pl.String)).alias(name_col))
    fn = f.select("firm_id", "city", "prov", pl.col(name_col).alias("raw")).explode("raw")
    fn = fn.drop_nulls("raw").unique(["firm_id", "raw"], maintain_order=True)
    fn = pl.concat([fn, normalize_names(fn["raw"])], how="horizontal")
    fa = f.select(
        "firm_id",
        "city",
        phone_last7(f["phone"].cast(pl.String)).alias("p7"),
        phone_area_code(f["phone"].cast(pl.String)).alias("area"),
        normalize_zip(f["zip"]).alias("zipn"),
        clean_text(f["legal_rep"]).alias("rep"),
        (
            f["region_code"].cast(pl.String).str.slice(0, 6)
            if "region_code" in f.columns
            else pl.Series([None] * f.height, dtype=pl.String)
        ).alias("county"),
    )
    return f, pl.concat([fn, _alt_cores(fn, fa)]), fa


def _alt_cores(fn: pl.DataFrame, fa: pl.DataFrame) -> pl.DataFrame:
    """Extra name rows (``name_core`` replaced) of firms whose normalized core kept the
    remnant of their own county's name (浦东新区: "浦东新生聚制衣" -> 生聚制衣; 宽甸满族自治县:
    "满族自治前迪鼎机电" -> 前迪鼎机电), or lost a trade name that is also the name of a
    place outside the firm's city (双鸭山新丰丝绸: core 丝绸 -> 新丰丝绸)."""
    from cbec.matching.names import _prefix_token_re, _tokens, county_names, place_lookup

    counties = county_names()
    own = dict(fa.drop_nulls("county").select("firm_id", "county").iter_rows())
    rows = []
    cols = ["firm_id", "city", "place_prefix", "name_core"]
    for fid, city, pre0, core in fn.select(cols).unique().iter_rows():
        if core is None:
            continue
        pre = pre0 or ""
        alts = []
        county = counties.get(own.get(fid) or "", "")
        stem = county[:-1] if county[-1:] in "区县市旗" else county
        i = (pre + core).find(stem) if len(stem) >= 2 else -1
        if i >= 0 and i + len(stem) > len(pre):
            alts.append((pre + core)[i + len(stem) :])
        if pre:
            last = _tokens(pre, _prefix_token_re())[-1]
            place = place_lookup(last)
            if len(last) >= 2 and (place is None or place[0] != city):
                alts.append(last + core)
        rows += [(fid, pre0, core, a) for a in alts if len(a) >= 2 and a != core]
    schema = {
        "firm_id": pl.String,
        "place_prefix": pl.String,
        "name_core": pl.String,
        "alt": pl.String,
    }
    alt = pl.DataFrame(rows, schema=schema, orient="row").unique()
    return (
        fn.join(alt, on=["firm_id", "place_prefix", "name_core"], how="inner", nulls_equal=True)
        .with_columns(pl.col("alt").alias("name_core"))
        .drop("alt")
        .select(fn.columns)
    )


def _member_keys(members: pl.DataFrame) -> pl.DataFrame:
    """Members with normalized names, corroborating fields, intermediary flag and the city /
    province of their address (null without an ``address`` column)."""
    m = members.with_columns(pl.col("member_id").cast(pl.String))
    nm = normalize_names(m["name_cn"])
    loc = address_city(m["address"]) if "address" in m.columns else None
    en = (m["name_en"] if "name_en" in m.columns else pl.Series([None] * m.height)).cast(pl.String)
    m = pl.concat(
        [
            m.select("member_id", pl.col("name_cn").alias("raw")),
            nm,
            pl.DataFrame(
                {
                    "name_en": en,
                    "p7": phone_last7(m["phone"].cast(pl.String)),
                    "area": phone_area_code(m["phone"].cast(pl.String)),
                    "zipn": normalize_zip(m["zip"]),
                    "rep": clean_text(m["legal_rep"]),
                    "inter": flag_intermediaries(m["name_cn"])
                    | en.str.contains(_TRADE_EN).fill_null(False),
                }
            ),
        ],
        how="horizontal",
    ).with_columns(
        (pl.col("is_branch").fill_null(False) | pl.col("name_en").str.contains(r"(?i)\bbranch\b"))
        .fill_null(False)
        .alias("is_branch"),
        # the trade name of a short name or a related trading company: 海天进出口 -> 海天
        pl.col("name_core").str.replace(f"(?:{_TRADE_CN})+$", "").alias("stem"),
    )
    if loc is not None:
        return pl.concat(
            [m, loc.rename({"city": "city_addr", "prov": "prov_addr", "county": "county_addr"})],
            how="horizontal",
        )
    return m.with_columns(
        pl.lit(None, pl.String).alias("city_addr"),
        pl.lit(None, pl.String).alias("prov_addr"),
        pl.lit(None, pl.String).alias("county_addr"),
    )


def _member_city(m: pl.DataFrame, fa: pl.DataFrame) -> pl.DataFrame:
    """A member's city: address, else place in the name, else zip prefix, else phone area
    code (zip4 / area -> city learnt from the firms, most frequent city); ``city_source``."""
    zip_map = _mode_map(fa.with_columns(pl.col("zipn").str.slice(0, 4).alias("z4")), "z4", "city")
    area_map = _mode_map(fa, "area", "city")
    en_city = (
        english_city(m["member_id"], m["name_en"])
        .group_by("id", maintain_order=True)
        .agg(pl.col("city").alias("city_en"))
        .rename({"id": "member_id"})
    )
    return (
        m.with_columns(pl.col("zipn").str.slice(0, 4).alias("z4"))
        .join(zip_map.rename({"city": "city_zip"}), on="z4", how="left")
        .join(area_map.rename({"city": "city_area"}), on="area", how="left")
        .join(en_city, on="member_id", how="left")
        .with_columns(
            pl.coalesce("city_addr", "place_city", "city_zip", "city_area").alias("city"),
        )
        .with_columns(
            pl.coalesce("prov_addr", "place_prov", pl.col("city").str.slice(0, 2)).alias("prov"),
            pl.when(pl.col("city_addr").is_not_null())
            .then(pl.lit("address"))
            .when(pl.col("place_city").is_not_null())
            .then(pl.lit("name"))
            .when(pl.col("city_zip").is_not_null())
            .then(pl.lit("zip"))
            .when(pl.col("city_area").is_not_null())
            .then(pl.lit("phone"))
            .otherwise(None)
            .alias("city_source"),
        )
    )


def _candidate_places(m: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every city a member may be in (from its address, the place in its name, its zip,
    its phone's area code, the cities its English name begins with): (member_id, city); and
    every province: (member_id, prov). A member listing a sales office in another city still
    meets its firm's block."""
    srcs = ["city_addr", "place_city", "city_zip", "city_area"]
    cities = (
        pl.concat(
            [
                m.select("member_id", pl.concat_list(srcs).alias("city")).explode("city"),
                m.select("member_id", pl.col("city_en").alias("city")).explode("city"),
            ]
        )
        .drop_nulls()
        .unique(maintain_order=True)
    )
    provs = (
        pl.concat(
            [
                m.select("member_id", pl.col("prov_addr").alias("prov")),
                m.select("member_id", pl.col("place_prov").alias("prov")),
                cities.select("member_id", pl.col("city").str.slice(0, 2).alias("prov")),
            ]
        )
        .drop_nulls()
        .unique(maintain_order=True)
    )
    return cities, provs


def _corroborated(pairs: pl.DataFrame, m: pl.DataFrame, fa: pl.DataFrame) -> pl.DataFrame:
    """Candidate pairs (member_id, firm_id, optional ``w``: length of the agreeing name
    part) with at least one agreeing field (phone, zip, legal representative). A member
    keeps its candidate with the most agreeing fields, then the same county (address vs
    the firm's region code), then the longest name part, when that candidate is unique and
    is also the firm's best; otherwise no link."""
    if "w" not in pairs.columns:
        pairs = pairs.with_columns(pl.lit(0).alias("w"))
    attrs = m.select(
        "member_id",
        pl.col("p7").alias("m_p7"),
        pl.col("zipn").alias("m_zip"),
        "rep",
        pl.col("county_addr").alias("m_county"),
    ).unique("member_id", maintain_order=True)
    agree = [
        (pl.col("m_p7") == pl.col("p7")).fill_null(False).cast(pl.Int32),
        (pl.col("m_rep") == pl.col("rep")).fill_null(False).cast(pl.Int32),
        (pl.col("m_zip") == pl.col("zipn")).fill_null(False).cast(pl.Int32),
    ]
    j = (
        pairs.join(attrs.rename({"rep": "m_rep"}), on="member_id")
        .join(fa.select("firm_id", "p7", "zipn", "rep", "county"), on="firm_id")
        .with_columns(
            (
                pl.sum_horizontal(agree) * 10
                + (pl.col("m_county") == pl.col("county")).fill_null(False).cast(pl.Int32) * 5
                + pl.col("w")
            ).alias("rank")
        )
        .filter(pl.col("rank") >= 10)
        .group_by("member_id", "firm_id")
        .agg(pl.col("rank").max())
    )
    for side in ("member_id", "firm_id"):
        best = pl.col("rank") == pl.col("rank").max().over(side)
        j = j.filter(best & (best.sum().over(side) == 1))
    return j.select("member_id", "firm_id")


def _trade_name_pairs(mc: pl.DataFrame, fu: pl.DataFrame, fa: pl.DataFrame) -> pl.DataFrame:
    """A short trade name (海天) or a related trading company (海天进出口) whose stem begins the
    core of a firm of the same city (海天塑料), corroborated; or, uncorroborated, when the
    member's address lies in the firm's county and the stem is unique on both sides within
    the city (no other unmatched member has it, no other unmatched firm's core begins with
    it: :func:`_unique_pairs`)."""
    ms = mc.filter(~pl.col("is_branch") & pl.col("stem").str.len_chars().is_between(2, 4))
    fp = pl.concat(
        [
            fu.filter(pl.col("name_core").str.len_chars() > n).select(
                "firm_id",
                "city",
                pl.col("name_core").str.slice(0, n).alias("stem"),
                pl.lit(n).alias("w"),
            )
            for n in (2, 3, 4)
        ]
    )
    cand = ms.select("member_id", "city", "stem").join(fp, on=["city", "stem"])
    corr = _corroborated(cand.select("member_id", "firm_id", "w").unique(), mc, fa)
    mk = ms.select("member_id", "city", pl.col("stem").alias("key"))
    fk = (
        fu.select(
            "firm_id",
            "city",
            *[pl.col("name_core").str.slice(0, n).alias(f"k{n}") for n in (2, 3, 4)],
        )
        .unpivot(index=["firm_id", "city"], value_name="key")
        .drop("variable")
    )
    solo = _unique_pairs(_same_county(cand, ms, fa).rename({"stem": "key"}), mk, fk, corr)
    return pl.concat([corr, solo])


def _same_county(cand: pl.DataFrame, m: pl.DataFrame, fa: pl.DataFrame) -> pl.DataFrame:
    """The candidates (member_id, firm_id, ...) whose member's address lies in the firm's
    county (``county_addr`` of ``m`` equal to ``county`` of ``fa``)."""
    pairs = (
        cand.select("member_id", "firm_id")
        .unique()
        .join(m.select("member_id", pl.col("county_addr").alias("county")).unique(), on="member_id")
        .join(fa.select("firm_id", "county"), on=["firm_id", "county"], how="semi")
    )
    return cand.join(pairs.select("member_id", "firm_id"), on=["member_id", "firm_id"], how="semi")


def _unique_pairs(
    cand: pl.DataFrame, mk: pl.DataFrame, fk: pl.DataFrame, taken: pl.DataFrame
) -> pl.DataFrame:
    """Candidates (member_id, firm_id, city, key) whose key no other member (``mk``: member_id,
    city, key) and no other firm (``fk``: firm_id, city, key) of the city has, for a member
    and a firm not in ``taken``, when the pair is the only one of its member and firm."""
    key_m = mk.group_by("city", "key").agg(pl.col("member_id").n_unique().alias("n_m"))
    key_f = fk.group_by("city", "key").agg(pl.col("firm_id").n_unique().alias("n_f"))
    solo = (
        cand.join(key_m, on=["city", "key"])
        .join(key_f, on=["city", "key"])
        .filter((pl.col("n_m") == 1) & (pl.col("n_f") == 1))
        .select("member_id", "firm_id")
        .unique()
        .join(taken, on="member_id", how="anti")
        .join(taken, on="firm_id", how="anti")
    )
    return solo.filter((pl.len().over("member_id") == 1) & (pl.len().over("firm_id") == 1))


def _pinyin_pairs(mc: pl.DataFrame, fu: pl.DataFrame, fa: pl.DataFrame) -> pl.DataFrame:
    """A word of the member's English name equal to the pinyin of a window of the core of a
    firm of the same city (Haitian = 海天), corroborated; or, for a member that is not a
    trading company, uncorroborated when the word begins the firm's core and is unique on
    both sides within the city (no other firm has it anywhere in its core, no other member
    has it)."""
    mm = mc.filter(~pl.col("is_branch")).select("member_id", "city", "name_en", "inter")
    tok = english_tokens(mm["member_id"], mm["name_en"]).rename({"id": "member_id"})
    mk = tok.unique().join(mm.select("member_id", "city", "inter").unique(), on="member_id")
    fw = pinyin_windows(fu["firm_id"], fu["name_core"]).rename({"id": "firm_id"})
    fk = fw.unique().join(fu.select("firm_id", "city").unique(), on="firm_id")
    cand = mk.join(fk, on=["city", "key"])
    pairs = cand.select("member_id", "firm_id", (pl.col("w") + (pl.col("start") == 0)).alias("w"))
    corr = _corroborated(pairs.unique(), mc, fa)
    solo = _unique_pairs(cand.filter(~pl.col("inter") & (pl.col("start") == 0)), mk, fk, corr)
    return pl.concat([corr, solo])


def _exact_links(
    m: pl.DataFrame, fn: pl.DataFrame, fa: pl.DataFrame
) -> tuple[list[pl.DataFrame], pl.DataFrame, pl.DataFrame]:
    """The deterministic steps in order (name_exact, core_city, core_province, trade_name,
    pinyin, phone_legal_rep); returns their links and the members and firm names still
    unmatched."""
    links: list[pl.DataFrame] = []
    mu, fu = m, fn
    cities, provs = _candidate_places(m)

    def take(pairs: pl.DataFrame, method: str) -> None:
        nonlocal mu, fu
        if pairs.height == 0:
            return
        links.append(
            pairs.with_columns(pl.lit(method).alias("method"), pl.lit(100.0).alias("score"))
        )
        mu = mu.join(pairs.select("member_id"), on="member_id", how="anti")
        fu = fu.join(pairs.select("firm_id"), on="firm_id", how="anti")

    def at(places: pl.DataFrame) -> pl.DataFrame:
        """The members still unmatched, one row per candidate place."""
        return mu.drop("city", "prov").join(places, on="member_id")

    take(_unique_join(mu, fu, ["name_key"]), "name_exact")
    take(_unique_join(at(cities), fu, ["city", "name_core"]), "core_city")
    take(_unique_join(at(provs), fu, ["prov", "name_core"]), "core_province")
    take(_trade_name_pairs(at(cities), fu, fa), "trade_name")
    take(_pinyin_pairs(at(cities), fu, fa), "pinyin")
    # a renamed firm (or its trading company): same city, phone and legal representative
    ident_m = at(cities).filter(~pl.col("is_branch")).select("member_id", "city", "p7", "rep")
    ident_f = fa.join(fu.select("firm_id").unique(), on="firm_id", how="semi")
    take(_unique_join(ident_m, ident_f, ["city", "p7", "rep"]), "phone_legal_rep")
    return links, mu, fu


def _fuzzy_candidates(
    mu: pl.DataFrame,
    fu: pl.DataFrame,
    *,
    review: float,
    skip_intermediaries: bool,
    workers: int,
    max_cells: int,
) -> tuple[pl.DataFrame, int]:
    """Best fuzzy candidate per member within (city, branch) blocks scoring at least
    ``review`` (member_id, firm_id, score, _st: ok | ambiguous); the number of comparisons."""
    fz = mu.drop_nulls(["city", "name_core"])
    if skip_intermediaries:
        fz = fz.filter(~pl.col("inter"))
    fcand = fu.drop_nulls(["city", "name_core"]).sort("firm_id")
    comparisons = 0
    cand_rows: list[tuple[str, str, float, str]] = []
    f_groups = {k: g for k, g in fcand.group_by(["city", "is_branch"], maintain_order=True)}
    for key, mg in fz.group_by(["city", "is_branch"], maintain_order=True):
        fg = f_groups.get(key)
        if fg is None or fg.height == 0:
            continue
        fg = fg.sort("firm_id")
        comparisons += mg.height * fg.height
        cand_rows.extend(
            _block_candidates(
                mg["member_id"].to_list(),
                mg["name_core"].to_list(),
                fg["firm_id"].to_list(),
                fg["name_core"].to_list(),
                review=review,
                workers=workers,
                max_cells=max_cells,
            )
        )
    schema = {"member_id": pl.String, "firm_id": pl.String, "score": pl.Float64, "_st": pl.String}
    return pl.DataFrame(cand_rows, schema=schema, orient="row"), comparisons


def _corroborate(
    cand: pl.DataFrame,
    m: pl.DataFrame,
    fa: pl.DataFrame,
    *,
    accept: float,
    review: float,
    high: float,
) -> pl.DataFrame:
    """Candidates with the corroborating fields that agree (phone_match, zip_match,
    rep_match, n_corroborating) and the acceptance decision ``_acc``."""
    mattr = m.select(
        "member_id",
        pl.col("p7").alias("m_p7"),
        pl.col("zipn").alias("m_zip"),
        pl.col("rep").alias("m_rep"),
        pl.col("raw").alias("name_member"),
    )
    corr = (
        cand.join(mattr, on="member_id", how="left")
        .join(fa.select("firm_id", "p7", "zipn", "rep"), on="firm_id", how="left")
        .group_by("member_id", "firm_id", maintain_order=True)
        .agg(
            pl.col("score").first(),
            pl.col("_st").first(),
            pl.col("name_member").first(),
            (pl.col("m_p7") == pl.col("p7")).fill_null(False).any().alias("phone_match"),
            (pl.col("m_zip") == pl.col("zipn")).fill_null(False).any().alias("zip_match"),
            (pl.col("m_rep") == pl.col("rep")).fill_null(False).any().alias("rep_match"),
        )
        .with_columns(
            pl.sum_horizontal(
                pl.col("phone_match").cast(pl.Int32),
                pl.col("zip_match").cast(pl.Int32),
                pl.col("rep_match").cast(pl.Int32),
            ).alias("n_corroborating")
        )
    )
    ok = pl.col("_st") == "ok"
    acc = ok & (
        (pl.col("score") >= high)
        | ((pl.col("score") >= accept) & (pl.col("n_corroborating") >= 1))
        | ((pl.col("score") >= review) & (pl.col("n_corroborating") >= 2))
    )
    return corr.with_columns(acc.alias("_acc"))


def _review_frame(corr: pl.DataFrame, fn: pl.DataFrame, *, accept: float) -> pl.DataFrame:
    """The candidates not accepted, with the reason and both names, for clerical review."""
    fnames = fn.group_by("firm_id", maintain_order=True).agg(
        pl.col("raw").first().alias("name_firm")
    )
    return (
        corr.filter(~pl.col("_acc"))
        .with_columns(
            pl.when(pl.col("_st") != "ok")
            .then(pl.lit("ambiguous"))
            .when(pl.col("score") >= accept)
            .then(pl.lit("no_corroboration"))
            .otherwise(pl.lit("below_accept"))
            .alias("reason")
        )
        .join(fnames, on="firm_id", how="left")
        .select(
            "member_id",
            "firm_id",
            "score",
            "phone_match",
            "zip_match",
            "rep_match",
            "n_corroborating",
            "reason",
            "name_member",
            "name_firm",
        )
        .sort("member_id", "firm_id")
    )


def _match_report(
    m: pl.DataFrame,
    n_firms: int,
    n_names: int,
    links: pl.DataFrame,
    n_review: int,
    comparisons: int,
    thresholds: dict[str, float],
) -> dict:
    """Counts of a platform matching: links by method, review, comparisons, city sources."""
    cross = m.height * n_names
    return {
        "n_members": m.height,
        "n_firms": n_firms,
        "n_firm_names": n_names,
        "matched": links.height,
        "by_method": {
            k: int(v) for k, v in links.group_by("method").len().sort("method").iter_rows()
        },
        "n_review": n_review,
        "fuzzy_comparisons": int(comparisons),
        "full_cross_product": int(cross),
        "comparison_share": comparisons / cross if cross else 0.0,
        "member_city_source": {
            (k if k is not None else "none"): int(v)
            for k, v in m.group_by("city_source").len().sort("city_source").iter_rows()
        },
        "members_branch": int(m["is_branch"].sum()),
        "members_intermediary": int(m["inter"].sum()),
        "thresholds": thresholds,
    }


def match_platform(
    members: pl.DataFrame,
    firms: pl.DataFrame,
    *,
    accept: float = 80.0,
    review: float = 60.0,
    high: float = 95.0,
    skip_intermediaries_fuzzy: bool = True,
    workers: int = 1,
    max_cells: int = 20_000_000,
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Match members to firms; returns (links, review, report).

    members: member_id, name_cn, legal_rep, phone, address, zip (optional: name_en).
    firms: firm_id, firm_name (str or list of historic names; ``firm_names`` also accepted),
    legal_rep, phone, zip, city_code, province_code (optional: region_code, the county).
    links: member_id, firm_id, method, score (100 for exact steps).
    review: member_id, firm_id, score, phone_match, zip_match, rep_match, n_corroborating,
    reason, name_member, name_firm.
    ``workers`` is passed to rapidfuzz; ``max_cells`` bounds the score matrix held in
    memory per chunk of members (results do not depend on it).
    """
    if not review <= accept <= high:
        raise ValueError("need review <= accept <= high")
    f, fn, fa = _firm_side(firms)
    m = _member_city(_member_keys(members), fa)
    links, mu, fu = _exact_links(m, fn, fa)
    cand, comparisons = _fuzzy_candidates(
        mu,
        fu,
        review=review,
        skip_intermediaries=skip_intermediaries_fuzzy,
        workers=workers,
        max_cells=max_cells,
    )
    corr = _corroborate(cand, m, fa, accept=accept, review=review, high=high)
    fuzzy = corr.filter("_acc").select(
        "member_id", "firm_id", pl.lit("fuzzy").alias("method"), "score"
    )
    if fuzzy.height:
        links.append(fuzzy)
    out = (
        pl.concat([lk.select(list(_LINK_SCHEMA)).cast(_LINK_SCHEMA) for lk in links])
        if links
        else pl.DataFrame(schema=_LINK_SCHEMA)
    ).sort("member_id")
    id_dtypes = {"member_id": members.schema["member_id"], "firm_id": firms.schema["firm_id"]}
    out = out.cast(id_dtypes)
    review_df = _review_frame(corr, fn, accept=accept).cast(id_dtypes)
    thresholds = {"accept": accept, "review": review, "high": high}
    report = _match_report(m, f.height, fn.height, out, review_df.height, comparisons, thresholds)
    return out, review_df, report


def parse_member_years(s: pl.Series, scrape_date: str | date | pl.Series) -> pl.Series:
    """'N YRS' -> join year, with join_year = scrape_year - N + 1.

    Convention: Alibaba counts the running membership year, so a firm that joined during
    the scrape year shows '1 YRS'. ``scrape_date`` is one date for the list or a series with
    each row's scrape date (any format of :func:`cbec.data.members.parse_scrape_dates`).
    Nulls stay null; an unparseable value or N < 1 raises ValueError naming the row.
    """
    if isinstance(scrape_date, pl.Series):
        dates = parse_scrape_dates(scrape_date)
        bad_date = scrape_date.is_not_null() & dates.is_null()
        if bad_date.any():
            i = int(bad_date.arg_true()[0])
            raise ValueError(f"unparseable scrape date in row {i + 1}: {scrape_date[i]!r}")
        scrape_year = dates.dt.year().cast(pl.Int64)
    elif isinstance(scrape_date, str):
        scrape_year = datetime.fromisoformat(scrape_date).year
    elif isinstance(scrape_date, date):
        scrape_year = scrape_date.year
    else:
        raise TypeError("scrape_date must be an ISO string, a date or a series of dates")
    t = s.cast(pl.String).str.normalize("NFKC")
    n = member_years_n(t)
    bad = t.is_not_null() & (n.is_null() | (n < 1))
    if bad.any():
        i = int(bad.arg_true()[0])
        raise ValueError(f"unparseable member years value in row {i + 1}: {t[i]!r}")
    return (scrape_year - n + 1).rename(s.name or "join_year")


# ------------------------------------------------------------------- rule match_platform
# the columns of the ASIF panel and of a member list the rule reads
PANEL_COLUMNS = [
    "year",
    "firm_id",
    "firm_name",
    "legal_rep",
    "phone",
    "zip",
    "city_code",
    "province_code",
    "region_code",
]
MEMBER_COLUMNS = ["member_id", "name_cn", "member_years", "scrape_date"]


def panel_firms(panel: pl.DataFrame) -> pl.DataFrame:
    """One row per ``firm_id`` of the linked ASIF panel, in firm order: every name it had
    (list, in year order) and its latest non-null legal_rep, phone and zip, and its latest
    city_code, province_code and (when the panel has it) region_code, the county."""
    return (
        panel.sort(["firm_id", "year"])
        .group_by("firm_id", maintain_order=True)
        .agg(
            pl.col("firm_name").unique(maintain_order=True),
            pl.col("legal_rep").drop_nulls().last(),
            pl.col("phone").drop_nulls().last(),
            pl.col("zip").drop_nulls().last(),
            pl.col("city_code").last(),
            pl.col("province_code").last(),
            *([pl.col("region_code").last()] if "region_code" in panel.columns else []),
        )
    )


def member_info(members: pl.DataFrame, source: str = "members") -> pl.DataFrame:
    """member_id, join_year, member_years (the N of "N YRS" at the scrape) and rating.

    Each row's join year comes from its own scrape date. Raises
    :class:`~cbec.errors.InputError` naming ``source`` for an unparseable ``scrape_date`` or
    ``member_years`` (with the row) or a list without any Chinese name.
    """
    dates = parse_scrape_dates(members["scrape_date"])
    bad = members["scrape_date"].is_not_null() & dates.is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise InputError(
            source, "scrape_date", f"unparseable date in row {i + 1}: {members['scrape_date'][i]!r}"
        )
    try:
        join_year = parse_member_years(members["member_years"], dates)
    except ValueError as err:
        raise InputError(source, "member_years", str(err)) from err
    if members["name_cn"].is_null().all():
        raise InputError(source, "name_cn", "no member has a Chinese name")
    return members.select(
        "member_id",
        join_year.alias("join_year"),
        member_years_n(members["member_years"]).alias("member_years"),
        "rating",
    )


def link_members(
    members: pl.DataFrame,
    panel: pl.DataFrame,
    *,
    accept: float,
    review: float,
    high: float,
    source: str = "members",
    checks: dict | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Rule match_platform: a member list matched to the firms of the linked ASIF panel.

    ``checks`` (keyword arguments of :func:`cbec.data.members.check_members`) stops on
    implausible member rows or drops them. Returns the links (member_id, firm_id as Int64,
    method, score, join_year, member_years, rating), the clerical-review candidates and the
    report (:func:`match_platform`, plus ``members``: rows of the list, and
    ``members_dropped``: rows dropped per problem).
    """
    n_rows = members.height
    dropped: dict[str, int] = {}
    if checks is not None:
        members, dropped = check_members(members, source, **checks)
    info = member_info(members, source)
    links, review_df, report = match_platform(
        members, panel_firms(panel), accept=accept, review=review, high=high
    )
    links = links.with_columns(pl.col("firm_id").cast(pl.Int64)).join(
        info, on="member_id", how="left"
    )
    report["members"] = n_rows
    report["members_dropped"] = dropped
    return links, review_df, report

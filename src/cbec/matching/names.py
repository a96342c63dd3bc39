"""Chinese firm-name normalization ladder, intermediary flags, phone and zip cleaning.

The ladder (applied by :func:`normalize_names`, vectorised with polars; Python only per
*unique* value for the traditional->simplified step and for rare guard fallbacks):

1. ``name_nfkc``: Unicode NFKC (full-width letters/digits/brackets -> half-width), Latin
   upper-cased, all bracket variants （）【】[]〔〕｛｝《》〈〉「」『』 unified to ``()``, every
   character that is not a letter, digit or bracket removed (whitespace, ·, -, ., &, quotes ...).
2. ``name_simpl``: traditional -> simplified with ``OpenCC('t2s')``.
3. Bracketed content that is a place name (province/city/county names from cpca's
   ``adcodes.csv``, with and without 省/市/区/县..., plus 中国) is removed together with its
   brackets ("宁波(中国)电子有限公司", "电子有限公司(宁波)"); any other bracket content is
   kept without the bracket characters ("XX(集团)有限公司" -> "XX集团有限公司").
4. Branch offices (:data:`BRANCH_MARKERS`, e.g. 分公司/分厂/办事处) are flagged; the name is
   split into the parent part (up to its legal suffix) and the branch part.
5. The legal-form suffix is stripped using the ordered list :data:`LEGAL_SUFFIXES` (longest
   first); its class (``股份``, ``有限``, ``公司``, ``厂``, ...) is returned in ``suffix_class``
   so that a 股份 vs 有限 difference can be used as (weak) corroboration.
6. Leading administrative prefixes (province, prefecture city, county; full names and short
   forms, e.g. 浙江省宁波市 / 宁波) are stripped. Guard: at least two Chinese characters must
   remain; otherwise fewer prefix tokens are stripped (possibly none).
7. ``name_core`` is what remains; for branches ``name_core = core(parent) + "#" + branch part``
   so that a branch never has the core of its parent (``#`` cannot occur in step-1 output).

``name_key`` (returned by :func:`normalize_name`) = canonical place label + core, where the
place label is the short name of the prefecture-level city of the innermost stripped place
(a county maps to its city; municipalities to the municipality; a province alone to the
province), taken from the leading prefix or else from a removed bracketed place. The key
ignores the legal form (有限公司 = 有限责任公司 = 厂 ...) but not the branch marker.

Known limitation: short county-level names are only used when they end in 市/县 (not 区)
and are not in :data:`PLACE_SHORT_BLOCKLIST` (e.g. 东方, which is a city in Hainan but a
frequent word in firm names).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import polars as pl

__all__ = [
    "BRANCH_MARKERS",
    "LEGAL_SUFFIXES",
    "INTERMEDIARY_STRONG",
    "INTERMEDIARY_AMBIGUOUS",
    "MANUFACTURER_WORDS",
    "clean_text",
    "normalize_name",
    "normalize_names",
    "is_intermediary",
    "flag_intermediaries",
    "normalize_phone",
    "phone_last7",
    "phone_area_code",
    "normalize_zip",
    "place_lookup",
]

# Ordered legal-form suffixes (first match wins; longer variants before their substrings).
LEGAL_SUFFIXES: list[tuple[str, str]] = [
    ("集团股份有限公司", "股份"),
    ("股份有限公司", "股份"),
    ("股份合作公司", "股份合作"),
    ("股份合作企业", "股份合作"),
    ("实业股份有限公司", "股份"),
    ("实业集团有限公司", "有限"),
    ("实业有限责任公司", "有限"),
    ("实业有限公司", "有限"),
    ("集团有限责任公司", "有限"),
    ("集团有限公司", "有限"),
    ("有限责任公司", "有限"),
    ("有限公司", "有限"),
    ("有限合伙", "合伙"),
    ("合伙企业", "合伙"),
    ("个人独资企业", "独资"),
    ("集团总公司", "公司"),
    ("集团公司", "公司"),
    ("实业公司", "公司"),
    ("总公司", "公司"),
    ("公司", "公司"),
    ("集团", "集团"),
    ("总厂", "厂"),
    ("厂", "厂"),
]
BRANCH_MARKERS: list[str] = ["分公司", "分厂", "办事处", "分店", "分部", "分社", "营业部"]

# Intermediaries: strong words flag on their own; ambiguous words (often used by
# manufacturers, e.g. XX工贸有限公司 = "industry and trade") flag only when no manufacturer
# word appears in the name.
INTERMEDIARY_STRONG: list[str] = ["进出口", "贸易", "经贸", "外贸", "外经", "供应链"]
INTERMEDIARY_AMBIGUOUS: list[str] = ["工贸", "科贸", "商贸"]
MANUFACTURER_WORDS: list[str] = ["制造", "生产", "加工", "制品", "厂"]

PLACE_SHORT_BLOCKLIST: set[str] = {"东方", "和平", "新华", "城关", "开发", "长安", "中山区"}
MUNICIPALITIES: set[str] = {"11", "12", "31", "50"}

_OPEN = "（【［〔｛《〈「『[{<"
_CLOSE = "）】］〕｝》〉」』]}>"
_HAN = r"\p{Han}"


# --------------------------------------------------------------------------- places
@dataclass(frozen=True)
class _Places:
    info: dict[str, tuple[str | None, str | None, str]]  # name -> (city4, prov2, label)
    prefix_alt: str  # regex alternation for leading prefixes (longest first)
    bracket_alt: str  # regex alternation for bracketed places (superset)


_ETHNIC = (
    "朝鲜族|藏族|羌族|土家族|苗族|彝族|蒙古族|布依族|傈僳族|回族|白族|壮族|侗族|傣族|景颇族|"
    "哈尼族|纳西族|拉祜族|佤族|瑶族|畲族|黎族|满族|达斡尔族|鄂温克族|鄂伦春族|仫佬族|毛南族|"
    "仡佬族|水族|土族|撒拉族|保安族|东乡族|裕固族|锡伯族|普米族|独龙族|怒族|基诺族|哈萨克族|"
    "蒙古|哈萨克|柯尔克孜|塔吉克|维吾尔|各族"
)
_AUTONOMOUS = re.compile(rf"(?:{_ETHNIC})*(?:自治州|自治县|自治旗)$")


def _short(name: str, level: str) -> str | None:
    """Short form of a place name (浙江省 -> 浙江, 延边朝鲜族自治州 -> 延边); None if unsafe."""
    s = name
    if level == "prov":
        s = re.sub(r"(壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)$", "", s)
    elif _AUTONOMOUS.search(s):
        s = _AUTONOMOUS.sub("", s)
    elif level == "city":
        s = re.sub(r"(地区|盟|市)$", "", s)
    else:
        if not re.search(r"[市县旗]$", s):
            return None
        s = s[:-1]
    if len(s) < 2 or s == name or s in PLACE_SHORT_BLOCKLIST:
        return None
    return s


_Place = tuple[str | None, str | None, str]  # (city code, province code, label)


def _read_adcodes() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Province (2-digit), city (4-digit) and county (6-digit) names of cpca's division codes,
    without the placeholder entries (市辖区, 县, ...)."""
    path = resources.files("cpca") / "resources" / "adcodes.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    prov: dict[str, str] = {}
    city: dict[str, str] = {}
    county: dict[str, str] = {}
    skip = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
    for r in rows:
        code, name = r["adcode"], r["name"]
        if name in skip:
            continue
        if code[2:] == "0000000000":
            prov[code[:2]] = name
        elif code[4:] == "00000000":
            city[code[:4]] = name
        elif code[6:] == "000000":
            county[code[:6]] = name
    return prov, city, county


def _unambiguous(cands: dict[str, set[_Place]], prov_short: dict[str, str]) -> dict[str, _Place]:
    """One place per name: the candidate if all agree on the city, else the province they
    share (city unknown), else neither (the name itself as label)."""
    info: dict[str, _Place] = {}
    for name, vals in cands.items():
        if len(vals) == 1:
            info[name] = next(iter(vals))
            continue
        cities = {v[0] for v in vals}
        provs = {v[1] for v in vals}
        if len(cities) == 1:
            info[name] = next(iter(vals))
        elif len(provs) == 1:
            p2 = next(iter(provs))
            info[name] = (None, p2, prov_short.get(p2 or "", name))
        else:
            info[name] = (None, None, name)
    return info


@lru_cache(maxsize=1)
def _places() -> _Places:
    prov, city, county = _read_adcodes()
    prov_short = {c: _short(n, "prov") or n for c, n in prov.items()}

    def city_of(c4: str) -> tuple[str | None, str]:
        p2 = c4[:2]
        if p2 in MUNICIPALITIES:
            return p2 + "00", prov_short[p2]
        if c4 in city:
            return c4, _short(city[c4], "city") or city[c4]
        return None, prov_short.get(p2, "")

    cands: dict[str, set[_Place]] = {}
    prefix_names: set[str] = set()
    bracket_names: set[str] = {"中国"}

    def add(name: str, val: _Place, prefix: bool) -> None:
        cands.setdefault(name, set()).add(val)
        bracket_names.add(name)
        if prefix:
            prefix_names.add(name)

    for p2, n in prov.items():
        val = ((p2 + "00") if p2 in MUNICIPALITIES else None, p2, prov_short[p2])
        add(n, val, True)
        if (s := _short(n, "prov")) is not None:
            add(s, val, True)
    for c4, n in city.items():
        c, lab = city_of(c4)
        val = (c, c4[:2], lab)
        add(n, val, True)
        if (s := _short(n, "city")) is not None:
            add(s, val, True)
    for c6, n in county.items():
        parent = c6[:4]
        if parent in city or parent[:2] in MUNICIPALITIES:
            c, lab = city_of(parent)
        else:  # county-level city directly under the province (e.g. 济源市)
            c, lab = None, _short(n, "county") or n
        val = (c, c6[:2], lab)
        add(n, val, True)
        s = _short(n, "county")
        if s is not None:
            add(s, val, True)
        elif n.endswith("区") and len(n) >= 3:
            # district short forms only inside brackets ("电子(北仑)")
            cands.setdefault(n[:-1], set()).add(val)
            bracket_names.add(n[:-1])
    cands.setdefault("中国", set()).add((None, None, ""))
    info = _unambiguous(cands, prov_short)

    def alt(names: set[str]) -> str:
        return "|".join(re.escape(n) for n in sorted(names, key=lambda x: (-len(x), x)))

    return _Places(info=info, prefix_alt=alt(prefix_names), bracket_alt=alt(bracket_names))


@lru_cache(maxsize=1)
def county_names() -> dict[str, str]:
    """6-digit county code -> county name (cpca's division codes)."""
    return _read_adcodes()[2]


def place_lookup(name: str) -> tuple[str | None, str | None, str] | None:
    """(city_code 4-digit | None, province_code 2-digit | None, label) for a place name."""
    return _places().info.get(name)


@lru_cache(maxsize=1)
def _token_re() -> re.Pattern[str]:
    return re.compile(f"(?:{_places().bracket_alt})")


@lru_cache(maxsize=1)
def _prefix_token_re() -> re.Pattern[str]:
    return re.compile(f"(?:{_places().prefix_alt})")


def _tokens(prefix: str, rx: re.Pattern[str]) -> list[str]:
    out, pos = [], 0
    while pos < len(prefix):
        m = rx.match(prefix, pos)
        if m is None:  # should not happen; keep the rest as one token
            out.append(prefix[pos:])
            break
        out.append(m.group(0))
        pos = m.end()
    return out


@lru_cache(maxsize=200_000)
def _place_of(prefix: str, bracket: bool = False) -> tuple[str | None, str | None, str]:
    """Innermost informative place of a token sequence -> (city4, prov2, label)."""
    rx = _token_re() if bracket else _prefix_token_re()
    info = _places().info
    city: str | None = None
    prov: str | None = None
    label = ""
    for tok in _tokens(prefix, rx):
        c, p, lab = info.get(tok, (None, None, ""))
        if c is not None:
            city, prov, label = c, p, lab
        elif city is None and p is not None:
            prov, label = p, lab
        elif city is None and prov is None and lab:
            label = lab
    return city, prov, label


def _han_count(s: str) -> int:
    return sum(1 for ch in s if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf")


@lru_cache(maxsize=200_000)
def _guarded_prefix(prefix: str, rest: str) -> tuple[str, str]:
    """Strip as many leading place tokens as possible while >= 2 Han chars remain."""
    toks = _tokens(prefix, _prefix_token_re())
    for k in range(len(toks), -1, -1):
        core = "".join(toks[k:]) + rest
        if _han_count(core) >= 2:
            return "".join(toks[:k]), core
    return "", prefix + rest


# --------------------------------------------------------------------------- text steps
@lru_cache(maxsize=1)
def _opencc():
    import opencc

    return opencc.OpenCC("t2s")


def _t2s(series: pl.Series) -> pl.Series:
    """Traditional -> simplified, one OpenCC call over the unique non-null values."""
    uniq = series.drop_nulls().unique()
    if uniq.len() == 0:
        return series
    vals = uniq.to_list()
    conv = _opencc().convert("\n".join(vals)).split("\n")
    if len(conv) != len(vals):  # defensive: fall back to one call per value
        conv = [_opencc().convert(v) for v in vals]
    return series.replace_strict(vals, conv, default=None, return_dtype=pl.String)


def _nfkc_expr(e: pl.Expr) -> pl.Expr:
    tr_open = "[" + re.escape(_OPEN) + "]"
    tr_close = "[" + re.escape(_CLOSE) + "]"
    return (
        e.str.normalize("NFKC")
        .str.replace_all(tr_open, "(")
        .str.replace_all(tr_close, ")")
        .str.replace_all(r"[^\p{L}\p{N}()]", "")
        .str.to_uppercase()
    )


def clean_text(series: pl.Series, *, t2s: bool = True) -> pl.Series:
    """NFKC, keep letters/digits only, upper-case Latin, optional t2s (for names, products)."""
    s = (
        series.cast(pl.String)
        .str.normalize("NFKC")
        .str.replace_all(r"[^\p{L}\p{N}]", "")
        .str.to_uppercase()
    )
    s = s.replace("", None)
    return _t2s(s) if t2s else s


NORMALIZED_COLUMNS = [
    "name_nfkc",
    "name_simpl",
    "name_core",
    "suffix_class",
    "is_branch",
    "place_prefix",
    "bracket_place",
    "place_city",
    "place_prov",
    "name_key",
]


def normalize_names(series: pl.Series) -> pl.DataFrame:
    """Run the ladder on a Series of names.

    Returns one row per input value with columns name_nfkc, name_simpl, name_core,
    suffix_class, is_branch, place_prefix (stripped leading place text), bracket_place,
    place_city (4-digit), place_prov (2-digit), name_key.
    """
    pl_ = _places()
    s = series.cast(pl.String).rename("name")
    uniq = pl.DataFrame({"name": s.unique()})
    df = uniq.with_columns(_nfkc_expr(pl.col("name")).replace("", None).alias("name_nfkc"))
    df = df.with_columns(_t2s(df["name_nfkc"]).alias("name_simpl"))
    df = _split_branch(df, pl_.bracket_alt)
    df = _split_suffix(df)
    df = _strip_place_prefix(df, pl_.prefix_alt)
    df = _canonical_place(df)
    res = s.to_frame().join(
        df.select("name", *NORMALIZED_COLUMNS), on="name", how="left", nulls_equal=True
    )
    return res.select(NORMALIZED_COLUMNS)


def _split_branch(df: pl.DataFrame, bracket_alt: str) -> pl.DataFrame:
    """Bracketed place out (``bracket_place``); branches: parent part up to the first legal
    suffix (``_parent``), branch part the rest (``_branch``, ``is_branch``)."""
    br_rx = rf"\(((?:{bracket_alt})+)(?:省|市|区|县)?\)"
    suf_alt = "|".join(re.escape(x) for x, _ in LEGAL_SUFFIXES)
    branch_alt = "|".join(BRANCH_MARKERS)
    df = df.with_columns(
        pl.col("name_simpl").str.extract(br_rx, 1).alias("bracket_place"),
        pl.col("name_simpl").str.replace_all(br_rx, "").str.replace_all(r"[()]", "").alias("_n"),
    )
    df = df.with_columns(pl.col("_n").str.contains(branch_alt).fill_null(False).alias("is_branch"))
    parent_rx = rf"^(.*?(?:{suf_alt}))(.*(?:{branch_alt}).*)$"
    return df.with_columns(
        pl.when(pl.col("is_branch"))
        .then(
            pl.coalesce(
                pl.col("_n").str.extract(parent_rx, 1),
                pl.col("_n").str.replace(rf"(?:{branch_alt}).*$", ""),
            )
        )
        .otherwise(pl.col("_n"))
        .alias("_parent"),
    ).with_columns(
        pl.when(pl.col("is_branch"))
        .then(pl.col("_n").str.slice(pl.col("_parent").str.len_chars()))
        .otherwise(None)
        .alias("_branch")
    )


def _split_suffix(df: pl.DataFrame) -> pl.DataFrame:
    """The legal form at the end of the parent name (``suffix_class``) and the rest (``_base``)."""
    suf_alt = "|".join(re.escape(x) for x, _ in LEGAL_SUFFIXES)
    suf_rx = rf"^(.*?)({suf_alt})$"
    return df.with_columns(
        pl.col("_parent").str.extract(suf_rx, 2).alias("_suffix"),
    ).with_columns(
        pl.col("_suffix").replace_strict(dict(LEGAL_SUFFIXES), default=None).alias("suffix_class"),
        pl.when(pl.col("_suffix").is_not_null())
        .then(pl.col("_parent").str.extract(suf_rx, 1))
        .otherwise(pl.col("_parent"))
        .alias("_base"),
    )


def _strip_place_prefix(df: pl.DataFrame, prefix_alt: str) -> pl.DataFrame:
    """Leading administrative place (``place_prefix``), kept only when at least two Han
    characters remain (else shortened by :func:`_guarded_prefix`); ``name_core``."""
    df = df.with_columns(
        pl.col("_base").str.extract(rf"^((?:{prefix_alt})+)", 1).alias("_pre"),
    ).with_columns(
        pl.when(pl.col("_pre").is_not_null())
        .then(pl.col("_base").str.slice(pl.col("_pre").str.len_chars()))
        .otherwise(pl.col("_base"))
        .alias("_rest")
    )
    ok = pl.col("_pre").is_null() | (pl.col("_rest").str.count_matches(_HAN) >= 2)
    df = df.with_columns(ok.fill_null(True).alias("_ok"))
    bad = df.filter(~pl.col("_ok") & pl.col("_pre").is_not_null()).select("_pre", "_rest").unique()
    if bad.height:
        fixed = [_guarded_prefix(p, r or "") for p, r in bad.iter_rows()]
        fix = bad.with_columns(
            pl.Series("_pre2", [f[0] for f in fixed], dtype=pl.String),
            pl.Series("_rest2", [f[1] for f in fixed], dtype=pl.String),
        )
        df = df.join(fix, on=["_pre", "_rest"], how="left", nulls_equal=True).with_columns(
            pl.when(pl.col("_ok")).then(pl.col("_pre")).otherwise(pl.col("_pre2")).alias("_pre"),
            pl.when(pl.col("_ok")).then(pl.col("_rest")).otherwise(pl.col("_rest2")).alias("_rest"),
        )
    df = df.with_columns(pl.col("_pre").replace("", None).alias("place_prefix"))
    return df.with_columns(
        pl.when(pl.col("is_branch"))
        .then(pl.concat_str([pl.col("_rest"), pl.lit("#"), pl.col("_branch")]))
        .otherwise(pl.col("_rest"))
        .replace("", None)
        .alias("name_core")
    )


def _canonical_place(df: pl.DataFrame) -> pl.DataFrame:
    """Canonical place (leading prefix, else bracketed place): ``place_city``, ``place_prov``
    and the matching key ``name_key`` = place label + core."""
    pp = df.select("place_prefix", "bracket_place").unique()
    city, prov, label = [], [], []
    for pre, brk in pp.iter_rows():
        if pre:
            c, p, lab = _place_of(pre)
        elif brk:
            c, p, lab = _place_of(brk, True)
        else:
            c, p, lab = None, None, ""
        city.append(c)
        prov.append(p)
        label.append(lab)
    pp = pp.with_columns(
        pl.Series("place_city", city, dtype=pl.String),
        pl.Series("place_prov", prov, dtype=pl.String),
        pl.Series("_label", label, dtype=pl.String),
    )
    df = df.join(pp, on=["place_prefix", "bracket_place"], how="left", nulls_equal=True)
    return df.with_columns(
        pl.when(pl.col("name_core").is_null())
        .then(None)
        .otherwise(pl.concat_str([pl.col("_label").fill_null(""), pl.col("name_core")]))
        .alias("name_key")
    )


def normalize_name(s: str) -> str:
    """Matching key of one name: canonical place label + core (legal form dropped)."""
    out = normalize_names(pl.Series([s], dtype=pl.String))["name_key"][0]
    return out if out is not None else ""


# --------------------------------------------------------------------------- intermediaries
def flag_intermediaries(series: pl.Series) -> pl.Series:
    """True for trade intermediaries; operates on NFKC + t2s text.

    Following Ahn, Khandelwal & Wei (2011) a name containing a word of
    :data:`INTERMEDIARY_STRONG` (进出口, 贸易, 经贸, 外贸, 外经, 供应链) is an intermediary even
    when it also names a product. The words of :data:`INTERMEDIARY_AMBIGUOUS` (工贸, 科贸,
    商贸) are common in manufacturers' names ("industry and trade"), so they flag only when
    no word of :data:`MANUFACTURER_WORDS` (制造, 生产, 加工, 制品, 厂) occurs.
    """
    s = _t2s(series.cast(pl.String).str.normalize("NFKC"))
    strong = s.str.contains("|".join(INTERMEDIARY_STRONG))
    amb = s.str.contains("|".join(INTERMEDIARY_AMBIGUOUS))
    manu = s.str.contains("|".join(MANUFACTURER_WORDS))
    return (strong | (amb & ~manu)).fill_null(False).rename("is_intermediary")


def is_intermediary(name: str) -> bool:
    """Scalar version of :func:`flag_intermediaries`."""
    return bool(flag_intermediaries(pl.Series([name], dtype=pl.String))[0])


# --------------------------------------------------------------------------- phones / zips
_SCI = r"^(\d)(?:\.(\d+))?E\+?(\d+)$"


def _phone_frame(series: pl.Series) -> pl.DataFrame:
    """Local phone number (``phone``) and area code (``area``) of each raw phone string."""
    df = _phone_digits(series)
    df = _drop_country_code(df)
    return _split_area(df).select("phone", "area")


def _phone_digits(series: pl.Series) -> pl.DataFrame:
    """The digits (``_d``), their groups (``_parts``) and the cleaned text (``_txt``)."""
    s = series.cast(pl.String).str.normalize("NFKC").str.strip_chars().str.to_uppercase()
    df = pl.DataFrame({"raw": s})
    # Excel scientific notation: exact when the mantissa carries every digit; else lossy -> null
    df = df.with_columns(
        pl.col("raw").str.extract(_SCI, 1).alias("_m1"),
        pl.col("raw").str.extract(_SCI, 2).fill_null("").alias("_m2"),
        pl.col("raw").str.extract(_SCI, 3).cast(pl.Int64, strict=False).alias("_e"),
    )
    sci = pl.col("_m1").is_not_null()
    exact = pl.col("_m2").str.len_chars() == pl.col("_e")
    df = df.with_columns(
        pl.when(sci & exact)
        .then(pl.concat_str([pl.col("_m1"), pl.col("_m2")]))
        .when(sci)
        .then(None)
        .otherwise(
            # first number when several are listed; drop a trailing ".0" from floats
            pl.col("raw")
            .str.replace(r"\.0+$", "")
            .str.split_exact("/", 1)
            .struct.field("field_0")
            .str.replace(r"[,;，、].*$", "")
        )
        .alias("_txt")
    )
    df = df.with_columns(
        pl.col("_txt").str.replace(r"^\+", "00").str.replace_all(r"[^\d]", " ").alias("_sp")
    ).with_columns(
        pl.col("_sp").str.replace_all(r"\s+", "").alias("_d"),
        pl.col("_sp").str.strip_chars().str.split(" ").alias("_parts"),
    )
    return df


def _drop_country_code(df: pl.DataFrame) -> pl.DataFrame:
    """Without the country code 86; a '+86 574 …' number gets back the trunk 0."""
    d = pl.col("_d")
    df = df.with_columns(
        pl.when(d.str.starts_with("0086"))
        .then(d.str.slice(4))
        .when(d.str.starts_with("86") & (d.str.len_chars() >= 12))
        .then(d.str.slice(2))
        .otherwise(d)
        .alias("_d")
    )
    # a number written '+86 574 ...' lost the trunk 0 of its area code
    return df.with_columns(
        pl.when(
            d.str.contains(r"^[2-9]")
            & d.str.len_chars().is_between(10, 11)
            & pl.col("_txt").str.contains(r"^(\+|00)?86")
        )
        .then(pl.concat_str([pl.lit("0"), d]))
        .otherwise(d)
        .alias("_d")
    )


def _split_area(df: pl.DataFrame) -> pl.DataFrame:
    """Area code (3 digits for 010 / 02X, else 4; none for mobiles) and the local number of
    7 or 8 digits (extensions and trailing junk dropped) or the 11-digit mobile."""
    d = pl.col("_d")
    # area code: 010 / 02X are 3 digits, other 0XXX 4 digits; numbers may lack the leading 0
    area3 = d.str.contains(r"^0(10|2\d)")
    mobile = d.str.contains(r"^1[3-9]\d{9}$")
    df = df.with_columns(
        pl.when(mobile)
        .then(None)
        .when(d.str.starts_with("0") & area3)
        .then(d.str.slice(0, 3))
        .when(d.str.starts_with("0") & (d.str.len_chars() >= 10))
        .then(d.str.slice(0, 4))
        .otherwise(None)
        .alias("area"),
    )
    df = df.with_columns(
        pl.when(mobile)
        .then(d)
        .when(pl.col("area").is_not_null())
        .then(d.str.slice(pl.col("area").str.len_chars()))
        .otherwise(d)
        .alias("_loc")
    )
    # extension / trailing junk: keep 7 or 8 digits of a landline local number
    loc = pl.col("_loc")
    return df.with_columns(
        pl.when(mobile)
        .then(loc)
        .when(loc.str.len_chars().is_between(7, 8))
        .then(loc)
        .when(
            (loc.str.len_chars() > 8)
            & pl.col("_parts").list.len().gt(1)
            & pl.col("_parts").list.get(-1, null_on_oob=True).str.len_chars().le(5)
        )
        .then(  # "0574-87654321-8001": drop the extension group
            loc.str.slice(0, loc.str.len_chars() - pl.col("_parts").list.get(-1).str.len_chars())
        )
        .otherwise(  # e.g. '574-87654321': the last 7-8 digit group is the local number
            pl.col("_parts")
            .list.eval(pl.element().filter(pl.element().str.len_chars().is_between(7, 8)))
            .list.last()
        )
        .alias("phone")
    ).with_columns(
        pl.when(pl.col("phone").str.len_chars().is_between(7, 11))
        .then(pl.col("phone"))
        .otherwise(None)
        .alias("phone")
    )


def normalize_phone(series: pl.Series) -> pl.Series:
    """Local phone number: 11-digit mobile or 7/8-digit landline without area/country code.

    Full-width digits are folded (NFKC); '1.3857654321E+10' is expanded when exact, but a
    lossy Excel rendering ('1.3857e+10', digits lost) returns null rather than a fake
    number. Several numbers ('a/b', 'a,b') -> the first; extensions are dropped.
    """
    return _phone_frame(series)["phone"].rename(series.name)


def phone_last7(series: pl.Series) -> pl.Series:
    """Last seven digits of :func:`normalize_phone` (Yu 2015 matching key)."""
    return normalize_phone(series).str.slice(-7).rename(series.name)


def phone_area_code(series: pl.Series) -> pl.Series:
    """Area code ('0574', '010'); null for mobiles and numbers written without it."""
    return _phone_frame(series)["area"].rename(series.name)


def normalize_zip(series: pl.Series) -> pl.Series:
    """6-digit zip: NFKC, digits only; a 5-digit value lost its leading zero -> pad to 6."""
    s = (
        series.cast(pl.String)
        .str.normalize("NFKC")
        .str.strip_chars()
        .str.replace(r"\.0+$", "")
        .str.replace_all(r"\D", "")
    )
    df = pl.DataFrame({"z": s}).with_columns(
        pl.when(pl.col("z").str.len_chars() == 5)
        .then(pl.concat_str([pl.lit("0"), pl.col("z")]))
        .otherwise(pl.col("z"))
        .alias("z")
    )
    out = df.select(pl.when(pl.col("z").str.len_chars() == 6).then(pl.col("z")).alias("z"))
    return out["z"].rename(series.name)

"""Scraped platform member lists (Alibaba International Station, Made-in-China.com)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from . import names as nm
from .firms import World, _city_pinyin, unique_ints

ALIBABA_HEADERS = {
    "member_id": "member_id", "name_en": "company_name_en", "name_cn": "company_name_cn",
    "url": "url", "legal_rep": "legal_rep", "phone": "phone", "address": "address",
    "zip": "zip", "member_years": "member_years", "rating": "rating", "scrape_date": "scrape_date",
}  # fmt: skip
MIC_HEADERS = {
    "member_id": "会员编号", "name_en": "英文名称", "name_cn": "中文名称", "url": "网址",
    "legal_rep": "法定代表人", "phone": "联系电话", "address": "地址", "zip": "邮编",
    "member_years": "会员年限", "rating": "评分", "scrape_date": "采集日期",
}  # fmt: skip
ROAD = ["路", "大道", "街", "中路", "东路", "西路", "南路", "北路"]


def _address(
    rng: np.random.Generator, w: World, firm_city: np.ndarray, firm_county: np.ndarray
) -> np.ndarray:
    n = firm_city.size
    prov = w.cities["province_name"].to_numpy()[firm_city]
    city = w.cities["city_name"].to_numpy()[firm_city]
    county = w.counties["county_name"].to_numpy()[firm_county]
    chars = np.array(list(nm.CORE_CHARS))
    road = chars[rng.integers(0, chars.size, n)] + chars[rng.integers(0, chars.size, n)]
    rd = np.array(ROAD)[rng.integers(0, len(ROAD), n)]
    no = rng.integers(1, 999, n).astype(str)
    drop_prov = rng.random(n) < 0.3
    return (
        pl.Series(np.where(drop_prov, "", prov))
        + pl.Series(city)
        + pl.Series(county)
        + pl.Series(road)
        + pl.Series(rd)
        + pl.Series(no)
        + "号"
    ).to_numpy()


def _random_places(rng: np.random.Generator, w: World, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(city, county) indices drawn with the city weights, the county uniform in its city."""
    cities = w.cities
    cw = cities["weight"].to_numpy()
    city = rng.choice(cities.height, size=n, p=cw / cw.sum())
    cc = w.counties["city_idx"].to_numpy()
    order = np.argsort(cc, kind="stable")
    start = np.searchsorted(cc[order], np.arange(cities.height))
    count = np.bincount(cc, minlength=cities.height)
    county = order[start[city] + (rng.random(n) * count[city]).astype(np.int64)]
    return city, county


def _zip_of(rng: np.random.Generator, w: World, city: np.ndarray) -> np.ndarray:
    """A zip code of the city (its prefix and two random digits)."""
    return (
        pl.Series(w.cities["zip_prefix"].to_numpy()[city])
        + pl.Series(rng.integers(0, 100, city.size).astype(str)).str.zfill(2)
    ).to_numpy()


def _phone(
    rng: np.random.Generator, area: np.ndarray, local: np.ndarray, same: np.ndarray
) -> np.ndarray:
    n = area.size
    mobile = (
        "86-1"
        + pl.Series(rng.choice(["3", "5", "8"], n))
        + pl.Series(rng.integers(10**8, 10**9, n).astype(str))
    )
    other = rng.integers(2 * 10**7, 9 * 10**7, n).astype(str)
    land = (
        "86-"
        + pl.Series(area).str.strip_chars_start("0")
        + "-"
        + pl.Series(np.where(same, local, other))
    )
    return np.where(rng.random(n) < 0.35, mobile.to_numpy(), land.to_numpy())


def _listed(
    w: World,
    p: dict[str, Any],
    rng: np.random.Generator,
    firms: np.ndarray,
    join: np.ndarray,
    trad_map: dict[str, str],
    with_rating: bool,
) -> pl.DataFrame:
    """Rows for true manufacturer members."""
    q = p["names"]
    n = firms.size
    pieces = w.name_pieces
    last_v = w.name_version[firms, -1]
    use_old = (rng.random(n) < q["member_old_name"]) & (last_v > 0)
    version = np.where(use_old, rng.integers(0, np.maximum(last_v, 1)), last_v)
    sel = pl.DataFrame({"firm": firms, "version": version}).join(
        pieces, on=["firm", "version"], how="left", maintain_order="left"
    )
    # renamed beyond recognition: a new core, suffix and prefix
    unm = rng.random(n) < q["unmatchable_share"]
    new_core, new_py = nm.cores_to_str(nm.sample_cores(rng, n))
    sel = sel.with_columns(
        core=pl.when(pl.Series(unm)).then(new_core).otherwise("core"),
        core_py=pl.when(pl.Series(unm)).then(new_py).otherwise("core_py"),
        suffix_idx=pl.when(pl.Series(unm)).then(pl.lit(2)).otherwise("suffix_idx"),
    )
    name_cn = nm.noisy_names(sel, rng, **nm.noise_of(q, "member"), trad_map=trad_map)
    name_en = nm.english_names(sel)
    name_cn, name_en, listing = _listing_variants(sel, rng, q, name_cn, name_en)
    upper = rng.random(n) < 0.1
    name_en = pl.Series(np.where(upper, name_en.str.to_uppercase().to_numpy(), name_en.to_numpy()))
    f = w.firm
    addr, zipc = _member_address(rng, w, q["member_other_address"], firms)
    slug = (sel["city_py"] + sel["core_py"]).str.to_lowercase()
    same_rep = rng.random(n) < 0.8
    other_rep = nm.person_names(rng, n).to_numpy()
    zr = rng.random(n)
    scrape_year = int(p["members"]["scrape_date"][:4])
    rating = f["rating"][firms] if with_rating else np.full(n, np.nan)
    return pl.DataFrame(
        {
            "name_en": name_en,
            "name_cn": name_cn,
            "slug": slug,
            "legal_rep": np.where(same_rep & ~unm, f["legal_rep"][firms], other_rep),
            "phone": _phone(
                rng, f["area_code"][firms], f["phone_local"][firms], ~unm & (rng.random(n) < 0.7)
            ),
            "address": addr,
            "zip": np.where(zr < 0.8, zipc, ""),
            "member_years": (pl.Series(scrape_year - join + 1).cast(pl.String) + " YRS"),
            "rating": rating,
            "true_firm": firms.astype(np.int64),
            "kind": "manufacturer",
            "join_year": join.astype(np.int64),
            "unmatchable": unm,
            "listing": listing,
        }
    )


def _member_address(
    rng: np.random.Generator, w: World, share: float, firms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Address and zip of listed manufacturers: the firm's own (county, zip) or, for a share
    `share`, a sales office or new site in another city (with that city's zip)."""
    f = w.firm
    city, county = f["city_idx"][firms].copy(), f["county_idx"][firms].copy()
    other = rng.random(firms.size) < share
    o_city, o_county = _random_places(rng, w, int(other.sum()))
    city[other], county[other] = o_city, o_county
    zipc = np.where(other, "", f["zip"][firms]).astype(object)
    zipc[other] = _zip_of(rng, w, o_city)
    return _address(rng, w, city, county), zipc.astype(str)


def _listing_variants(
    sel: pl.DataFrame,
    rng: np.random.Generator,
    q: dict[str, Any],
    name_cn: pl.Series,
    name_en: pl.Series,
) -> tuple[pl.Series, pl.Series, np.ndarray]:
    """How a manufacturer is listed: under a related trading company (宁波海天进出口有限公司,
    "Ningbo Haitian Import and Export Co., Ltd."), under a short trade name without the
    administrative suffix (海天塑料, 海天), and/or with no Chinese name at all (English /
    pinyin only). Returns the Chinese and English names and the listing kind (full_name,
    short_name or trading_arm, prefixed english_ when the Chinese name is blank)."""
    n = sel.height
    r = rng.random((n, 5))
    trade = r[:, 0] < q["member_trading_arm"]
    short = ~trade & (r[:, 1] < q["member_short_name"])
    english = r[:, 2] < q["member_english_only"]
    k = rng.integers(0, len(nm.TRADE_WORDS), n)
    words = pl.Series(np.array(nm.TRADE_WORDS)[k])
    words_en = pl.Series(np.array(nm.TRADE_WORDS_EN)[k])
    arm_cn = sel["prefix"] + sel["core"] + words + "有限公司"
    arm_en = sel["city_py"] + " " + sel["core_py"] + " " + words_en + " Co., Ltd."
    short_cn = (
        pl.Series(np.where(r[:, 3] < 0.3, sel["prefix"].to_numpy(), ""))
        + sel["core"]
        + pl.Series(np.where(r[:, 4] < 0.5, sel["indword"].to_numpy(), ""))
    )
    cn = np.where(trade, arm_cn.to_numpy(), np.where(short, short_cn.to_numpy(), name_cn))
    en = np.where(trade, arm_en.to_numpy(), name_en.to_numpy())
    cn = _blank(pl.Series(cn, dtype=pl.String), english)
    listing = np.where(trade, "trading_arm", np.where(short, "short_name", "full_name"))
    listing = np.where(english, np.char.add("english_", listing.astype(str)), listing)
    return cn, pl.Series(en, dtype=pl.String), listing


def _blank(s: pl.Series, mask: np.ndarray) -> pl.Series:
    """`s` with null where `mask`."""
    df = pl.DataFrame({"s": s, "m": mask})
    return df.select(pl.when("m").then(None).otherwise("s").alias(s.name))[:, 0]


def _others(
    w: World,
    p: dict[str, Any],
    rng: np.random.Generator,
    n: int,
    scrape_year: int,
    with_rating: bool,
) -> pl.DataFrame:
    """Non-manufacturers (trading companies, service firms) on the list."""
    cities = w.cities
    city, county = _random_places(rng, w, n)
    core, core_py = nm.cores_to_str(nm.sample_cores(rng, n))
    k = rng.integers(0, len(nm.TRADE_WORDS), n)
    short = cities["short_name"].to_numpy()[city]
    cpy = _city_pinyin(cities)[city]
    name_cn = (
        pl.Series(short) + core + pl.Series(np.array(nm.TRADE_WORDS)[k]) + "有限公司"
    ).to_numpy()
    name_en = (
        pl.Series(cpy)
        + " "
        + core_py
        + " "
        + pl.Series(np.array(nm.TRADE_WORDS_EN)[k])
        + " Co., Ltd."
    ).to_numpy()
    # the listing format does not depend on who lists: English only as often as manufacturers
    english = rng.random(n) < p["names"]["member_english_only"]
    name_cn = _blank(pl.Series(name_cn, dtype=pl.String), english)
    # tenure ~ geometric (mean 5 years), never longer than the platform has existed
    join = np.maximum(scrape_year - rng.geometric(1 / 5, n) + 1, p["members"]["launch_year"])
    area = cities["area_code"].to_numpy()[city]
    local = rng.integers(2 * 10**7, 9 * 10**7, n).astype(str)
    rating = (
        np.where(rng.random(n) < 0.6, np.clip(np.round(rng.normal(4.2, 0.4, n), 1), 1, 5), np.nan)
        if with_rating
        else np.full(n, np.nan)
    )
    zipc = _zip_of(rng, w, city)
    return pl.DataFrame(
        {
            "name_en": name_en,
            "name_cn": name_cn,
            "slug": (pl.Series(cpy) + core_py).str.to_lowercase(),
            "legal_rep": nm.person_names(rng, n),
            "phone": _phone(rng, area, local, np.ones(n, dtype=bool)),
            "address": _address(rng, w, city, county),
            "zip": zipc,
            "member_years": pl.Series(scrape_year - join + 1).cast(pl.String) + " YRS",
            "rating": rating,
            "true_firm": pl.Series([None] * n, dtype=pl.Int64),
            "kind": "non_manufacturer",
            "join_year": join.astype(np.int64),
            "unmatchable": np.zeros(n, dtype=bool),
            "listing": np.where(english, "english_other", "other"),
        }
    )


def _branches(
    listed: pl.DataFrame, rng: np.random.Generator, w: World, share: float
) -> pl.DataFrame:
    """Branch offices (…分公司) of listed manufacturers: must not match the parent."""
    m = listed.filter(pl.col("kind") == "manufacturer")
    nb = int(round(share * m.height))
    if nb == 0:
        return listed.clear()
    pick = rng.choice(m.height, nb, replace=False)
    b = m[pick]
    cities = w.cities
    place = cities["short_name"].to_numpy()[rng.integers(0, cities.height, nb)]
    return b.with_columns(
        name_cn=pl.col("name_cn") + pl.Series(place) + "分公司",
        name_en=pl.col("name_en") + " " + pl.lit("Branch"),
        slug=pl.col("slug") + "branch",
        legal_rep=nm.person_names(rng, nb),
        phone=pl.Series(
            _phone(
                rng,
                cities["area_code"].to_numpy()[rng.integers(0, cities.height, nb)],
                rng.integers(2 * 10**7, 9 * 10**7, nb).astype(str),
                np.ones(nb, dtype=bool),
            )
        ),
        true_firm=pl.lit(None, pl.Int64),
        kind=pl.lit("branch"),
        unmatchable=pl.lit(False),
    )


def member_list(
    w: World, p: dict[str, Any], rng: np.random.Generator, which: str, trad_map: dict[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(raw list with raw headers, truth) for `which` in {'alibaba', 'mic'}."""
    mp = p["members"]
    scrape_year = int(mp["scrape_date"][:4])
    f = w.firm
    join_all = f["join_year"] if which == "alibaba" else f["mic_join_year"]
    firms = np.flatnonzero(join_all > 0)
    keep = rng.random(firms.size) >= mp["lapsed_share"]
    firms = firms[keep]
    listed = _listed(w, p, rng, firms, join_all[firms], trad_map, which == "alibaba")
    share_nm = (
        mp["non_manufacturer_share"] if which == "alibaba" else mp["mic_non_manufacturer_share"]
    )
    others = _others(w, p, rng, int(round(share_nm * firms.size)), scrape_year, which == "alibaba")
    branches = _branches(listed, rng, w, mp["branch_share"])
    allr = pl.concat([listed, others, branches])
    n = allr.height
    perm = rng.permutation(n)
    allr = allr[perm]
    if which == "alibaba":
        ids = (
            "cn" + pl.Series(unique_ints(rng, n, 10**9) + 1_500_000_000).cast(pl.String)
        ).to_numpy()
        url = (
            "https://"
            + allr["slug"]
            + pl.Series(np.where(rng.random(n) < 0.2, rng.integers(1, 99, n).astype(str), ""))
            + ".en.alibaba.com"
        )
        headers = ALIBABA_HEADERS
    else:
        ids = (
            "MIC" + pl.Series(unique_ints(rng, n, 10**8)).cast(pl.String).str.zfill(8)
        ).to_numpy()
        url = "https://" + allr["slug"] + ".en.made-in-china.com"
        headers = MIC_HEADERS
    raw = pl.DataFrame(
        {
            "member_id": ids,
            "name_en": allr["name_en"],
            "name_cn": allr["name_cn"],
            "url": url,
            "legal_rep": allr["legal_rep"],
            "phone": allr["phone"],
            "address": allr["address"],
            "zip": allr["zip"],
            "member_years": allr["member_years"],
            "rating": allr["rating"].fill_nan(None),
            "scrape_date": mp["scrape_date"],
        }
    ).rename(headers)
    truth = pl.DataFrame(
        {
            "list": which,
            "member_id": ids,
            "true_firm": allr["true_firm"],
            "kind": allr["kind"],
            "join_year": allr["join_year"],
            "unmatchable": allr["unmatchable"],
            "listing": allr["listing"],
        }
    )
    return raw, truth

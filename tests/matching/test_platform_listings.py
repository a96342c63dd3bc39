"""The platform matcher's listing steps on hand-made lists: the trade-name step without a
corroborating field (unique stem in the city, address in the firm's county) and the
English-name city that several cities share (Taizhou = 台州 and 泰州)."""

from __future__ import annotations

import polars as pl
import pytest

from cbec.matching.pinyin import english_city, english_tokens
from cbec.matching.platform import match_platform

FIRMS = pl.DataFrame(
    {
        "firm_id": ["hai", "hong"],
        "firm_name": ["宁波海天塑料有限公司", "宁波宏达电子有限公司"],
        "legal_rep": ["张一", "李二"],
        "phone": ["0574-81111111", "0574-82222222"],
        "zip": ["315100", "315100"],
        "city_code": ["3302", "3302"],
        "province_code": ["33", "33"],
        "region_code": ["330212", "330212"],  # 鄞州区
    }
)


def _member(name_cn: str, address: str, name_en: str | None = None) -> pl.DataFrame:
    """One member with no corroborating field (no phone, zip or legal representative)."""
    return pl.DataFrame(
        {
            "member_id": ["m1"],
            "name_cn": [name_cn],
            "name_en": [name_en],
            "legal_rep": [None],
            "phone": [None],
            "address": [address],
            "zip": [None],
        },
        schema_overrides={"legal_rep": pl.String, "phone": pl.String, "zip": pl.String},
    )


@pytest.mark.parametrize("name", ["宁波海天进出口有限公司", "海天"])
def test_trade_name_without_corroboration_in_the_firms_county(name):
    links, _, _ = match_platform(_member(name, "浙江省宁波市鄞州区天童路1号"), FIRMS)
    assert links.select("member_id", "firm_id", "method").rows() == [("m1", "hai", "trade_name")]


def test_trade_name_without_corroboration_needs_the_county():
    # the same trading company with an address in another county of the city (北仑区)
    links, _, _ = match_platform(
        _member("宁波海天进出口有限公司", "浙江省宁波市北仑区明州路1号"), FIRMS
    )
    assert links.height == 0


def test_trade_name_without_corroboration_needs_a_unique_stem():
    # a second firm of the city whose name begins with the stem, in another county
    other = FIRMS.head(1).with_columns(
        firm_id=pl.lit("hai2"),
        firm_name=pl.lit("宁波海天机械有限公司"),
        region_code=pl.lit("330206"),
    )
    firms = pl.concat([FIRMS, other])
    links, _, _ = match_platform(
        _member("宁波海天进出口有限公司", "浙江省宁波市鄞州区天童路1号"), firms
    )
    assert links.height == 0
    # and a second member with the stem: neither is linked
    two = pl.concat(
        [
            _member("宁波海天进出口有限公司", "浙江省宁波市鄞州区天童路1号"),
            _member("宁波海天贸易有限公司", "浙江省宁波市鄞州区天童路2号").with_columns(
                member_id=pl.lit("m2")
            ),
        ]
    )
    links, _, _ = match_platform(two, FIRMS)
    assert links.height == 0


def test_english_city_shared_by_two_cities_makes_both_candidates():
    """An English-only member with a mobile phone and a sales office in Guangzhou: only its
    English name ("Taizhou", 台州 or 泰州) points to its firm's city."""
    firms = pl.DataFrame(
        {
            "firm_id": ["tz", "tz2"],
            "firm_name": ["泰州海天塑料有限公司", "台州宏达电子有限公司"],
            "legal_rep": ["张一", "李二"],
            "phone": ["13912345678", "0576-82222222"],
            "zip": ["225300", "318000"],
            "city_code": ["3212", "3310"],
            "province_code": ["32", "33"],
        }
    )
    members = pl.DataFrame(
        {
            "member_id": ["m1"],
            "name_cn": [None],
            "name_en": ["TAIZHOU HAITIAN PLASTIC CO., LTD."],
            "legal_rep": [None],
            "phone": ["86-13912345678"],
            "address": ["广东省广州市天河区体育西路1号"],
            "zip": [None],
        },
        schema_overrides={"name_cn": pl.String, "legal_rep": pl.String, "zip": pl.String},
    )
    links, _, _ = match_platform(members, firms)
    assert links.select("member_id", "firm_id", "method").rows() == [("m1", "tz", "pinyin")]


def test_english_city_and_tokens():
    ids = pl.Series(["a", "b", "c", "d", "e"])
    en = pl.Series(
        [
            "Taizhou Haitian Plastic Co., Ltd.",
            "Tahe Minhe Electric Factory",  # 漯河: luohe, or tahe (漯 has both readings)
            "Zhejiang Ningbo Haitian Plastic Co., Ltd.",
            "Nanping Ningde Building Materials Co., Ltd.",  # trade name 宁德 = a city
            "Haitian Plastic Co., Ltd.",
        ]
    )
    cities = english_city(ids, en).group_by("id").agg(pl.col("city").sort())
    got = dict(zip(cities["id"], cities["city"].to_list(), strict=True))
    assert got == {"a": ["3212", "3310"], "b": ["4111"], "c": ["3302"], "d": ["3507"]}
    tok = english_tokens(ids, en).group_by("id", maintain_order=True).agg("key")
    keys = dict(zip(tok["id"], tok["key"].to_list(), strict=True))
    assert keys["a"] == ["haitian", "plastic"]
    assert keys["c"] == ["haitian", "plastic"]  # province and city words both dropped
    assert keys["d"][0] == "ningde"
    assert keys["e"] == ["haitian", "plastic"]


def _firm(name: str, city: str, prov: str, county: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "firm_id": ["f1"],
            "firm_name": [name],
            "legal_rep": ["张一"],
            "phone": ["0000-81111111"],
            "zip": ["000000"],
            "city_code": [city],
            "province_code": [prov],
            "region_code": [county],
        }
    )


@pytest.mark.parametrize(
    ("firm", "member"),
    [
        # the core keeps the remnant of the firm's own district (浦东新区): 浦东新生聚制衣
        (_firm("浦东新生聚制衣有限公司", "3100", "31", "310115"), "生聚制衣"),
        (_firm("浦东新生聚制衣有限公司", "3100", "31", "310115"), None),
        # the trade name 新丰 is also a county (in Guangdong): the core lost it (丝绸)
        (_firm("双鸭山新丰丝绸有限公司", "2305", "23", "230502"), None),
    ],
)
def test_firm_core_with_a_place_in_it(firm, member):
    """A short name or an English-only member (legal representative agrees) still meets the
    firm whose normalized core kept a district remnant or lost a trade name to a place."""
    city = {"3100": "上海市浦东新区张江路1号", "2305": "黑龙江省双鸭山市尖山区中山路1号"}
    en = {"3100": "Shanghai Shengju Apparel Co., Ltd.", "2305": "Shuangyashan Xinfeng Silk Co."}
    c = firm["city_code"][0]
    members = _member(member, city[c], en[c]).with_columns(legal_rep=pl.lit("张一"))
    links, _, _ = match_platform(members, firm)
    assert links.select("member_id", "firm_id").rows() == [("m1", "f1")]

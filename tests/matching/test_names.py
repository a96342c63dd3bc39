"""Tests for the firm-name normalization ladder, intermediary flags, phone and zip cleaning."""

from __future__ import annotations

import polars as pl
import pytest

from cbec.matching.names import (
    flag_intermediaries,
    is_intermediary,
    normalize_name,
    normalize_names,
    normalize_phone,
    normalize_zip,
    phone_area_code,
    phone_last7,
)


def _one(name: str) -> dict:
    return normalize_names(pl.Series([name], dtype=pl.String)).row(0, named=True)


def test_full_width_and_bracketed_place_suffix():
    r = _one("ＡＢＣ电子（宁波）有限公司")
    assert r["name_nfkc"] == "ABC电子(宁波)有限公司"
    assert r["name_core"] == "ABC电子"
    assert r["suffix_class"] == "有限"
    assert r["bracket_place"] == "宁波"
    assert r["place_city"] == "3302"
    assert normalize_name("ＡＢＣ电子（宁波）有限公司") == normalize_name("宁波ABC电子有限公司")


def test_traditional_to_simplified_and_province_city_prefix():
    r = _one("廣東省深圳市華強電子科技有限公司")
    assert r["name_simpl"] == "广东省深圳市华强电子科技有限公司"
    assert r["name_core"] == "华强电子科技"
    assert r["place_prefix"] == "广东省深圳市"
    assert (r["place_city"], r["place_prov"]) == ("4403", "44")
    assert normalize_name("廣東省深圳市華強電子科技有限公司") == "深圳华强电子科技"


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("宁波华东电子有限公司", "有限"),
        ("宁波华东电子有限责任公司", "有限"),
        ("宁波华东电子股份有限公司", "股份"),
        ("宁波华东电子集团有限公司", "有限"),
        ("宁波华东电子(集团)有限公司", "有限"),
        ("宁波华东电子厂", "厂"),
        ("宁波华东电子总厂", "厂"),
        ("宁波华东电子公司", "公司"),
    ],
)
def test_suffix_variants_share_core(name, cls):
    r = _one(name)
    assert r["name_core"] == "华东电子"
    assert r["suffix_class"] == cls
    assert r["name_key"] == "宁波华东电子"


def test_leading_prefix_and_guard():
    assert _one("浙江省宁波市华东电子有限公司")["name_core"] == "华东电子"
    assert _one("宁波华东电子有限公司")["name_core"] == "华东电子"
    # the guard keeps the place when nothing (or < 2 Han characters) would remain
    r = _one("宁波市有限公司")
    assert r["name_core"] == "宁波市" and r["place_prefix"] is None
    r = _one("浙江省宁波市有限公司")
    assert r["name_core"] == "宁波市" and r["place_prefix"] == "浙江省"
    assert _one("宁波市A有限公司")["name_core"] == "宁波市A"
    # county-level city maps to its prefecture for the key; municipalities fold districts
    assert normalize_name("慈溪市华东电器有限公司") == "宁波华东电器"
    assert normalize_name("北京市朝阳区华东电子厂") == "北京华东电子"
    # blocklisted short place name is kept as part of the core
    assert _one("东方电气集团有限公司")["name_core"] == "东方电气"
    # autonomous prefectures and counties: short forms without the ethnic names
    assert normalize_name("延边朝鲜族自治州华东食品有限公司") == "延边华东食品"
    assert normalize_name("延边华东食品有限公司") == "延边华东食品"


def test_bracketed_places_removed_other_brackets_kept():
    assert _one("宁波(中国)电子有限公司")["name_core"] == "电子"
    assert _one("宁波(中国)电子有限公司")["name_key"] == "宁波电子"
    assert normalize_name("华东电子有限公司(宁波)") == normalize_name("宁波华东电子有限公司")
    assert normalize_name("华东电子【宁波】有限公司") == normalize_name("宁波华东电子有限公司")
    assert _one("华东(ABC)电子有限公司")["name_core"] == "华东ABC电子"


def test_whitespace_punctuation_case():
    assert normalize_name(" 宁波 华东·电子 有限公司 ") == normalize_name("宁波华东电子有限公司")
    assert normalize_name("宁波abc-电子有限公司") == normalize_name("宁波ＡＢＣ电子有限公司")


def test_branch_never_equals_parent():
    parent = _one("宁波华东电子有限公司")
    branch = _one("宁波华东电子有限公司北仑分公司")
    assert branch["is_branch"] and not parent["is_branch"]
    assert branch["name_core"] == "华东电子#北仑分公司"
    assert branch["name_key"] != parent["name_key"]
    assert branch["name_core"] != parent["name_core"]
    for n in ("宁波华东电子厂第二分厂", "宁波华东电子有限公司上海办事处", "华东电子宁波分公司"):
        r = _one(n)
        assert r["is_branch"], n
        assert "#" in r["name_core"], n


def test_vectorised_keeps_order_nulls_duplicates():
    s = pl.Series(
        ["宁波华东电子有限公司", None, "廣東華強電子有限公司", "宁波华东电子有限公司", ""]
    )
    out = normalize_names(s)
    assert out.height == 5
    assert out["name_key"].to_list()[0] == out["name_key"].to_list()[3] == "宁波华东电子"
    assert out["name_key"][1] is None and out["name_key"][4] is None
    assert out["name_key"][2] == "广东华强电子"
    assert normalize_name("") == ""
    assert set(out.columns) >= {
        "name_nfkc",
        "name_simpl",
        "name_core",
        "suffix_class",
        "is_branch",
        "place_prefix",
    }


@pytest.mark.parametrize(
    ("name", "flag"),
    [
        ("宁波华东进出口有限公司", True),
        ("浙江华东国际贸易有限公司", True),
        ("宁波华东经贸有限公司", True),
        ("宁波华东外贸有限公司", True),
        ("深圳华东供应链管理有限公司", True),
        ("宁波华东工贸有限公司", True),
        ("宁波華東科貿有限公司", True),  # traditional characters
        ("宁波华东电器制造工贸有限公司", False),  # ambiguous word + manufacturer word
        ("宁波华东电子有限公司", False),
        ("宁波华东机械厂", False),
    ],
)
def test_intermediaries(name, flag):
    assert is_intermediary(name) is flag
    assert flag_intermediaries(pl.Series([name]))[0] is flag


def test_phone_normalization():
    raw = [
        "1.3857e+10",  # lossy Excel rendering: digits lost -> null
        "1.3857654321E+10",  # exact scientific rendering
        "０５７４－８７６５４３２１",
        "0574-87654321-8001",
        "+86 574 87654321",
        "+86-13857654321",
        "13857654321",
        "13857654321.0",
        "010-1234567",
        "(0574)87654321/87654322",
        "87654321",
        "abc",
        None,
        "574-87654321",  # area code without its trunk zero
        "0574 8765 4321",
        "87654321-8001",
    ]
    out = normalize_phone(pl.Series(raw)).to_list()
    assert out == [
        None,
        "13857654321",
        "87654321",
        "87654321",
        "87654321",
        "13857654321",
        "13857654321",
        "13857654321",
        "1234567",
        "87654321",
        "87654321",
        None,
        None,
        "87654321",
        "87654321",
        "87654321",
    ]
    assert phone_last7(pl.Series(["０５７４－８７６５４３２１", "13857654321"])).to_list() == [
        "7654321",
        "7654321",
    ]
    assert phone_area_code(
        pl.Series(["0574-87654321", "010 1234567", "13857654321"])
    ).to_list() == [
        "0574",
        "010",
        None,
    ]


def test_zip_normalization():
    raw = [
        "31500",
        "315000",
        "３１５０００",
        "315000.0",
        "10010",
        "1234",
        "3150001",
        None,
        " 315 000 ",
    ]
    assert normalize_zip(pl.Series(raw)).to_list() == [
        "031500",  # decision: a 5-digit zip lost its leading zero -> left-pad
        "315000",
        "315000",
        "315000",
        "010010",
        None,
        None,
        None,
        "315000",
    ]

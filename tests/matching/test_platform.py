"""Tests for platform-member to firm matching and 'N YRS' parsing (simulated set)."""

from __future__ import annotations

from datetime import date

import numpy as np
import opencc
import polars as pl
import pytest

from cbec.errors import InputError
from cbec.matching.platform import (
    link_members,
    match_platform,
    member_info,
    panel_firms,
    parse_member_years,
)

POOL = list("鑫诚瑞祥宏达恒盛利丰源汇隆兴旺佳美华宇新光明德安康伟业鸿志强振飞腾凯越")
INDS = ["电子", "机械", "纺织", "五金", "塑料", "灯具"]
CITIES = [
    # prov name, city, city_code, zip prefix, area code
    ("浙江省", "宁波", "3302", "315", "0574"),
    ("浙江省", "杭州", "3301", "310", "0571"),
    ("广东省", "深圳", "4403", "518", "0755"),
    ("广东省", "东莞", "4419", "523", "0769"),
    ("江苏省", "苏州", "3205", "215", "0512"),
    ("山东省", "青岛", "3702", "266", "0532"),
]
S2T = opencc.OpenCC("s2t")
SURN = list("王李张刘陈杨黄赵吴周")


def _simulate(seed: int = 5, n_firms: int = 600):
    rng = np.random.default_rng(seed)
    cores = sorted({"".join(rng.choice(POOL, k)) for k in rng.integers(2, 4, size=10 * n_firms)})
    rng.shuffle(cores)
    firms, members, truth = [], [], []

    def phone(area):
        return f"{area}-8{rng.integers(0, 10**7):07d}"

    for i in range(n_firms):
        prov, city, cc, zp, area = CITIES[i % len(CITIES)]
        core = cores.pop() + str(rng.choice(INDS))
        names = [city + core + "有限公司"]
        old = None
        if rng.random() < 0.2:
            old = cores.pop() + str(rng.choice(INDS))
            names.append(city + old + "厂")
        firms.append(
            {
                "firm_id": f"F{i:04d}",
                "firm_name": names,
                "legal_rep": str(rng.choice(SURN)) + "".join(rng.choice(POOL, 2)),
                "phone": phone(area),
                "zip": zp + f"{rng.integers(0, 1000):03d}",
                "city_code": cc,
                "province_code": cc[:2],
                "_core": core,
                "_old": old,
                "_city": (prov, city, area, zp),
            }
        )
    used = {f["_core"] for f in firms} | {f["_old"] for f in firms if f["_old"]}
    kinds = ["exact", "old", "traditional", "bracket", "suffix", "nocity", "typo", "typo_nocorr"]
    mid = 0

    def add_member(name, f, prov, city, zp, area, rep, ph, zip_, true, address=True):
        nonlocal mid
        members.append(
            {
                "member_id": f"M{mid:05d}",
                "name_cn": name,
                "name_en": "Some Co., Ltd.",
                "legal_rep": rep,
                "phone": ph,
                "address": f"{prov}{city}市某某区工业路{rng.integers(1, 999)}号"
                if address
                else None,
                "zip": zip_,
            }
        )
        truth.append((f"M{mid:05d}", true))
        mid += 1

    for f in firms[: int(0.6 * n_firms)]:
        prov, city, area, zp = f["_city"]
        kind = kinds[int(rng.integers(0, len(kinds)))]
        if kind == "old" and f["_old"] is None:
            kind = "exact"
        core = f["_core"]
        rep, ph, zip_ = f["legal_rep"], f["phone"], f["zip"]
        name = city + core + "有限公司"
        address = True
        if kind == "old":
            name = city + f["_old"] + "有限公司"
        elif kind == "traditional":
            name, rep = S2T.convert(name), S2T.convert(rep)
        elif kind == "bracket":
            name = core + "有限公司(" + city + ")"
            address = False  # city must come from the bracketed place
        elif kind == "suffix":
            name = city + core + "股份有限公司"
        elif kind == "nocity":
            name = core + "有限公司"  # core only; city from the address
        elif kind.startswith("typo"):
            pos = int(rng.integers(0, len(core) - 2))  # replace one character of the core
            c = core[pos]
            while c == core[pos] or core[:pos] + c + core[pos + 1 :] in used:
                c = str(rng.choice(POOL))  # a typo must not recreate another firm's name
            name = city + core[:pos] + c + core[pos + 1 :] + "有限公司"
            ph = ph.replace("-", "") if rng.random() < 0.5 else "+86 " + ph[1:]
            if kind == "typo_nocorr":
                rep, ph, zip_ = "某某", phone(area), None
        add_member(name, f, prov, city, zp, area, rep, ph, zip_, f["firm_id"], address)
        f["_kind"] = kind
    # branches of matched firms (same phone as parent!) must not match their parent
    for f in firms[:20]:
        prov, city, area, zp = f["_city"]
        add_member(
            f["firm_name"][0] + "北仑分公司",
            f,
            prov,
            city,
            zp,
            area,
            f["legal_rep"],
            f["phone"],
            f["zip"],
            None,
        )
    # trading companies and manufacturers outside the firm list
    for k in range(60):
        prov, city, cc, zp, area = CITIES[k % len(CITIES)]
        word = str(rng.choice(["进出口", "国际贸易", "经贸"])) if k < 30 else str(rng.choice(INDS))
        name = city + cores.pop() + word + "有限公司"
        add_member(name, None, prov, city, zp, area, "某人", phone(area), zp + "000", None)
    fdf = pl.DataFrame(
        [{k: v for k, v in f.items() if not k.startswith("_")} for f in firms],
        schema={
            "firm_id": pl.String,
            "firm_name": pl.List(pl.String),
            "legal_rep": pl.String,
            "phone": pl.String,
            "zip": pl.String,
            "city_code": pl.String,
            "province_code": pl.String,
        },
    )
    mdf = pl.DataFrame(members)
    tdf = pl.DataFrame(truth, schema=["member_id", "true_firm"], orient="row")
    kinds_df = pl.DataFrame(
        [(f["firm_id"], f.get("_kind")) for f in firms], schema=["true_firm", "kind"], orient="row"
    )
    return mdf, fdf, tdf.join(kinds_df, on="true_firm", how="left")


def _evaluate(links, truth):
    ev = truth.join(links, on="member_id", how="left")
    tp = ev.filter(pl.col("firm_id") == pl.col("true_firm")).height
    fp = ev.filter(
        pl.col("firm_id").is_not_null() & (pl.col("firm_id") != pl.col("true_firm")).fill_null(True)
    ).height
    n_true = truth["true_firm"].drop_nulls().len()
    return tp / max(tp + fp, 1), tp / n_true, ev


def test_precision_recall_blocking_and_review():
    members, firms, truth = _simulate()
    links, review, report = match_platform(members, firms)
    precision, recall, ev = _evaluate(links, truth)
    print(
        f"platform precision={precision:.4f} recall={recall:.4f} {report['by_method']} review={review.height} comparisons={report['fuzzy_comparisons']}/{report['full_cross_product']}"
    )
    assert precision >= 0.99
    # typo_nocorr members (~1/8) are unmatchable by design: they must go to review
    assert recall >= 0.78
    matchable = ev.filter(pl.col("true_firm").is_not_null() & (pl.col("kind") != "typo_nocorr"))
    recall_matchable = (matchable["firm_id"] == matchable["true_firm"]).fill_null(False).mean()
    print(f"recall excluding uncorroborated typos={recall_matchable:.4f}")
    assert recall_matchable >= 0.9
    # branches and trading companies never matched
    none_matched = ev.filter(pl.col("true_firm").is_null() & pl.col("firm_id").is_not_null())
    assert none_matched.height == 0
    # each planted kind is reached by the intended step
    rec = (
        ev.filter(pl.col("true_firm").is_not_null())
        .group_by("kind")
        .agg(
            (pl.col("firm_id") == pl.col("true_firm")).fill_null(False).mean().alias("r"),
            pl.col("method").drop_nulls().unique().alias("m"),
        )
    )
    r = {k: (v, set(m)) for k, v, m in rec.iter_rows()}
    for k in ("exact", "old", "traditional", "bracket", "suffix"):
        assert r[k][0] == 1.0, k
        assert r[k][1] == {"name_exact"}, (k, r[k][1])
    assert r["nocity"][0] == 1.0 and r["nocity"][1] <= {"core_city"}
    assert r["typo"][0] >= 0.5 and r["typo"][1] <= {"fuzzy", "phone_legal_rep"}
    assert r["typo_nocorr"][0] == 0.0  # uncorroborated fuzzy candidates are not accepted ...
    nocorr = ev.filter(pl.col("kind") == "typo_nocorr")["member_id"]
    in_review = review.filter(pl.col("member_id").is_in(nocorr.implode()))
    assert in_review.height > 0  # ... they go to clerical review
    assert (in_review["n_corroborating"] == 0).all()
    assert review.filter(pl.col("score") < 60).height == 0
    # blocking: far fewer comparisons than the cross product
    assert 0 < report["fuzzy_comparisons"] < 0.3 * report["full_cross_product"]
    assert report["matched"] == links.height == links["member_id"].n_unique()
    assert links["firm_id"].n_unique() == links.height
    assert set(links.columns) == {"member_id", "firm_id", "method", "score"}


def test_branch_with_parent_phone_not_matched():
    firms = pl.DataFrame(
        {
            "firm_id": [1],
            "firm_name": ["宁波华东电子有限公司"],
            "legal_rep": ["张伟"],
            "phone": ["0574-87654321"],
            "zip": ["315800"],
            "city_code": ["3302"],
            "province_code": ["33"],
        }
    )
    members = pl.DataFrame(
        {
            "member_id": ["a", "b"],
            "name_cn": ["宁波华东电子有限公司北仑分公司", "宁波华东电孑有限公司"],
            "name_en": [None, None],
            "legal_rep": ["張偉", "张伟"],
            "phone": ["0574-87654321", None],
            "address": ["浙江省宁波市北仑区明州路1号", None],
            "zip": ["315800", "315800"],
        }
    )
    links, review, report = match_platform(members, firms, accept=70)
    assert links["member_id"].to_list() == ["b"]  # 1 typo, corroborated by the legal rep
    assert links["method"].to_list() == ["fuzzy"] and links["firm_id"].dtype == pl.Int64
    assert report["members_branch"] == 1
    with pytest.raises(ValueError):
        match_platform(members, firms, accept=50, review=60)


def test_parse_member_years():
    s = pl.Series("member_years", ["1 YRS", "3 YRS", "12YRS", " 5 yrs ", "７ YRS", "2 Years", None])
    out = parse_member_years(s, "2024-06-30")
    assert out.to_list() == [2024, 2022, 2013, 2020, 2018, 2023, None]
    assert parse_member_years(pl.Series(["10 YRS"]), date(2024, 6, 30)).to_list() == [2015]
    with pytest.raises(ValueError, match="abc YRS"):
        parse_member_years(pl.Series(["2 YRS", "abc YRS"]), "2024-06-30")
    with pytest.raises(ValueError, match="0 YRS"):
        parse_member_years(pl.Series(["0 YRS"]), "2024-06-30")


def test_chunked_scoring_gives_same_result():
    members, firms, _ = _simulate(seed=9, n_firms=240)
    l1, r1, rep1 = match_platform(members, firms)
    l2, r2, rep2 = match_platform(members, firms, max_cells=100)
    assert l1.equals(l2)
    assert r1.equals(r2)
    assert rep1["fuzzy_comparisons"] == rep2["fuzzy_comparisons"]


def test_city_fallbacks_zip_and_phone_area():
    """Members without address or place in the name get their city from zip / area code."""
    firms = pl.DataFrame(
        {
            "firm_id": ["nb1", "nb2", "sz1", "sz2"],
            "firm_name": [
                "宁波振新五金有限公司",
                "宁波宏达电子有限公司",
                "深圳振新五金有限公司",
                "深圳凯越灯具厂",
            ],
            "legal_rep": ["张一", "李二", "王三", "赵四"],
            "phone": ["0574-81111111", "0574-82222222", "0755-83333333", "0755-84444444"],
            "zip": ["315000", "315100", "518000", "518100"],
            "city_code": ["3302", "3302", "4403", "4403"],
            "province_code": ["33", "33", "44", "44"],
        }
    )
    members = pl.DataFrame(
        {
            "member_id": ["m1", "m2", "m3"],
            "name_cn": ["振新五金有限公司", "振新五金有限公司", "凯越灯具有限公司"],
            "name_en": [None, None, None],
            "legal_rep": [None, None, None],
            "phone": [None, "0755-89999999", None],
            "address": [None, None, None],
            "zip": ["315000", None, None],
        }
    )
    links, review, report = match_platform(members, firms)
    got = dict(zip(links["member_id"], links["firm_id"], strict=True))
    assert got == {"m1": "nb1", "m2": "sz1"}  # m3 has no location: never matched
    assert set(links["method"]) == {"core_city"}
    assert report["member_city_source"] == {"none": 1, "phone": 1, "zip": 1}


def _linked_panel() -> pl.DataFrame:
    """Two firms of the linked ASIF panel over three years: firm 7 renamed in 2003 (phone
    missing that year), firm 9 moved city in 2002."""
    return pl.DataFrame(
        {
            "year": [2003, 2001, 2002, 2001, 2002, 2003],
            "row_id": [1, 2, 3, 4, 5, 6],
            "firm_id": [7, 7, 7, 9, 9, 9],
            "firm_name": [
                "宁波华东电子有限公司",
                "宁波振新五金厂",
                "宁波振新五金厂",
                "杭州宏达塑料有限公司",
                "杭州宏达塑料有限公司",
                "杭州宏达塑料有限公司",
            ],
            "legal_rep": ["张伟", "张伟", "张伟", "李强", None, None],
            "phone": [None, "0574-87654321", "0574-87654322", "0571-81234567", None, None],
            "zip": ["315800", "315800", "315800", "310000", "310000", "310000"],
            "city_code": ["3302", "3302", "3302", "3301", "3302", "3302"],
            "province_code": ["33"] * 6,
        }
    )


def test_panel_firms_one_row_per_firm():
    firms = panel_firms(_linked_panel())
    assert firms.columns == [
        "firm_id",
        "firm_name",
        "legal_rep",
        "phone",
        "zip",
        "city_code",
        "province_code",
    ]
    f7, f9 = firms.rows(named=True)
    # every name in year order, once; the latest non-null contact fields; the latest city
    assert f7["firm_name"] == ["宁波振新五金厂", "宁波华东电子有限公司"]
    assert (f7["phone"], f7["legal_rep"]) == ("0574-87654322", "张伟")
    assert f9["firm_name"] == ["杭州宏达塑料有限公司"]
    assert (f9["phone"], f9["legal_rep"], f9["city_code"]) == ("0571-81234567", "李强", "3302")


def _members() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "member_id": ["a", "b", "c"],
            "name_cn": ["宁波振新五金厂", "杭州宏达塑料有限公司", "深圳凯越灯具有限公司"],
            "name_en": [None, None, None],
            "legal_rep": [None, None, None],
            "phone": [None, None, None],
            "address": ["浙江省宁波市北仑区明州路1号", None, "广东省深圳市南山区1号"],
            "zip": [None, None, None],
            "member_years": ["3 YRS", "12 YRS", None],
            "scrape_date": ["2024-06-30"] * 3,
            "rating": [4.5, None, 3.0],
        }
    )


def test_member_info_and_its_input_errors():
    info = member_info(_members(), "alibaba.parquet")
    assert info.columns == ["member_id", "join_year", "member_years", "rating"]
    assert info["join_year"].to_list() == [2022, 2013, None]
    assert info["member_years"].to_list() == [3, 12, None]
    bad = _members().with_columns(pl.lit("about ten years").alias("member_years"))
    with pytest.raises(InputError, match="alibaba.parquet, column 'member_years'"):
        member_info(bad, "alibaba.parquet")
    nameless = _members().with_columns(pl.lit(None, pl.String).alias("name_cn"))
    with pytest.raises(InputError, match="mic.parquet, column 'name_cn'"):
        member_info(nameless, "mic.parquet")


def test_link_members_joins_member_info_to_the_links():
    members, panel = _members(), _linked_panel()
    links, review, report = link_members(members, panel, accept=80, review=70, high=97)
    ref, ref_review, ref_report = match_platform(
        members, panel_firms(panel), accept=80, review=70, high=97
    )
    assert links.select(ref.columns).equals(ref) and review.equals(ref_review)
    assert links.schema["firm_id"] == pl.Int64
    # a carries firm 7's old name, b firm 9's name; c matches no firm
    got = {r["member_id"]: r for r in links.iter_rows(named=True)}
    assert {k: r["firm_id"] for k, r in got.items()} == {"a": 7, "b": 9}
    assert (got["a"]["join_year"], got["a"]["member_years"], got["a"]["rating"]) == (2022, 3, 4.5)
    assert (got["b"]["join_year"], got["b"]["member_years"], got["b"]["rating"]) == (2013, 12, None)
    assert report == {**ref_report, "members": 3, "members_dropped": {}}
    assert "truth" not in report

"""Tests for the BvBZ (2012) sequential panel linkage."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import polars as pl
import pytest

from cbec.matching.link_panel import link_asif_panel, link_panel
from cbec.matching.names import normalize_names

COLS = [
    "true",
    "year",
    "firm_code",
    "firm_name",
    "legal_rep",
    "region_code",
    "industry_code",
    "phone",
    "found_year",
    "main_product",
]


def _rec(
    true,
    year,
    code,
    name,
    rep="张三",
    region="330206",
    ind="3911",
    phone=None,
    fy=1998,
    prod="电子元件",
):
    return (true, year, code, name, rep, region, ind, phone, fy, prod)


def _partition(true: list, ids: list) -> tuple[float, float]:
    """Pairwise precision and recall of a predicted partition against the truth."""
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(len(true)), 2):
        same_t, same_p = true[i] == true[j], ids[i] == ids[j]
        tp += same_t and same_p
        fp += same_p and not same_t
        fn += same_t and not same_p
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def _constructed() -> pl.DataFrame:
    rows = [
        # A: stable code, name changes in 2003 -> code
        _rec("A", 2001, "100000001", "宁波华东电子有限公司", rep="王一", phone="0574-81111111"),
        _rec("A", 2002, "100000001", "宁波华东电子有限公司", rep="王一", phone="0574-81111111"),
        _rec(
            "A", 2003, "100000001", "宁波新华东电子股份有限公司", rep="王一", phone="0574-81111111"
        ),
        # B: code changes in 2002, name written differently -> name
        _rec("B", 2001, "200000002", "宁波宏达机械厂", rep="李二", phone="0574-82222222"),
        _rec(
            "B",
            2002,
            "299999999",
            "浙江省宁波市宏达机械有限公司",
            rep="李二",
            phone="0574-82222222",
        ),
        _rec("B", 2003, "299999999", "寧波宏達機械有限公司", rep="李二", phone="0574-82222222"),
        # C, D: share one name in 2002-2003 and both change code in 2003 -> not by name
        _rec("C", 2002, "300000003", "宁波恒盛塑料有限公司", rep="赵三", phone="0574-83333333"),
        _rec("C", 2003, "311111111", "宁波恒盛塑料有限公司", rep="赵三", phone="0574-83333333"),
        _rec(
            "D",
            2002,
            "400000004",
            "宁波恒盛塑料有限公司",
            rep="钱四",
            region="330203",
            phone="0574-84444444",
        ),
        _rec(
            "D",
            2003,
            "411111111",
            "宁波恒盛塑料有限公司",
            rep="钱四",
            region="330203",
            phone="0574-84444444",
        ),
        # E: missing in 2002, code changes in 2003 -> three-year window by name
        _rec("E", 2001, "500000005", "宁波利丰纺织有限公司", rep="孙五", phone="0574-85555555"),
        _rec("E", 2003, "511111111", "宁波利丰纺织有限责任公司", rep="孙五", phone="0574-85555555"),
        # F: code, name and rep change; phone + region + industry stay -> step 4
        _rec("F", 2001, "600000006", "宁波鑫源五金有限公司", rep="周六", phone="0574-86666666"),
        _rec(
            "F", 2002, "611111111", "宁波永泰金属制品有限公司", rep="吴六", phone="(0574)86666666"
        ),
        # G: everything changes but founding year, region, industry, product -> step 5
        _rec(
            "G",
            2001,
            "700000007",
            "宁波汇昌灯具有限公司",
            rep="郑七",
            phone="0574-87777777",
            fy=1993,
            prod="LED灯具",
        ),
        _rec(
            "G",
            2002,
            "711111111",
            "宁波明辉照明有限公司",
            rep="冯七",
            phone=None,
            fy=1993,
            prod="ＬＥＤ灯具",
        ),
        # H: the parent; H2: its branch appearing the next year with another code
        _rec("H", 2001, "800000008", "宁波瑞祥电器有限公司", rep="陈八", phone="0574-88888888"),
        _rec(
            "H2",
            2002,
            "888888888",
            "宁波瑞祥电器有限公司北仑分公司",
            rep="陈九",
            region="330206",
            phone="0574-89999999",
        ),
    ]
    return pl.DataFrame(rows, schema=COLS, orient="row")


def test_constructed_panel():
    df = _constructed()
    panel, links = link_panel(df)
    ids = dict(zip(panel["true"].to_list(), panel["firm_id"].to_list(), strict=False))
    groups = panel.group_by("true").agg(pl.col("firm_id").n_unique().alias("n"))
    assert groups["n"].max() == 1, "each true firm must have one firm_id"
    assert panel["firm_id"].n_unique() == panel["true"].n_unique()
    assert ids["H"] != ids["H2"], "a branch must not be linked to its parent"
    assert ids["C"] != ids["D"]
    meth = {
        (panel["true"][r], y1, y2): m
        for r, y1, y2, m in links.select("row_from", "year_from", "year_to", "method").iter_rows()
    }
    assert meth[("A", 2002, 2003)] == "firm_code"
    assert meth[("B", 2001, 2002)] == "name"
    assert meth[("B", 2002, 2003)] == "firm_code"
    # shared name is ambiguous: C and D linked by legal representative + region instead
    assert meth[("C", 2002, 2003)] == "legal_rep_region"
    assert meth[("D", 2002, 2003)] == "legal_rep_region"
    assert meth[("E", 2001, 2003)] == "name"
    assert meth[("F", 2001, 2002)] == "region_industry_phone"
    assert meth[("G", 2001, 2002)] == "found_region_industry_product"
    # ids: dense, ranked by the (year, row) of each chain's first record
    first = (
        panel.with_row_index("r").group_by("firm_id").agg(pl.col("year").min(), pl.col("r").min())
    )
    assert first.sort("firm_id")["firm_id"].to_list() == list(range(first.height))
    assert first.sort("year", "r")["firm_id"].to_list() == list(range(first.height))


def test_ambiguous_name_not_linked():
    """Two firms sharing a name (no other usable key) must stay unlinked, not cross-linked."""
    rows = [
        _rec("C", 2002, "300000003", "宁波恒盛塑料有限公司", rep=None),
        _rec("D", 2002, "400000004", "宁波恒盛塑料有限公司", rep=None, region="330203"),
        _rec("C", 2003, "311111111", "宁波恒盛塑料有限公司", rep=None, fy=None),
        _rec("D", 2003, "411111111", "宁波恒盛塑料有限公司", rep=None, fy=None, region="330203"),
    ]
    panel, links = link_panel(pl.DataFrame(rows, schema=COLS, orient="row"))
    assert links.height == 0
    assert panel["firm_id"].n_unique() == 4


def test_keys_mapping_and_missing_columns():
    df = _constructed().rename({"firm_code": "frdm", "firm_name": "qymc"}).drop("main_product")
    panel, links = link_panel(df, keys={"firm_code": "frdm", "firm_name": "qymc"})
    assert "found_region_industry_product" not in links["method"].to_list()
    assert links.filter(pl.col("method") == "firm_code").height == 3  # A twice, B once
    with pytest.raises(ValueError, match="unknown linkage"):
        link_panel(df, methods=["nope"])


def _simulated_panel(
    rng: np.random.Generator, n0: int = 1500, years=range(2001, 2007)
) -> pl.DataFrame:
    pool = list("鑫诚瑞祥宏达恒盛利丰源汇隆兴旺佳美华宇新光明德安康伟业鸿志强振飞腾凯越")
    inds = {"3911": "电机", "1711": "纺织", "3411": "五金", "2927": "塑料", "3663": "电子"}
    cities = {"330206": "宁波", "330106": "杭州", "440306": "深圳", "320506": "苏州"}
    # unique raw names whose normalized core is exactly core + industry word
    cand = {"".join(rng.choice(pool, k)) for k in rng.integers(2, 4, size=6 * n0)}
    cand = sorted(cand)
    rng.shuffle(cand)
    alive = []
    rows = []
    nxt = 0

    def new_firm():
        nonlocal nxt
        reg = str(rng.choice(list(cities)))
        ind = str(rng.choice(list(inds)))
        f = {
            "true": nxt,
            "code": f"{rng.integers(1e8, 1e9):09d}",
            "core": cand.pop(),
            "reg": reg,
            "ind": ind,
            "rep": "".join(rng.choice(list("王李张刘陈杨黄赵吴周"), 1))
            + "".join(rng.choice(pool, 2)),
            "phone": f"0{rng.integers(100, 999)}-{rng.integers(1e7, 1e8)}",
            "fy": int(rng.integers(1980, 2000)),
            "prod": inds[ind] + str(rng.integers(1, 50)),
            "suffix": "有限公司",
        }
        nxt += 1
        return f

    alive = [new_firm() for _ in range(n0)]
    for y in years:
        survivors = []
        for f in alive:
            if y > years[0]:
                if rng.random() < 0.06:
                    continue  # exit
                if rng.random() < 0.02:
                    f["core"] = cand.pop()  # name change
                if rng.random() < 0.02:
                    f["suffix"] = str(rng.choice(["有限责任公司", "股份有限公司", "厂"]))
                if rng.random() < 0.01:
                    f["code"] = f"{rng.integers(1e8, 1e9):09d}"  # code change
            survivors.append(f)
            if rng.random() < 0.02:
                continue  # missing this year
            name = cities[f["reg"]] + f["core"] + inds[f["ind"]] + f["suffix"]
            rows.append(
                (
                    f["true"],
                    y,
                    f["code"],
                    name,
                    f["rep"],
                    f["reg"],
                    f["ind"],
                    f["phone"],
                    f["fy"],
                    f["prod"],
                )
            )
        alive = survivors + [new_firm() for _ in range(int(0.08 * n0))]
    return pl.DataFrame(rows, schema=COLS, orient="row")


def test_simulated_precision_recall():
    rng = np.random.default_rng(20240630)
    df = _simulated_panel(rng)
    # sanity of the generator: the normalized core is unique per name
    assert normalize_names(df["firm_name"])["name_core"].null_count() == 0
    panel, links = link_panel(df)
    truth = panel["true"].to_list()
    ids = panel["firm_id"].to_list()
    # pairwise precision/recall on consecutive records of each predicted / true firm
    tp = fp = fn = 0
    t_adj = panel.sort("true", "year").with_columns(
        pl.col("true").shift(-1).alias("t2"), pl.col("firm_id").shift(-1).alias("i2")
    )
    for t, i, t2, i2 in t_adj.select("true", "firm_id", "t2", "i2").iter_rows():
        if t == t2:
            tp += i == i2
            fn += i != i2
    p_adj = panel.sort("firm_id", "year").with_columns(
        pl.col("true").shift(-1).alias("t2"), pl.col("firm_id").shift(-1).alias("i2")
    )
    for t, i, t2, i2 in p_adj.select("true", "firm_id", "t2", "i2").iter_rows():
        if i == i2:
            fp += t != t2
    precision = 1 - fp / max(links.height, 1)
    recall = tp / (tp + fn)
    print(f"linkage precision={precision:.4f} recall={recall:.4f} links={links.height}")
    assert precision >= 0.995, precision
    assert recall >= 0.99, recall
    # most links come from the legal-person code, as in BvBZ
    share_code = (links["method"] == "firm_code").mean()
    assert 0.9 < share_code < 1.0
    assert len(truth) == len(ids) == df.height


def test_deterministic_partition_under_shuffle():
    rng = np.random.default_rng(7)
    df = _simulated_panel(rng, n0=300, years=range(2001, 2005))
    p1, _ = link_panel(df)
    p2, _ = link_panel(df.sample(fraction=1.0, shuffle=True, seed=3))
    a = p1.select("true", "year", "firm_id").sort("true", "year")
    b = p2.select("true", "year", "firm_id").sort("true", "year")
    # same partition (ids may be renumbered)
    pairs = pl.DataFrame({"a": a["firm_id"], "b": b["firm_id"]}).unique()
    assert pairs["a"].n_unique() == pairs.height == pairs["b"].n_unique()
    p3, _ = link_panel(df)
    assert p3["firm_id"].to_list() == p1["firm_id"].to_list()
    assert _partition([1, 1, 2], [5, 5, 6]) == (1.0, 1.0)


def test_link_asif_panel_report():
    df = _constructed()
    panel, links, report = link_asif_panel(df)
    ref_panel, ref_links = link_panel(df)
    assert panel.schema["firm_id"] == pl.Int64 and links.equals(ref_links)
    assert panel["firm_id"].to_list() == ref_panel["firm_id"].to_list()
    assert report == {
        "firm_years": df.height,
        "firms": df["true"].n_unique(),
        "links": links.height,
        "links_by_method": dict(sorted(Counter(links["method"].to_list()).items())),
    }
    assert json.loads(json.dumps(report)) == report

"""Tests for the Yu (2015) customs-ASIF matching on a simulated set with planted noise."""

from __future__ import annotations

import json

import numpy as np
import opencc
import polars as pl

from cbec.matching.customs import link_customs, match_customs, merge_reports

POOL = list("鑫诚瑞祥宏达恒盛利丰源汇隆兴旺佳美华宇新光明德安康伟业鸿志强振飞腾凯越")
CITIES = [
    ("宁波", "3150", "0574"),
    ("杭州", "3100", "0571"),
    ("深圳", "5180", "0755"),
    ("呼和浩特", "0100", "0471"),
]
INDS = ["电子", "机械", "纺织", "五金", "塑料"]
S2T = opencc.OpenCC("s2t")
FW = str.maketrans("()0123456789ABC", "（）０１２３４５６７８９ＡＢＣ")


def _simulate(seed: int = 11):
    rng = np.random.default_rng(seed)
    cores = sorted({"".join(rng.choice(POOL, 3)) for _ in range(3000)})
    rng.shuffle(cores)
    n = 400
    firms_base = []
    for i in range(n):
        city, z, area = CITIES[i % len(CITIES)]
        firms_base.append(
            {
                "firm_id": i,
                "city": city,
                "core": cores[i] + str(rng.choice(INDS)),
                "zip": z + f"{rng.integers(0, 100):02d}",
                "phone": f"{area}-8{rng.integers(0, 10**7):07d}",
            }
        )
    # planted ambiguity: firms 0 and 4 share one name (same city) in every year
    firms_base[4]["core"] = firms_base[0]["core"]
    firm_rows, party_rows, truth = [], [], []
    noise_kinds = ["exact", "bracket", "suffix", "traditional", "fullwidth", "renamed"]
    for year in (2005, 2006):
        for f in firms_base:
            firm_rows.append(
                (year, f["firm_id"], f["city"] + f["core"] + "有限公司", f["zip"], f["phone"])
            )
        exporters = [f for f in firms_base if f["firm_id"] % 2 == 0]
        for f in exporters:
            kind = noise_kinds[int(rng.integers(0, len(noise_kinds)))]
            name = f["city"] + f["core"] + "有限公司"
            zip_, phone = f["zip"], f["phone"]
            if kind == "bracket":
                name = f["core"] + "有限公司(" + f["city"] + ")"
            elif kind == "suffix":
                name = f["city"] + f["core"] + "有限责任公司"
            elif kind == "traditional":
                name = S2T.convert(name)
            elif kind == "fullwidth":
                name = (f["city"] + "(中国)" + f["core"] + "有限公司").translate(FW)
                phone = phone.translate(FW)
            elif kind == "renamed":  # customs knows another name: only zip + phone can link
                name = f["city"] + "".join(rng.choice(POOL, 3)) + "实业有限公司"
                if f["zip"].startswith("0"):
                    zip_ = zip_.lstrip("0")  # lost leading zero
                phone = "+86 " + phone.replace("-", " ")
            if f["firm_id"] == 4:
                phone = None  # the other twin: name ambiguous, no phone -> unmatched
            pc = f"P{f['firm_id']:05d}"
            party_rows.append((year, pc, name, zip_, phone))
            truth.append((year, pc, f["firm_id"]))
        # trade intermediaries: not ASIF firms
        for k in range(40):
            city, z, area = CITIES[k % len(CITIES)]
            name = (
                city
                + "".join(rng.choice(POOL, 2))
                + str(rng.choice(["进出口", "国际贸易", "经贸"]))
                + "有限公司"
            )
            party_rows.append(
                (year, f"T{k:05d}", name, z + "99", f"{area}-6{rng.integers(0, 10**7):07d}")
            )
    firms = pl.DataFrame(
        firm_rows, schema=["year", "firm_id", "firm_name", "zip", "phone"], orient="row"
    )
    parties = pl.DataFrame(
        party_rows, schema=["year", "party_code", "party_name", "zip", "phone"], orient="row"
    )
    # transactions: each party appears several times (the matcher dedups)
    parties = pl.concat([parties, parties.sample(fraction=0.5, seed=seed)])
    truth = pl.DataFrame(truth, schema=["year", "party_code", "true_firm"], orient="row")
    return parties, firms, truth


def test_precision_recall_and_report():
    parties, firms, truth = _simulate()
    links, report = match_customs(parties, firms)
    assert links.columns == ["year", "party_code", "firm_id", "method"]
    ev = truth.join(links, on=["year", "party_code"], how="full", coalesce=True)
    tp = ev.filter(pl.col("firm_id") == pl.col("true_firm")).height
    fp = ev.filter(
        pl.col("firm_id").is_not_null() & (pl.col("firm_id") != pl.col("true_firm")).fill_null(True)
    ).height
    precision = tp / links.height
    recall = tp / truth.height
    print(
        f"customs precision={precision:.4f} recall={recall:.4f} report={report['steps']['name']['matched']}/{report['steps']['zip_phone']['matched']}"
    )
    assert fp == 0
    assert precision == 1.0
    assert recall >= 0.98  # only the ambiguous twin without phone is lost (1 per year)
    # renamed parties are only reachable through zip + phone
    assert report["steps"]["zip_phone"]["matched"] > 0
    assert (
        report["steps"]["name"]["matched"] + report["steps"]["zip_phone"]["matched"] == links.height
    )
    assert report["matched"] == links.height
    # the shared name is dropped in the name step (counted), every year
    # both twins (P00000, P00004) export under the shared name in both years
    assert report["steps"]["name"]["ambiguous_by_year"] == {2005: 2, 2006: 2}
    assert report["matched_intermediaries"] == 0
    assert not links["party_code"].str.starts_with("T").any()
    assert report["n_parties"] == parties.select("year", "party_code").unique().height
    assert set(report["matched_by_year"]) == {2005, 2006}
    # one-to-one within year
    assert links.select("year", "firm_id").is_duplicated().sum() == 0
    assert links.select("year", "party_code").is_duplicated().sum() == 0


def test_twin_with_phone_is_matched_by_zip_phone():
    parties, firms, _ = _simulate()
    links, _ = match_customs(parties, firms)
    twin0 = links.filter(pl.col("party_code") == "P00000")
    assert twin0["firm_id"].to_list() == [0, 0]
    assert set(twin0["method"]) == {"zip_phone"}
    assert links.filter(pl.col("party_code") == "P00004").height == 0


def test_same_year_only_and_exclusion_option():
    firms = pl.DataFrame(
        {
            "year": [2005, 2006],
            "firm_id": [1, 2],
            "firm_name": ["宁波华东电子有限公司", "宁波华东贸易有限公司"],
            "zip": ["315000", "315000"],
            "phone": ["0574-87654321", "0574-81234567"],
        }
    )
    parties = pl.DataFrame(
        {
            "year": [2006, 2006],
            "party_code": ["A", "B"],
            "party_name": ["宁波华东电子有限公司", "宁波华东贸易有限公司"],
            "zip": [None, None],
            "phone": [None, None],
        }
    )
    links, rep = match_customs(parties, firms)
    assert links["party_code"].to_list() == ["B"]  # A's namesake exists only in 2005
    links2, rep2 = match_customs(parties, firms, exclude_intermediaries=True)
    assert links2.height == 0
    assert rep["matched_intermediaries"] == 1


def test_link_customs_reads_only_the_matching_columns():
    parties, firms, _ = _simulate()
    panel = firms.with_columns(
        pl.col("firm_id").cast(pl.Int32),
        pl.int_range(pl.len()).alias("row_id"),
        pl.lit("某某").alias("legal_rep"),
    )
    links, report = link_customs(parties, panel)
    ref_links, ref_report = match_customs(parties, firms)
    assert links.schema["firm_id"] == pl.Int64
    assert links.equals(ref_links.with_columns(pl.col("firm_id").cast(pl.Int64)))
    assert report == ref_report and "truth" not in report


def test_matching_year_by_year_gives_the_all_years_links_and_report():
    """Rule match_customs matches year by year (each year of its batch); gathered, its links
    and report (through JSON, as the rules pass them) equal matching all years at once, and
    so do the reports merged per batch, then merged again (gather_customs_links)."""
    parties, firms, _ = _simulate()
    ref_links, ref_report = match_customs(parties, firms)
    parts = [
        match_customs(parties.filter(pl.col("year") == y), firms.filter(pl.col("year") == y))
        for y in (2005, 2006)
    ]
    assert all(r["steps"]["name"]["ambiguous_dropped"] > 0 for _, r in parts)
    merged = merge_reports([json.loads(json.dumps(r)) for _, r in parts])
    assert json.dumps(merged) == json.dumps(json.loads(json.dumps(ref_report)))
    batches = [json.loads(json.dumps(merge_reports([r]))) for _, r in parts]
    assert json.dumps(merge_reports(batches)) == json.dumps(merged)
    assert pl.concat([links for links, _ in parts]).sort("year", "party_code").equals(ref_links)

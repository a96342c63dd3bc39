"""generate(): files, determinism, atomic output, raw headers and dtypes by vintage."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
import yaml

import cbec.synth as synth
import cbec.synth.generator as generator
from cbec.synth import generate
from cbec.synth.customs import headers as customs_headers
from cbec.synth.writer import DEPRECIATION_BLANK, asif_headers

from .conftest import SEED

YEARS = range(2001, 2016)
DICT = yaml.safe_load(
    (Path(synth.__file__).parents[1] / "data" / "dictionary.yaml").read_text(encoding="utf-8")
)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_files_and_summary(tiny_world):
    raw, truth, summary = tiny_world
    for y in YEARS:
        assert (raw / "asif" / f"asif_{y}.parquet").exists()
        assert (raw / "customs" / f"customs_{y}.parquet").exists()
    for f in ["members/alibaba.parquet", "members/mic.parquet"] + [
        f"external/{n}.csv"
        for n in ["cities", "it_revenue", "internet_ports", "it_weights", "deflators"]
    ]:
        assert (raw / f).exists(), f
    for f in [
        "params.json",
        "firms.parquet",
        "firm_year.parquet",
        "customs_parties.parquet",
        "members.parquet",
    ]:
        assert (truth / f).exists(), f
    # the summary counts rows; tiny has ~1,500 ASIF firms per year
    n_asif = [summary[f"raw/asif/asif_{y}.parquet"] for y in YEARS]
    assert 900 <= min(n_asif) and max(n_asif) <= 2100
    assert 1300 <= sum(n_asif) / len(n_asif) <= 1700
    assert (
        summary["raw/asif/asif_2005.parquet"]
        == pl.read_parquet(raw / "asif" / "asif_2005.parquet").height
    )
    # no temporary directories left behind
    assert not [p for p in raw.parent.iterdir() if p.name.startswith(".")]


def test_deterministic(tiny_world, tmp_path):
    raw, truth, _ = tiny_world
    generate({}, "tiny", SEED, tmp_path / "a" / "raw", tmp_path / "a" / "truth")
    assert _hashes(tmp_path / "a" / "raw") == _hashes(raw)
    assert _hashes(tmp_path / "a" / "truth") == _hashes(truth)
    generate({}, "tiny", SEED + 7, tmp_path / "b" / "raw", tmp_path / "b" / "truth")
    other = _hashes(tmp_path / "b" / "raw")
    base = _hashes(raw)
    assert other.keys() == base.keys()
    differing = [k for k in base if base[k] != other[k]]
    assert all(f"asif/asif_{y}.parquet" in differing for y in YEARS)
    assert "members/alibaba.parquet" in differing


def test_atomic_on_failure(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(generator, "write_truth", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        generate({}, "tiny", 1, tmp_path / "raw", tmp_path / "truth")
    assert not (tmp_path / "raw").exists() and not (tmp_path / "truth").exists()
    assert list(tmp_path.iterdir()) == []


def test_unknown_parameter_rejected(tmp_path):
    with pytest.raises(KeyError, match="tau_cuu"):
        generate({"effects": {"tau_cuu": 0.1}}, "tiny", 1, tmp_path / "raw", tmp_path / "truth")


@pytest.mark.parametrize("year", list(YEARS))
def test_asif_headers_and_dtypes(tiny_world, year):
    raw, _, _ = tiny_world
    df = pl.read_parquet(raw / "asif" / f"asif_{year}.parquet")
    hdr = asif_headers(year)
    assert df.columns == list(hdr.values())
    for canon, h in hdr.items():  # every raw header is a known spelling in the dictionary
        assert h in DICT["asif"][canon]["raw"], (canon, h)
        want = {"str": pl.String, "int": pl.Int64, "float": pl.Float64}[
            DICT["asif"][canon]["dtype"]
        ]
        assert df.schema[h] == want, (year, h, df.schema[h])
    if year == 2004:
        assert "frdm" in df.columns and "qymc" in df.columns
    if year >= 2011:
        assert "从业人员年平均人数" in df.columns and "产品销售收入" in df.columns
    if year <= 2007 and year != 2004:
        assert "法人代码" in df.columns and "全部从业人员年平均人数" in df.columns
    code = df[hdr["firm_code"]]
    assert code.str.contains(r"^[0-9]{8}-?[0-9X]$").all()
    assert (code.str.len_chars() == 9).mean() > 0.97
    assert code.str.slice(0, 1).eq("0").any()  # leading zeros kept
    assert df[hdr["zip"]].str.contains(r"^[0-9]{6}$").all()
    assert df[hdr["region_code"]].str.contains(r"^[0-9]{6}$").all()
    assert df[hdr["industry_code"]].str.contains(r"^[0-9]{4}$").all()
    dep = df[hdr["depreciation"]]
    if year in DEPRECIATION_BLANK:
        assert dep.null_count() == df.height
    else:
        assert dep.null_count() == 0 and (dep >= 0).all()
    # book identity: net = original value - accumulated depreciation (rounding aside)
    gap = (
        df[hdr["fixed_assets_orig"]] - df[hdr["accum_depreciation"]] - df[hdr["fixed_assets_net"]]
    ).abs()
    assert gap.max() <= 2.0


def test_customs_and_members_headers(tiny_world):
    raw, _, _ = tiny_world
    for y in (2003, 2012):
        df = pl.read_parquet(raw / "customs" / f"customs_{y}.parquet")
        hdr = customs_headers(y)
        assert df.columns == list(hdr.values())
        for canon, h in hdr.items():
            assert h in DICT["customs"][canon]["raw"], (canon, h)
        assert df[hdr["hs8"]].str.contains(r"^[0-9]{8}$").all()
        assert set(df[hdr["flow"]].unique()) == {"出口", "进口"}
        assert df[hdr["party_code"]].str.contains(r"^[0-9]{10}$").all()
        # trade intermediaries export too
        assert df[hdr["party_name"]].str.contains("进出口|贸易|经贸|外贸|工贸|科贸").any()
    for lst in ("alibaba", "mic"):
        df = pl.read_parquet(raw / "members" / f"{lst}.parquet")
        for h in df.columns:
            assert any(h in spec["raw"] for spec in DICT["members"].values()), h
        years = df[df.columns[8]]
        assert years.str.contains(r"^[0-9]+ YRS$").all()
        assert df[df.columns[2]].str.contains("分公司").any()


def test_external_files(tiny_world):
    raw, _, _ = tiny_world
    c = pl.read_csv(
        raw / "external" / "cities.csv",
        schema_overrides={"city_code": pl.String, "province_code": pl.String},
    )
    assert c["city_code"].str.contains(r"^[0-9]{4}$").all() and c.height > 300
    assert {"3301", "1101", "3101", "4403"} <= set(c["city_code"])
    hz = c.filter(pl.col("city_code") == "3301").row(0, named=True)
    assert abs(hz["lon"] - 120.2) < 0.3 and abs(hz["lat"] - 30.25) < 0.3
    d = pl.read_csv(raw / "external" / "deflators.csv", schema_overrides={"ind2": pl.String})
    assert d.filter(pl.col("year") == 2001)["output_deflator"].to_list() == [1.0] * 31
    assert "K" in set(d["ind2"])
    it = pl.read_csv(raw / "external" / "it_revenue.csv")
    assert it["it_revenue"].is_sorted() and it["year"].min() == 2000

"""Readers: formats, encodings, header vintages, and bad inputs that must stop loudly."""

from __future__ import annotations

import polars as pl
import pytest

from cbec.data.io import missing_counts, read_raw, read_table
from cbec.errors import InputError


def _asif_frame(**over):
    base = {
        "法人代码": ["123456789", "987654321"],
        "企业名称": ["宁波华东电子有限公司", "杭州西湖机械有限公司"],
        "邮政编码": ["315000", "310000"],
        "行政区划代码": ["330201", "330106"],
        "行业代码": ["3911", "3512"],
        "开业时间(年)": ["1998", "2003"],
        "全部从业人员年平均人数": ["120", "45"],
        "工业总产值": ["5,000.5", "800"],
    }
    base.update(over)
    return pl.DataFrame(base)


def test_csv_gbk_and_headers(tmp_path):
    p = tmp_path / "asif_2004.csv"
    p.write_bytes(_asif_frame().write_csv().encode("gbk"))
    df = read_raw(p, "asif", required=["firm_code", "employees"])
    assert df["firm_name"][0] == "宁波华东电子有限公司"
    assert df["gross_output"].to_list() == [5000.5, 800.0]
    assert df["found_year"].dtype == pl.Int64
    assert df["depreciation"].null_count() == 2  # absent column added as nulls


def test_pinyin_headers_and_lost_leading_zeros(tmp_path):
    df = pl.DataFrame(
        {"frdm": ["1"], "qymc": ["北京某某厂"], "yzbm": [10000.0], "dq": [110101], "hylb": [611]}
    )
    p = tmp_path / "asif.parquet"
    df.write_parquet(p)
    out = read_raw(p, "asif")
    assert out["zip"][0] == "010000"
    assert out["region_code"][0] == "110101"
    assert out["industry_code"][0] == "0611"


def test_full_width_digits(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(
        _asif_frame(**{"全部从业人员年平均人数": ["１２０", "45"]}).write_csv(), encoding="utf-8"
    )
    assert read_raw(p, "asif")["employees"][0] == 120.0


def test_dta(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    pdf = (
        _asif_frame()
        .rename({"开业时间(年)": "kysjn", "全部从业人员年平均人数": "cyrs"})
        .select(["kysjn", "cyrs"])
        .with_columns(pl.all().cast(pl.Float64))
        .to_pandas()
    )
    p = tmp_path / "a.dta"
    pyreadstat.write_dta(pdf, str(p))
    out = read_raw(p, "asif")
    assert out["found_year"].to_list() == [1998, 2003]


@pytest.mark.parametrize(
    "make,column,phrase",
    [
        (lambda p: None, None, "does not exist"),
        (lambda p: p.write_bytes(b""), None, "empty"),
        (lambda p: p.write_text("法人代码,企业名称\n", encoding="utf-8"), None, "no rows"),
        (lambda p: p.write_bytes("法人代码\n".encode() + b"\x81\x20\xff\xff"), None, "decode"),
        (
            lambda p: p.write_text(
                _asif_frame(**{"工业总产值": ["12", "abc"]}).write_csv(), encoding="utf-8"
            ),
            "gross_output",
            "non-numeric",
        ),
        (
            lambda p: p.write_text(
                _asif_frame().drop("全部从业人员年平均人数").write_csv(), encoding="utf-8"
            ),
            "employees",
            "missing",
        ),
    ],
)
def test_bad_csv_inputs(tmp_path, make, column, phrase):
    p = tmp_path / "asif_2003.csv"
    make(p)
    with pytest.raises(InputError) as ei:
        read_raw(p, "asif", required=["firm_code", "employees"])
    msg = str(ei.value)
    assert str(p) in msg and phrase in msg
    if column:
        assert f"'{column}'" in msg


def test_truncated_parquet(tmp_path):
    p = tmp_path / "asif_2001.parquet"
    _asif_frame().write_parquet(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot read file"):
        read_table(p)


def test_format_from_content(tmp_path):
    from cbec.data.io import sniff_format

    p = tmp_path / "asif_2004.parquet"
    p.write_text("qymc,frdm\n某厂,1\n", encoding="utf-8")  # a CSV under a parquet name
    assert sniff_format(p) == "csv"
    assert read_raw(p, "asif")["firm_name"][0] == "某厂"


def test_disguised_missing_values_are_null_and_counted(tmp_path):
    """NaN, +-inf, blank and whitespace-only text, all-zero zips and phones are missing."""
    p = tmp_path / "m.parquet"
    pl.DataFrame(
        {
            "member_id": ["a", "b", "c", "d"],
            "company_name_cn": ["甲", "  ", "", "丁"],
            "zip": ["", "000000", "315000", None],
            "phone": ["0", "00000000", "057487654321", " "],
            "rating": [float("nan"), float("inf"), -float("inf"), 4.0],
            "member_years": ["1 YRS"] * 4,
            "scrape_date": ["2024-06-30"] * 4,
        }
    ).write_parquet(p)
    counts: dict[str, int] = {}
    df = read_raw(p, "members", counts=counts)
    assert df["name_cn"].to_list() == ["甲", None, None, "丁"]
    assert df["zip"].to_list() == [None, None, "315000", None]  # never "000000"
    assert df["phone"].to_list() == [None, None, "057487654321", None]
    assert df["rating"].to_list() == [None, None, None, 4.0]
    assert (counts["name_cn"], counts["zip"], counts["phone"], counts["rating"]) == (2, 2, 3, 3)
    table = missing_counts(df, counts).filter(pl.col("column") == "rating")
    assert table.row(0) == ("rating", 3, 3)


def test_nan_and_inf_text_in_a_csv_are_missing(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text(
        "金额,企业名称,商品编码,目的国\nnan,甲,1,US\ninf,乙,2,US\n-inf,丙,3,US\n5,丁,4,US\n"
    )
    df = read_raw(p, "customs")
    assert df["value_usd"].to_list() == [None, None, None, 5.0]


def test_two_headers_for_one_variable_use_the_one_with_data(tmp_path):
    p = tmp_path / "a.parquet"
    pl.DataFrame(
        {
            "法人代码": ["1", "2"],
            "企业名称": [None, None],
            "qymc": ["甲厂", "乙厂"],
            "zczj": [1.0, 2.0],
        }
    ).write_parquet(p)
    df = read_raw(p, "asif")
    assert df["firm_name"].to_list() == ["甲厂", "乙厂"]


def test_two_headers_for_one_variable_that_disagree_stop(tmp_path):
    p = tmp_path / "a.parquet"
    pl.DataFrame(
        {"法人代码": ["1", "2"], "资产总计": [1.0, 2.0], "zczj": [1.0, 3.0]}
    ).write_parquet(p)
    with pytest.raises(
        InputError, match=r"a.parquet, column 'total_assets'.*'资产总计' and 'zczj'"
    ):
        read_raw(p, "asif")


def test_unknown_headers_and_absent_variables_are_reported(tmp_path):
    p = tmp_path / "a.parquet"
    pl.DataFrame({"法人代码": ["1"], "本年折旧额(新)": [3.0]}).write_parquet(p)
    headers: dict[str, list[str]] = {}
    read_raw(p, "asif", headers=headers)
    assert headers["unknown"] == ["本年折旧额(新)"]
    assert "depreciation" in headers["absent"] and "firm_code" not in headers["absent"]


@pytest.mark.parametrize("sep", ["\t", ";", "|"])
def test_tab_semicolon_and_pipe_separated_files_are_read(tmp_path, sep):
    p = tmp_path / "c.csv"
    p.write_text(
        sep.join(["金额", "企业名称", "商品编码", "目的国"])
        + "\n"
        + sep.join(["1,000", "甲", "1", "US"])
        + "\n"
    )
    df = read_raw(p, "customs", required=["value_usd", "party_name"])
    assert df["value_usd"].to_list() == [1000.0] and df["party_name"].to_list() == ["甲"]

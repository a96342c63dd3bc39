"""A catalogue of bad inputs, through the real-data path of the workflow.

The raw inputs of the session's tiny run (``tiny_run``, tests/conftest.py) are the source;
each case copies them, breaks one input, points ``config.yaml: inputs`` at the copies
(``source: files``, as a researcher with the licensed data does) and runs the workflow up to
the panel. Each must stop with a non-zero exit, a message naming the file, the column and the
problem, and no output of the failing step.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import polars as pl
import pytest
from helpers import copy_workflow, run_snakemake

pytestmark = pytest.mark.slow

TARGET = "results/panel/panel.parquet"


@pytest.fixture(scope="module")
def tiny_raw(tiny_run) -> Path:
    """The tiny world's raw inputs (written by the workflow's own synthesize rule in the
    session's shared run; read-only: each case copies them)."""
    return tiny_run / "resources" / "raw"


def _setup(tmp_path: Path, tiny_raw: Path, base_config: dict) -> tuple[Path, dict]:
    data = tmp_path / "data"
    shutil.copytree(tiny_raw, data)
    cfg = copy.deepcopy(base_config)
    cfg["preset"] = "tiny"
    cfg["inputs"].update(
        source="files",
        asif=str(data / "asif" / "asif_{year}.parquet"),
        customs=str(data / "customs" / "customs_{year}.parquet"),
        alibaba=str(data / "members" / "alibaba.parquet"),
        mic=str(data / "members" / "mic.parquet"),
        **{
            k: str(data / "external" / f"{k}.csv")
            for k in (
                "cities",
                "counties",
                "it_revenue",
                "internet_ports",
                "it_weights",
                "deflators",
            )
        },
    )
    return data, cfg


def _asif(data: Path, year: int) -> Path:
    return data / "asif" / f"asif_{year}.parquet"


def _edit_parquet(path: Path, fn) -> None:
    df = fn(pl.read_parquet(path))
    df.write_parquet(path)


def _to_csv(path: Path, encoding: str = "utf-8", text_fn=None) -> Path:
    df = pl.read_parquet(path)
    text = df.write_csv()
    if text_fn:
        text = text_fn(text)
    out = path.with_suffix(".csv")
    out.write_bytes(text.encode(encoding))
    path.unlink()
    return out


def _col(df: pl.DataFrame, *names: str) -> str:
    return next(n for n in names if n in df.columns)


def case_missing_file(data, cfg):
    _asif(data, 2003).unlink()
    return "asif_2003.parquet", None, "Missing input files"


def case_empty_file(data, cfg):
    _asif(data, 2003).write_bytes(b"")
    return "asif_2003.parquet", None, "file is empty"


def case_truncated_parquet(data, cfg):
    p = _asif(data, 2002)
    b = p.read_bytes()
    p.write_bytes(b[: len(b) // 3])
    return "asif_2002.parquet", None, "cannot read file"


def case_missing_column(data, cfg):
    _edit_parquet(_asif(data, 2005), lambda df: df.drop(_col(df, "全部从业人员年平均人数", "cyrs")))
    return "asif_2005.parquet", "employees", "required column is missing"


def case_wrong_type(data, cfg):
    def f(df):
        c = _col(df, "资产总计", "zczj")
        return df.with_columns(pl.col(c).cast(pl.String).str.replace(r"^(\d)", "x$1"))

    _edit_parquet(_asif(data, 2006), f)
    return "asif_2006.parquet", "total_assets", "non-numeric"


def case_non_numeric_csv(data, cfg):
    p = _asif(data, 2007)

    def text_fn(t):
        lines = t.splitlines()
        header = lines[0].split(",")
        i = header.index("工业总产值")
        row = lines[5].split(",")
        row[i] = "n/a-abc"
        lines[5] = ",".join(row)
        return "\n".join(lines) + "\n"

    # a CSV delivery behind the configured name: the reader recognizes the format by content
    csv = _to_csv(p, text_fn=text_fn)
    csv.rename(p)
    return "asif_2007", "gross_output", "non-numeric"


def case_duplicate_firm_years(data, cfg):
    _edit_parquet(_asif(data, 2004), lambda df: pl.concat([df, df.head(3)]))
    return "asif_2004.parquet", "firm_code", "duplicate firm-years"


def case_negative_capital(data, cfg):
    def f(df):
        c = _col(df, "固定资产净值", "gdzcjz")
        return df.with_columns(
            pl.when(pl.int_range(pl.len()) == 7).then(-500.0).otherwise(pl.col(c)).alias(c)
        )

    _edit_parquet(_asif(data, 2011), f)
    return "asif_2011.parquet", "fixed_assets_net", "negative"


def case_year_without_rows(data, cfg):
    _edit_parquet(_asif(data, 2012), lambda df: df.head(0))
    return "asif_2012.parquet", None, "no rows"


def case_unknown_city(data, cfg):
    def f(df):
        c = _col(df, "行政区划代码", "地区代码", "dq")
        return df.with_columns(
            pl.when(pl.int_range(pl.len()) == 3)
            .then(pl.lit("990101"))
            .otherwise(pl.col(c))
            .alias(c)
        )

    _edit_parquet(_asif(data, 2013), f)
    return "asif_2013.parquet", "region_code", "unknown city code"


def case_undecodable(data, cfg):
    p = data / "external" / "cities.csv"
    p.write_bytes(p.read_bytes() + "9901,坏市,99,坏省,100.0,30.0\n".encode() + b"\x81\xff\xfe\n")
    return "cities.csv", None, "cannot decode"


def case_bad_member_years(data, cfg):
    p = data / "members" / "alibaba.parquet"
    _edit_parquet(
        p,
        lambda df: df.with_columns(
            pl.when(pl.int_range(pl.len()) == 2)
            .then(pl.lit("about ten years"))
            .otherwise(pl.col("member_years"))
            .alias("member_years")
        ),
    )
    return "alibaba.parquet", "member_years", "about ten years"


def case_members_without_names(data, cfg):
    _edit_parquet(
        data / "members" / "mic.parquet",
        lambda df: df.drop(_col(df, "company_name_cn", "中文名称", "企业名称")),
    )
    return "mic.parquet", "name_cn", "required column is missing"


def case_customs_missing_value(data, cfg):
    p = data / "customs" / "customs_2009.parquet"
    _edit_parquet(p, lambda df: df.drop(_col(df, "金额", "美元值")))
    return "customs_2009.parquet", "value_usd", "required column is missing"


def case_deflator_gap(data, cfg):
    p = data / "external" / "deflators.csv"
    df = pl.read_csv(p, infer_schema=False)
    df.filter(~((pl.col("ind2") == "39") & (pl.col("year") == "2005"))).write_csv(p)
    return "deflators.csv", "ind2/year", "no deflator"


def case_gbk_is_fine(data, cfg):
    """Not an error: a GBK-encoded CSV is read (the control case of the catalogue)."""
    p = _asif(data, 2001)
    _to_csv(p, encoding="gbk").rename(p)
    return None, None, None


CASES = [
    case_missing_file,
    case_empty_file,
    case_truncated_parquet,
    case_missing_column,
    case_wrong_type,
    case_non_numeric_csv,
    case_duplicate_firm_years,
    case_negative_capital,
    case_year_without_rows,
    case_unknown_city,
    case_undecodable,
    case_bad_member_years,
    case_members_without_names,
    case_customs_missing_value,
    case_deflator_gap,
    case_gbk_is_fine,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_bad_input(case, tmp_path, tiny_raw, base_config):
    data, cfg = _setup(tmp_path, tiny_raw, base_config)
    fname, column, problem = case(data, cfg)
    wd = copy_workflow(tmp_path / "wf", cfg)
    proc = run_snakemake(wd, TARGET, check=False)
    out = proc.stdout + proc.stderr
    if fname is None:  # control case: must succeed
        assert proc.returncode == 0, out[-3000:]
        return
    assert proc.returncode != 0, out[-2000:]
    assert fname in out, out[-3000:]
    if column:
        assert f"column '{column}'" in out, out[-3000:]
    assert problem in out, out[-3000:]
    assert not (wd / TARGET).exists()
    # no half-written output anywhere
    leftovers = [p for p in (wd / "results").rglob("*.tmp")] if (wd / "results").exists() else []
    assert not leftovers

"""A catalogue of bad inputs, through the real-data path of the workflow.

The raw inputs of the session's tiny run (``tiny_run``, tests/conftest.py) are the source;
each case copies them, breaks one input and reads the copies as a researcher with the
licensed data does (``config.yaml: inputs``, ``source: files``). Each must stop with a
non-zero exit, a message naming the file, the column and the problem, and no output of the
failing step; a fault allowed to pass is counted, the data unchanged or explained.

Most cases are checked in the job that reads the faulty input. The untouched copy runs
through the workflow once, up to the panel (``files_run``), snakemake keeping the script it
generated for each job; a case replays that job (the rule's script with the job's own input,
output, params and log: ``helpers.replay_job``) in this process on its broken copy. The
cases whose fault snakemake sees (a missing file, the configuration, the rules that exist),
those whose setting must reach a script through config.yaml, ``check_inputs`` and one fault
of a reading rule run the workflow afresh, end to end (``E2E``): exit status, message on the
terminal, no output.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from helpers import (
    ROOT,
    copy_run,
    copy_workflow,
    job_object,
    job_scripts,
    listing,
    replay_job,
    run_snakemake,
)

pytestmark = pytest.mark.slow

TARGET = "results/panel/panel.parquet"
CLEAN = "results/interim/asif_clean.parquet"
CUSTOMS = "results/interim/customs_firm_year.parquet"
MEMBERS = "results/links/alibaba_panel.parquet"
EXTERNAL = ("cities", "counties", "it_revenue", "internet_ports", "it_weights", "deflators")


@pytest.fixture(scope="module")
def tiny_raw(tiny_run) -> Path:
    """The tiny world's raw inputs (written by the workflow's own synthesize rule in the
    session's shared run; read-only: each case copies them)."""
    return tiny_run / "resources" / "raw"


def _config(base_config: dict, data: str, raw: Path) -> dict:
    """The tiny preset reading the files of ``raw``'s layout under ``data`` (a path)."""
    cfg = copy.deepcopy(base_config)
    cfg["preset"] = "tiny"
    cfg["inputs"].update(
        source="files",
        asif=f"{data}/asif/asif_{{year}}.parquet",
        customs=f"{data}/customs/customs_{{year}}.parquet",
        alibaba=f"{data}/members/alibaba.parquet",
        mic=f"{data}/members/mic.parquet",
        **{k: f"{data}/external/{k}.csv" for k in EXTERNAL},
        # the world delivers some years as GBK CSV: declared as a researcher would
        customs_by_year={
            int(p.stem.rsplit("_", 1)[1]): f"{data}/customs/{p.name}"
            for p in sorted((raw / "customs").glob("customs_*.csv"))
        },
    )
    return cfg


def _setup(tmp_path: Path, tiny_raw: Path, base_config: dict) -> tuple[Path, dict]:
    """A copy of the raw inputs in ``tmp_path/data`` and a config naming them (absolute)."""
    data = tmp_path / "data"
    shutil.copytree(tiny_raw, data)
    return data, _config(base_config, str(data), tiny_raw)


@pytest.fixture(scope="module")
def files_run(tmp_path_factory, tiny_raw, base_config):
    """The untouched inputs (under ``data/``, named by relative paths) through the workflow
    up to the panel, with the scripts snakemake generated for the jobs kept. Read-only: a
    case works on a copy; a change is reported at the end of the module."""
    wd = tmp_path_factory.mktemp("files_run") / "wf"
    copy_workflow(wd, _config(base_config, "data", tiny_raw))
    shutil.copytree(tiny_raw, wd / "data")
    run_snakemake(wd, TARGET, "--skip-script-cleanup")
    before = listing(wd)
    yield wd
    changed = sorted(set(before.items()) ^ set(listing(wd).items()))
    assert not changed, f"a test changed the shared files run: {changed[:5]}"


@pytest.fixture(scope="module")
def jobs(files_run) -> dict[str, Path]:
    """The job scripts of ``files_run`` by rule and wildcards (``helpers.job_scripts``)."""
    return job_scripts(files_run)


@pytest.fixture(scope="module")
def clean_baseline(files_run) -> Path:
    """The cleaned ASIF of the untouched tiny world, read through the real-data path."""
    return files_run / CLEAN


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


# --------------------------------------------------------------- issue 17: more realistic faults


def _set_row(df: pl.DataFrame, col: str, row: int, value) -> pl.DataFrame:
    """``df`` with ``value`` in row ``row`` (0-based) of ``col``."""
    lit = pl.lit(value, dtype=df.schema[col]) if value is None else pl.lit(value)
    return df.with_columns(
        pl.when(pl.int_range(pl.len()) == row).then(lit).otherwise(pl.col(col)).alias(col)
    )


def _members(data: Path, which: str, fn) -> None:
    _edit_parquet(data / "members" / f"{which}.parquet", fn)


def case_scrape_date_typo(data, cfg):
    """One mistyped scrape date (2042 for 2024): the fault that moved Table 2 to -0.009."""
    _members(
        data,
        "alibaba",
        lambda df: _set_row(df, _col(df, "scrape_date", "采集日期"), 0, "2042-06-30"),
    )
    return "alibaba.parquet", "scrape_date", "outside the plausible window"


def case_scrape_date_unparseable(data, cfg):
    _members(
        data, "mic", lambda df: _set_row(df, _col(df, "scrape_date", "采集日期"), 4, "30/06/2O24")
    )
    return "mic.parquet", "scrape_date", "unparseable"


def case_membership_older_than_platform(data, cfg):
    _members(
        data, "alibaba", lambda df: _set_row(df, _col(df, "member_years", "会员年限"), 3, "31 YRS")
    )
    return "alibaba.parquet", "member_years", "before the platform's launch"


def case_scrape_dates_in_chinese_format(data, cfg):
    """Not an error: 2024年6月30日 and 2024/6/30 are read (per row)."""

    def f(df):
        c = _col(df, "scrape_date", "采集日期")
        return df.with_columns(
            pl.when(pl.int_range(pl.len()) % 2 == 0)
            .then(pl.lit("2024年6月30日"))
            .otherwise(pl.lit("2024/6/30"))
            .alias(c)
        )

    _members(data, "alibaba", f)
    return None, None, None


def case_implausible_member_dropped_by_config(data, cfg):
    """Allowed to pass: members.on_implausible: drop removes the row, with a count."""
    cfg["members"]["on_implausible"] = "drop"
    _members(
        data, "alibaba", lambda df: _set_row(df, _col(df, "member_years", "会员年限"), 3, "40 YRS")
    )
    return None, None, None


def case_conflicting_duplicate_firm_year(data, cfg):
    def f(df):
        twin = df.head(1).with_columns(pl.col(_col(df, "工业总产值", "gyzcz")) * 2)
        return pl.concat([df, twin])

    _edit_parquet(_asif(data, 2005), f)
    return "asif_2005.parquet", "firm_code", "different values"


def case_duplicate_firm_years_kept_first_by_config(data, cfg):
    """Allowed to pass: cleaning.duplicate_firm_years: keep_first, counted; data unchanged."""
    cfg["cleaning"]["duplicate_firm_years"] = "keep_first"
    _edit_parquet(_asif(data, 2005), lambda df: pl.concat([df, df.head(2)]))
    return None, None, None


def case_summary_row(data, cfg):
    """Allowed to pass: a 合计 row is dropped and counted; the cleaned data are unchanged."""

    def f(df):
        total = df.select(
            [
                (
                    pl.col(c).sum() if df.schema[c].is_numeric() else pl.lit(None, df.schema[c])
                ).alias(c)
                for c in df.columns
            ]
        ).with_columns(pl.lit("合计").alias(_col(df, "企业名称", "qymc", "单位名称")))
        return pl.concat([df, total], how="vertical_relaxed")

    _edit_parquet(_asif(data, 2006), f)
    return None, None, None


def case_impossible_output(data, cfg):
    """Allowed to pass: output beyond any firm in the economy is dropped with a reason."""
    _edit_parquet(
        _asif(data, 2002), lambda df: _set_row(df, _col(df, "工业总产值", "gyzcz"), 5, 5.0e13)
    )
    return None, None, None


def case_part_exceeds_whole(data, cfg):
    """Allowed to pass: new-product output above gross output is dropped with a reason."""

    def f(df):
        go = df[_col(df, "工业总产值", "gyzcz")][6]
        return _set_row(df, _col(df, "新产品产值", "xcpcz"), 6, float(go) * 3)

    _edit_parquet(_asif(data, 2002), f)
    return None, None, None


def case_two_headers_disagree(data, cfg):
    """A Chinese and a pinyin header for total assets with different numbers."""

    def f(df):
        c = _col(df, "资产总计", "zczj")
        return df.with_columns((pl.col(c) + 1).alias("zczj" if c != "zczj" else "资产总计"))

    _edit_parquet(_asif(data, 2007), f)
    return "asif_2007.parquet", "total_assets", "disagree"


def case_two_headers_one_empty(data, cfg):
    """Allowed to pass: an empty Chinese twin of the pinyin header (2004's vintage) is
    ignored, although the dictionary lists its spelling first."""

    def f(df):
        c = _col(df, "资产总计", "zczj")
        twin = "zczj" if c != "zczj" else "资产总计"
        return df.select(pl.lit(None, pl.Float64).alias(twin), pl.all())

    _edit_parquet(_asif(data, 2004), f)
    return None, None, None


def case_unknown_depreciation_header(data, cfg):
    """A new vintage's depreciation header the dictionary does not know: CU would be lost."""

    def f(df):
        return df.rename({_col(df, "本年折旧", "bnzj", "当年折旧"): "本年折旧额(新口径)"})

    _edit_parquet(_asif(data, 2012), f)
    return "asif_2012.parquet", "depreciation", "has no value of depreciation"


def case_year_keeps_no_rows(data, cfg):
    _edit_parquet(
        _asif(data, 2003),
        lambda df: df.with_columns(pl.lit(1.0).alias(_col(df, "全部从业人员年平均人数", "cyrs"))),
    )
    return "asif_2003.parquet", None, "no row of 2003 survives cleaning"


def case_nan_and_blank_key_values(data, cfg):
    """Allowed to pass: NaN output and whitespace names are missing values, counted."""

    def f(df):
        df = _set_row(df, _col(df, "工业总产值", "gyzcz"), 2, float("nan"))
        return _set_row(df, _col(df, "企业名称", "qymc"), 3, "   ")

    _edit_parquet(_asif(data, 2001), f)
    return None, None, None


def case_blank_zips_are_not_codes(data, cfg):
    """Allowed to pass: blank and all-zero zips are missing, never the code 000000."""

    def f(df):
        c = _col(df, "邮政编码", "yzbm", "邮编")
        df = df.with_columns(pl.col(c).cast(pl.String))
        return _set_row(_set_row(df, c, 0, ""), c, 1, "000000")

    _edit_parquet(_asif(data, 2001), f)
    return None, None, None


def case_infinite_export_value(data, cfg):
    """Allowed to pass: an infinite customs value is a missing value, not an extreme."""
    p = data / "customs" / "customs_2005.parquet"
    _edit_parquet(p, lambda df: _set_row(df, _col(df, "金额", "美元值"), 0, float("inf")))
    return None, None, None


def case_tab_separated_csv(data, cfg):
    """Not an error: a tab-separated delivery is read (delimiter sniffed)."""
    p = _asif(data, 2001)
    _to_csv(p, text_fn=lambda t: t.replace(",", "\t")).rename(p)
    return None, None, None


def case_semicolon_separated_csv_with_bad_value(data, cfg):
    """A semicolon-separated file is read as such: the real problem (a bad number) is named."""
    p = _asif(data, 2002)

    def text_fn(t):
        lines = t.splitlines()
        i = lines[0].split(",").index("资产总计")
        row = lines[4].split(",")
        row[i] = "12x4"
        lines[4] = ",".join(row)
        return "\n".join(lines).replace(",", ";") + "\n"

    _to_csv(p, text_fn=text_fn).rename(p)
    return "asif_2002", "total_assets", "non-numeric"


def case_config_override_names_its_file(data, cfg):
    """A bad key in a --configfile override is reported with that file's name."""
    (data / "override.yaml").write_text("cleaning:\n  min_employes: 8\n", encoding="utf-8")
    return "override.yaml", None, "unknown key 'min_employes'"


def case_user_data_is_never_synthesized(data, cfg):
    """With inputs.source: files, no rule can write the synthetic world over user data."""
    return None, None, "synthesize"


def case_check_inputs_lists_every_problem(data, cfg):
    _edit_parquet(_asif(data, 2004), lambda df: pl.concat([df, df.head(2)]))
    _members(
        data, "mic", lambda df: _set_row(df, _col(df, "scrape_date", "采集日期"), 1, "1924-06-30")
    )
    return "asif_2004.parquet", "firm_code", "duplicate firm-years"


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
    case_scrape_date_typo,
    case_scrape_date_unparseable,
    case_membership_older_than_platform,
    case_scrape_dates_in_chinese_format,
    case_implausible_member_dropped_by_config,
    case_conflicting_duplicate_firm_year,
    case_duplicate_firm_years_kept_first_by_config,
    case_summary_row,
    case_impossible_output,
    case_part_exceeds_whole,
    case_two_headers_disagree,
    case_two_headers_one_empty,
    case_unknown_depreciation_header,
    case_year_keeps_no_rows,
    case_nan_and_blank_key_values,
    case_blank_zips_are_not_codes,
    case_infinite_export_value,
    case_tab_separated_csv,
    case_semicolon_separated_csv_with_bad_value,
    case_config_override_names_its_file,
    case_user_data_is_never_synthesized,
    case_check_inputs_lists_every_problem,
]

ALIBABA, MIC = "match_platform/alibaba", "match_platform/mic"
#: the job(s) of ``files_run`` replayed for a case (in order, up to the first that fails):
#: the job that reads the faulty input. Every other case runs end to end (``E2E``).
JOBS = {
    "truncated_parquet": ["clean_asif"],
    "missing_column": ["clean_asif"],
    "wrong_type": ["clean_asif"],
    "non_numeric_csv": ["clean_asif"],
    "duplicate_firm_years": ["clean_asif"],
    "negative_capital": ["clean_asif"],
    "year_without_rows": ["clean_asif"],
    "unknown_city": ["clean_asif"],
    "undecodable": ["clean_asif"],
    "bad_member_years": [ALIBABA],
    "members_without_names": [MIC],
    "customs_missing_value": ["aggregate_customs/2009"],
    "deflator_gap": ["build_panel"],
    "gbk_is_fine": ["clean_asif"],
    "scrape_date_typo": [ALIBABA],
    "scrape_date_unparseable": [MIC],
    "membership_older_than_platform": [ALIBABA],
    "scrape_dates_in_chinese_format": [ALIBABA],
    "conflicting_duplicate_firm_year": ["clean_asif"],
    "summary_row": ["clean_asif"],
    "impossible_output": ["clean_asif"],
    "part_exceeds_whole": ["clean_asif"],
    "two_headers_disagree": ["clean_asif"],
    "two_headers_one_empty": ["clean_asif"],
    "unknown_depreciation_header": ["clean_asif"],
    "year_keeps_no_rows": ["clean_asif"],
    "nan_and_blank_key_values": ["clean_asif"],
    "blank_zips_are_not_codes": ["clean_asif"],
    "infinite_export_value": ["aggregate_customs/2005", "gather_customs"],
    "tab_separated_csv": ["clean_asif"],
    "semicolon_separated_csv_with_bad_value": ["clean_asif"],
}
REPLAYED = [c for c in CASES if c.__name__[5:] in JOBS]
E2E = [c for c in CASES if c.__name__[5:] not in JOBS]
#: targets of the end-to-end cases (default: the panel)
TARGETS = {
    "duplicate_firm_years_kept_first_by_config": [CLEAN],
    "implausible_member_dropped_by_config": [MEMBERS],
    "config_override_names_its_file": ["--configfile", "data/override.yaml", "--", CLEAN],
    "user_data_is_never_synthesized": ["synthesize"],
    "check_inputs_lists_every_problem": ["check_inputs"],
}


def _ids(cases) -> list[str]:
    return [c.__name__[5:] for c in cases]


def _attrition(wd: Path) -> dict[tuple[int, str], int]:
    a = pl.read_csv(wd / "results/logs/attrition_asif.csv")
    return {(y, r): n for y, r, n in a.select("year", "reason", "rows").iter_rows()}


def _frame_without(wd: Path, baseline: Path, col: str | None = None) -> None:
    """The cleaned ASIF equals the clean run's (except ``col``)."""
    got, ref = pl.read_parquet(wd / CLEAN), pl.read_parquet(baseline)
    if col:
        got, ref = got.drop(col), ref.drop(col)
    assert got.equals(ref)


def _check_passed(name: str, wd: Path, out: str, baseline: Path) -> None:
    """For faults allowed to pass: the count in the logs, and the data unchanged or explained."""
    log = (wd / "results/logs/clean_asif.log").read_text() if (wd / CLEAN).exists() else ""
    if name == "summary_row":
        assert _attrition(wd)[(2006, "summary row (total or subtotal)")] == 1
        assert "1 total or subtotal row(s) dropped" in log
        _frame_without(wd, baseline)
    elif name == "duplicate_firm_years_kept_first_by_config":
        assert _attrition(wd)[(2005, "duplicate firm-year")] == 2
        _frame_without(wd, baseline)
    elif name in ("two_headers_one_empty", "tab_separated_csv", "gbk_is_fine"):
        # the panel and all after it are those of the untouched run (built from these data)
        _frame_without(wd, baseline)
    elif name == "impossible_output":
        assert (
            _attrition(wd)[(2002, "impossible value: output, assets or employment beyond any firm")]
            == 1
        )
    elif name == "part_exceeds_whole":
        assert (
            _attrition(wd)[
                (2002, "impossible value: a part exceeds its whole (share outside [0, 1])")
            ]
            == 1
        )
    elif name == "nan_and_blank_key_values":
        assert _attrition(wd)[(2001, "missing key variable")] >= 2
        miss = pl.read_csv(wd / "results/logs/missing_asif.csv")
        row = miss.filter((pl.col("year") == 2001) & (pl.col("column") == "gross_output"))
        assert row["disguised"][0] == 1
    elif name == "blank_zips_are_not_codes":
        zips = pl.read_parquet(wd / CLEAN).filter(pl.col("year") == 2001)["zip"]
        assert "000000" not in zips.to_list() and zips.null_count() >= 2
    elif name == "infinite_export_value":
        agg = pl.read_parquet(wd / CUSTOMS)
        assert agg["export_value"].is_finite().all()
    elif name == "implausible_member_dropped_by_config":
        import json

        report = json.loads((wd / "results/links/alibaba_report.json").read_text())
        assert sum(report["members_dropped"].values()) == 1
        assert (
            "1 member row(s) dropped"
            in (wd / "results/logs/match_platform_alibaba.log").read_text()
        )
    elif name == "user_data_is_never_synthesized":
        assert "synthesize" in out


def _no_half_written_output(wd: Path) -> None:
    leftovers = list((wd / "results").rglob("*.tmp")) if (wd / "results").exists() else []
    assert not leftovers


def _check_refused(fname: str, column: str | None, problem: str, out: str) -> None:
    """The message names the file, the column (if any) and the problem."""
    assert fname in out, out[-3000:]
    if column:
        assert f"column '{column}'" in out, out[-3000:]
    assert problem in out, out[-3000:]


def _job_of(jobs: dict[str, Path], key: str) -> Path:
    """The job script for ``key``; a customs year (``aggregate_customs/2009``) is read by the
    job of the batch of years that holds it (``aggregate_customs/2001-2015``)."""
    if key in jobs:
        return jobs[key]
    rule, _, year = key.partition("/")
    for name, script in jobs.items():
        r, _, batch = name.partition("/")
        first, _, last = batch.partition("-")
        if r == rule and year and int(first) <= int(year) <= int(last or first):
            return script
    raise KeyError(f"{key}: no job of the run reads it (jobs: {sorted(jobs)})")


def test_every_case_is_checked():
    assert set(JOBS) <= set(_ids(CASES)) and len(E2E) + len(REPLAYED) == len(CASES)
    assert not set(TARGETS) - set(_ids(E2E)), "a target for a case that is replayed"


@pytest.mark.parametrize("case", REPLAYED, ids=_ids(REPLAYED))
def test_bad_input_in_its_job(case, tmp_path, files_run, jobs, clean_baseline):
    """The fault in a copy of ``files_run``, read by a replay of the job that reads it."""
    wd = tmp_path / "wf"
    shutil.copytree(files_run, wd, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    fname, column, problem = case(wd / "data", None)
    name = case.__name__[5:]
    for key in JOBS[name]:
        script = _job_of(jobs, key)
        code, out = replay_job(script, wd)
        if code != 0:
            break
    outputs = [wd / f for f in job_object(script).output]
    if problem is None:  # allowed to pass
        assert code == 0, out[-3000:]
        assert all(f.exists() for f in outputs)
        _check_passed(name, wd, out, clean_baseline)
        return
    assert code != 0, out[-2000:]
    _check_refused(fname, column, problem, out)
    assert not any(f.exists() for f in outputs)
    _no_half_written_output(wd)


@pytest.mark.parametrize("case", E2E, ids=_ids(E2E))
def test_bad_input(case, tmp_path, tiny_raw, base_config, clean_baseline):
    """The fault in a fresh copy, through the whole workflow up to the case's target."""
    data, cfg = _setup(tmp_path, tiny_raw, base_config)
    fname, column, problem = case(data, cfg)
    wd = copy_workflow(tmp_path / "wf", cfg)
    if (data / "override.yaml").exists():
        shutil.copy(data / "override.yaml", wd / "override.yaml")
    name = case.__name__[5:]
    targets = [
        a.replace("data/override.yaml", "override.yaml") for a in TARGETS.get(name, [TARGET])
    ]
    proc = run_snakemake(wd, *targets, check=False)
    out = proc.stdout + proc.stderr
    if fname is None and problem is None:  # control case: must succeed
        assert proc.returncode == 0, out[-3000:]
        _check_passed(name, wd, out, clean_baseline)
        return
    if fname is None:  # a refusal that names what was refused
        assert proc.returncode != 0, out[-2000:]
        assert problem in out, out[-3000:]
        _check_passed(name, wd, out, clean_baseline)
        return
    assert proc.returncode != 0, out[-2000:]
    _check_refused(fname, column, problem, out)
    assert not (wd / TARGET).exists()
    for t in targets:
        assert not t.startswith("results/") or not (wd / t).exists()
    if name == "check_inputs_lists_every_problem":  # one line per problem, every file
        assert "mic.parquet, column 'scrape_date'" in out and "2 problem(s)" in out
    _no_half_written_output(wd)


def test_redelivered_input_with_its_old_mtime_is_noticed(tmp_path, files_run):
    """New content under the old modification time (rsync -a, tar, unzip) reruns cleaning."""
    wd = copy_run(files_run, tmp_path / "wf")
    before = pl.read_parquet(wd / CLEAN).filter(pl.col("year") == 2003).height
    p = _asif(wd / "data", 2003)
    st = p.stat()
    _edit_parquet(p, lambda df: df.head(df.height - 50))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    proc = run_snakemake(wd, CLEAN)
    assert "Nothing to be done" not in proc.stdout + proc.stderr
    assert pl.read_parquet(wd / CLEAN).filter(pl.col("year") == 2003).height < before


def test_vanished_input_stops_instead_of_keeping_stale_results(tmp_path, files_run):
    """A deleted input with the panel built from it: the panel is not reported as up to date."""
    wd = copy_run(files_run, tmp_path / "wf")
    _asif(wd / "data", 2003).unlink()
    proc = run_snakemake(wd, TARGET, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "asif_2003.parquet" in out and "no longer exist" in out
    assert "inputs.asif" in out and "Nothing to be done" not in out


@pytest.mark.parametrize("source", ["files", "synthetic"])
def test_make_clean_keeps_user_inputs(tmp_path, base_config, source):
    cfg = copy.deepcopy(base_config)
    cfg["inputs"]["source"] = source
    wd = copy_workflow(tmp_path / "wf", cfg)
    shutil.copy(ROOT / "Makefile", wd / "Makefile")
    mine = wd / "resources/raw/asif/my_notes.txt"
    delivered = wd / "resources/raw/asif/asif_2001.parquet"
    for f in (mine, delivered, wd / "results/tables/table2.md", wd / "resources/truth/params.json"):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x")
    subprocess.run(["make", "clean"], cwd=wd, check=True, capture_output=True)
    assert mine.exists() and not (wd / "results").exists()
    # a delivered file at a configured input path survives unless the inputs are synthetic
    assert delivered.exists() == (source == "files")
    assert (wd / "resources/truth").exists() == (source == "files")


def test_scorecard_on_a_researchers_files_compares_with_the_paper_only(tmp_path, files_run):
    """On the researcher's own files the scorecard is built from the estimates alone: the
    paper's numbers against ours, with no truth columns (and no synthetic rule in the DAG)."""
    wd = copy_run(files_run, tmp_path / "wf")
    card = "results/validation/scorecard.md"
    proc = run_snakemake(wd, card)
    out = proc.stdout + proc.stderr
    assert "oracle_table" not in out and "synthesize" not in out
    md = (wd / card).read_text(encoding="utf-8")
    assert "No truth to compare with" in md and "| truth |" not in md
    assert "| table2 | (2) | platform | 0.090 | 5.45 |" in md

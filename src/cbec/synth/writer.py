"""Raw ASIF files by vintage (headers, dtypes, data errors) and the truth tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from . import names as nm
from .firms import World
from .params import YEARS

CANONICAL = [
    "firm_code", "firm_name", "legal_rep", "phone", "zip", "region_code", "industry_code",
    "found_year", "found_month", "reg_type", "paidin_capital", "cap_state", "cap_collective",
    "cap_legal", "cap_individual", "cap_hmt", "cap_foreign", "employees", "gross_output",
    "value_added", "sales", "export_delivery", "new_product", "total_assets", "current_assets",
    "total_liabilities", "fixed_assets_orig", "fixed_assets_net", "depreciation",
    "accum_depreciation", "interest", "wage_bill", "intermediate", "main_product",
]  # fmt: skip
STR_COLS = {
    "firm_code",
    "firm_name",
    "legal_rep",
    "phone",
    "zip",
    "region_code",
    "industry_code",
    "reg_type",
    "main_product",
}
INT_COLS = {"found_year", "found_month"}

NBS = {
    "firm_code": "法人代码", "firm_name": "企业名称", "legal_rep": "法定代表人", "phone": "电话号码",
    "zip": "邮政编码", "region_code": "行政区划代码", "industry_code": "行业代码",
    "found_year": "开业时间(年)", "found_month": "开业时间(月)", "reg_type": "登记注册类型",
    "paidin_capital": "实收资本", "cap_state": "国家资本", "cap_collective": "集体资本",
    "cap_legal": "法人资本", "cap_individual": "个人资本", "cap_hmt": "港澳台资本",
    "cap_foreign": "外商资本", "employees": "全部从业人员年平均人数", "gross_output": "工业总产值",
    "value_added": "工业增加值", "sales": "主营业务收入", "export_delivery": "出口交货值",
    "new_product": "新产品产值", "total_assets": "资产总计", "current_assets": "流动资产合计",
    "total_liabilities": "负债合计", "fixed_assets_orig": "固定资产原价",
    "fixed_assets_net": "固定资产净值", "depreciation": "本年折旧", "accum_depreciation": "累计折旧",
    "interest": "利息支出", "wage_bill": "本年应付工资总额", "intermediate": "工业中间投入合计",
    "main_product": "主要产品",
}  # fmt: skip
PINYIN = {
    "firm_code": "frdm", "firm_name": "qymc", "legal_rep": "frdbxm", "phone": "dhhm", "zip": "yzbm",
    "region_code": "dq", "industry_code": "hylb", "found_year": "kysjn", "found_month": "kysjy",
    "reg_type": "djzclx", "paidin_capital": "sszb", "cap_state": "gjzb", "cap_collective": "jtzb",
    "cap_legal": "frzb", "cap_individual": "grzb", "cap_hmt": "gatzb", "cap_foreign": "wszb",
    "employees": "cyrs", "gross_output": "gyzcz", "value_added": "gyzjz", "sales": "zyywsr",
    "export_delivery": "ckjhz", "new_product": "xcpcz", "total_assets": "zczj",
    "current_assets": "ldzchj", "total_liabilities": "fzhj", "fixed_assets_orig": "gdzcyj",
    "fixed_assets_net": "gdzcjz", "depreciation": "bnzj", "accum_depreciation": "ljzj",
    "interest": "lxzc", "wage_bill": "bnyfgzze", "intermediate": "zjtr", "main_product": "cp1",
}  # fmt: skip
LATE = NBS | {
    "firm_code": "组织机构代码", "firm_name": "单位名称", "legal_rep": "法人代表", "phone": "联系电话",
    "zip": "邮编", "region_code": "地区代码", "industry_code": "国民经济行业代码",
    "found_year": "开业年份", "found_month": "开业月份", "reg_type": "企业登记注册类型",
    "employees": "从业人员年平均人数", "gross_output": "工业总产值(当年价格)", "sales": "产品销售收入",
    "fixed_assets_orig": "固定资产原价合计", "depreciation": "当年折旧", "wage_bill": "应付工资总额",
    "intermediate": "中间投入", "main_product": "主要产品名称1",
}  # fmt: skip
PINYIN_YEARS = (2004,)
DEPRECIATION_BLANK = (2008, 2009, 2010)


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Parquet with fast zstd (level 1); deterministic bytes for identical frames."""
    df.write_parquet(path, compression="zstd", compression_level=1)


def asif_headers(year: int) -> dict[str, str]:
    """Canonical -> raw header of the ASIF vintage of `year`."""
    if year in PINYIN_YEARS:
        return PINYIN
    if year >= 2011:
        return LATE
    return NBS


def _phone_written(rng: np.random.Generator, area: np.ndarray, local: np.ndarray) -> np.ndarray:
    r = rng.random(area.size)
    a = pl.Series(area)
    loc = pl.Series(local)
    full = (a + "-" + loc).to_numpy()
    glued = (a + loc).to_numpy()
    return np.where(r < 0.7, full, np.where(r < 0.9, local, glued))


def asif_year(
    w: World, p: dict[str, Any], rng: np.random.Generator, year: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Raw ASIF frame of one year (raw headers) and its truth rows (firm, asif_row, code)."""
    t = year - YEARS[0]
    idx = np.flatnonzero(w.in_asif[:, t])
    names, codes = _names_and_codes(w, idx, t)
    hy = rng.random(idx.size) < p["data_errors"]["hyphen_code_share"]
    codes = np.where(
        hy,
        (pl.Series(codes).str.slice(0, 8) + "-" + pl.Series(codes).str.slice(8)).to_numpy(),
        codes,
    )
    errors = _data_errors(w, p, rng, idx, t, codes)
    data = _asif_columns(w, rng, idx, t, names, errors)
    df = (
        pl.DataFrame(data)
        .with_columns(
            [pl.col(c).cast(pl.Float64) for c in CANONICAL if c not in STR_COLS | INT_COLS]
        )
        .with_columns(pl.col("sales").fill_nan(None))
    )
    df = df.with_columns(
        pl.col("found_year").cast(pl.Int64),
        pl.col("found_month").cast(pl.Int64),
        _firm=pl.Series(idx),
    )
    if year in DEPRECIATION_BLANK:
        df = df.with_columns(depreciation=pl.lit(None, pl.Float64))
    if year in p["data_errors"]["missing_value_added_years"]:
        df = df.with_columns(value_added=pl.lit(None, pl.Float64))
    df = df.sort(["firm_code", "firm_name", "_firm"]).with_columns(
        _row=pl.int_range(pl.len(), dtype=pl.Int64)
    )
    truth = df.select(true_firm="_firm", asif_row="_row", firm_code="firm_code")
    raw = df.select(CANONICAL).rename(asif_headers(year))
    return raw, truth


def _names_and_codes(w: World, idx: np.ndarray, t: int) -> tuple[pl.Series, np.ndarray]:
    """The name and the legal-person code of firms `idx` in year `t`."""
    names = w.name_rows(idx, t, w.name_pieces.select("firm", "version", "name"))["name"]
    codes = (
        pl.DataFrame({"firm": idx, "code_version": w.code_version[idx, t]})
        .join(w.codes, on=["firm", "code_version"], how="left", maintain_order="left")["firm_code"]
        .to_numpy()
    )
    return names, codes


def _data_errors(
    w: World,
    p: dict[str, Any],
    rng: np.random.Generator,
    idx: np.ndarray,
    t: int,
    codes: np.ndarray,
) -> dict[str, np.ndarray]:
    """Employment, founding year, sales and codes with the data errors cleaning must catch:
    employees < 8, impossible founding years, missing sales, duplicated codes."""
    n = idx.size
    de = p["data_errors"]
    emp = w.arr["L"][idx, t].copy()
    found_year = w.firm["found_year"][idx].astype(np.int64)
    sales = np.round(w.arr["sales"][idx, t], 0)
    small = rng.random(n) < de["small_employment_share"]
    emp[small] = rng.integers(1, 8, int(small.sum()))
    bad_fy = rng.random(n) < de["bad_found_year_share"]
    found_year = np.where(bad_fy, rng.choice(np.array([0, 1, 9999, 2099, 199]), n), found_year)
    miss_sales = rng.random(n) < de["missing_sales_share"]
    n_dup = int(round(de["duplicate_code_share"] * n))
    if n_dup:
        tgt = rng.choice(n, n_dup, replace=False)
        codes = codes.copy()
        codes[tgt] = codes[rng.integers(0, n, n_dup)]
    return {
        "codes": codes,
        "employees": emp,
        "found_year": found_year,
        "sales": np.where(miss_sales, np.nan, sales),
    }


# the registered-capital columns (in CANONICAL in the order of the world's capital shares)
CAPITAL_COLUMNS = tuple(c for c in CANONICAL if c.startswith("cap_"))
# ASIF money columns as the world's arrays hold them (canonical name -> array), thousand yuan
ARRAY_COLUMNS = {
    "gross_output": "GO",
    "value_added": "VA",
    "export_delivery": "export_delivery",
    "new_product": "newprod",
    "total_assets": "TA",
    "current_assets": "CA",
    "total_liabilities": "liab",
    "fixed_assets_orig": "orig",
    "fixed_assets_net": "net",
    "depreciation": "dep_book",
    "accum_depreciation": "accum",
    "interest": "interest",
    "wage_bill": "wage_bill",
    "intermediate": "M",
}


def _asif_columns(
    w: World,
    rng: np.random.Generator,
    idx: np.ndarray,
    t: int,
    names: pl.Series,
    errors: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Every ASIF column (canonical names; the frame is put in CANONICAL order by the caller)
    of firms `idx` in year `t`; money in thousand yuan, integers as delivered."""
    f = w.firm
    a = w.arr
    shares = f["shares"][idx]
    paidin = np.round(f["paidin"][idx] * np.exp(0.03 * t), 0)
    r0 = lambda x: np.round(x, 0)  # noqa: E731 - thousand yuan, integers as delivered
    mp_sfx = np.array(["", "制品", "产品", "配件"])[(idx * 7) % 4]
    words = np.array([w_[0] for i in sorted(nm.INDUSTRY_WORDS) for w_ in nm.INDUSTRY_WORDS[i]])
    return {
        "firm_code": errors["codes"],
        "firm_name": names,
        "legal_rep": f["legal_rep"][idx],
        "phone": _phone_written(rng, f["area_code"][idx], f["phone_local"][idx]),
        "zip": f["zip"][idx],
        "region_code": w.counties["county_code"].to_numpy()[f["county_idx"][idx]],
        "industry_code": f["ind4"][idx],
        "found_year": errors["found_year"],
        "found_month": f["found_month"][idx].astype(np.int64),
        "reg_type": f["reg_type"][idx],
        "paidin_capital": paidin,
        **{c: r0(paidin * shares[:, j]) for j, c in enumerate(CAPITAL_COLUMNS)},
        "employees": errors["employees"].astype(float),
        "sales": errors["sales"],
        **{c: r0(a[key][idx, t]) for c, key in ARRAY_COLUMNS.items()},
        "main_product": (pl.Series(words[f["word_idx"][idx]]) + pl.Series(mp_sfx)).to_numpy(),
    }


def write_truth(
    w: World,
    p: dict[str, Any],
    truth_dir: Path,
    asif_truth: list[pl.DataFrame],
    customs_truth: list[pl.DataFrame],
    member_truth: list[pl.DataFrame],
    info: dict[str, Any],
) -> dict[str, int]:
    """Write params.json and the truth tables; returns row counts."""
    firms = _firms_truth(w)
    fy = _firm_year_truth(w, asif_truth)
    parties = pl.concat(customs_truth)
    members = pl.concat(member_truth)
    truth_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(firms, truth_dir / "firms.parquet")
    write_parquet(fy, truth_dir / "firm_year.parquet")
    write_parquet(parties, truth_dir / "customs_parties.parquet")
    write_parquet(members, truth_dir / "members.parquet")
    (truth_dir / "params.json").write_text(
        json.dumps(info, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default)
    )
    return {
        "truth/firms.parquet": firms.height,
        "truth/firm_year.parquet": fy.height,
        "truth/customs_parties.parquet": parties.height,
        "truth/members.parquet": members.height,
    }


def _firms_truth(w: World) -> pl.DataFrame:
    """truth/firms.parquet: one row per firm with its static true attributes."""
    f = w.firm
    n = w.alive.shape[0]
    return pl.DataFrame(
        {
            "true_firm": np.arange(n, dtype=np.int64),
            "city_code": w.cities["city_code"].to_numpy()[f["city_idx"]],
            "county_code": w.counties["county_code"].to_numpy()[f["county_idx"]],
            "ind2": f["ind2"],
            "alpha": f["alpha"],
            "join_year": pl.Series(np.where(f["join_year"] > 0, f["join_year"], -1)).replace(
                -1, None
            ),
            "mic_join_year": pl.Series(
                np.where(f["mic_join_year"] > 0, f["mic_join_year"], -1)
            ).replace(-1, None),
            "rating": pl.Series(f["rating"]).fill_nan(None),
            "exporter": f["exporter"],
            "indirect_exporter": f["indirect"],
            "is_manufacturer": np.ones(n, dtype=bool),
            "ownership": f["own_name"],
            "found_year": f["found_year"].astype(np.int64),
            "first_year": np.array(YEARS)[f["entry_t"]],
            "last_year": np.array(YEARS)[f["exit_t"]],
            "high_ict": f["high_ict"],
            "early": f["early"],
            "high_score": f["high_score"],
            "iv_dist_inv_km": 1.0 / w.counties["dist_hangzhou_km"].to_numpy()[f["county_idx"]],
        }
    )


def _firm_year_truth(w: World, asif_truth: list[pl.DataFrame]) -> pl.DataFrame:
    """truth/firm_year.parquet: every alive firm-year, with its ASIF row where written."""
    f = w.firm
    a = w.arr
    fi, ti = np.nonzero(w.alive)
    fy = pl.DataFrame(
        {
            "true_firm": fi.astype(np.int64),
            "year": np.array(YEARS)[ti].astype(np.int64),
            "u": a["u"][fi, ti],
            "omega": a["omega"][fi, ti],
            "platform": a["platform"][fi, ti].astype(np.int8),
            "platform_mic": a["platform_mic"][fi, ti].astype(np.int8),
            "tau_cu": a["tau_cu"][fi, ti],
            "in_asif": w.in_asif[fi, ti],
            "delta": a["delta"][fi, ti],
            "ln_k_real": a["lnK"][fi, ti],
            "inefficiency_s": a["s"][fi, ti],
            "export_usd": a["export_usd"][fi, ti],
            "n_markets": a["n_markets"][fi, ti].astype(np.int64),
            "n_products": a["n_products"][fi, ti].astype(np.int64),
            "newprod_share": a["np_share"][fi, ti],
            "iv_z": f["iv_z"][fi, ti],
        }
    )
    at = pl.concat(
        [d.with_columns(year=pl.lit(y, pl.Int64)) for y, d in zip(YEARS, asif_truth, strict=True)]
    )
    fy = fy.join(at, on=["true_firm", "year"], how="left", maintain_order="left")
    first = [
        "true_firm",
        "year",
        "u",
        "omega",
        "platform",
        "platform_mic",
        "tau_cu",
        "firm_code",
        "in_asif",
        "asif_row",
    ]
    return fy.select(*first, pl.exclude(first))


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(type(x))

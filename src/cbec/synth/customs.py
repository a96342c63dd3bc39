"""China Customs transactions: manufacturers' own exports and trade intermediaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from . import names as nm
from .firms import CUSTOMS_NATURE, OWN_TYPES, World
from .params import INDUSTRIES, YEARS

COUNTRIES = [
    ("美国", 18), ("日本", 9), ("香港", 12), ("韩国", 5), ("德国", 4.5), ("英国", 3), ("荷兰", 2.5),
    ("法国", 2), ("意大利", 2), ("澳大利亚", 2), ("加拿大", 2), ("新加坡", 2), ("台湾省", 2),
    ("俄罗斯联邦", 2), ("印度", 2), ("马来西亚", 1.5), ("泰国", 1.2), ("印度尼西亚", 1.2),
    ("越南", 1.2), ("阿联酋", 1.5), ("沙特阿拉伯", 0.8), ("巴西", 1), ("墨西哥", 0.8),
    ("西班牙", 1), ("比利时", 0.8), ("波兰", 0.5), ("土耳其", 0.6), ("南非", 0.5),
    ("尼日利亚", 0.4), ("智利", 0.4), ("菲律宾", 0.6), ("巴基斯坦", 0.4), ("伊朗", 0.4),
    ("以色列", 0.3), ("埃及", 0.3), ("阿根廷", 0.3), ("瑞典", 0.3), ("瑞士", 0.3),
    ("丹麦", 0.3), ("芬兰", 0.2), ("挪威", 0.2), ("奥地利", 0.2), ("新西兰", 0.3),
    ("乌克兰", 0.3), ("哈萨克斯坦", 0.3), ("孟加拉国", 0.3), ("斯里兰卡", 0.2), ("秘鲁", 0.2),
    ("哥伦比亚", 0.2), ("肯尼亚", 0.15), ("葡萄牙", 0.2), ("希腊", 0.2), ("柬埔寨", 0.2),
    ("缅甸", 0.2), ("巴拿马", 0.3), ("阿尔及利亚", 0.2), ("伊拉克", 0.15), ("科威特", 0.1),
    ("卡塔尔", 0.1), ("爱尔兰", 0.15),
]  # fmt: skip

HS_CHAPTERS = {
    "13": [10, 11, 15, 23], "14": [19, 20, 21], "15": [22], "16": [24], "17": [52, 54, 55, 60],
    "18": [61, 62], "19": [42, 64], "20": [44], "21": [94], "22": [48], "23": [49],
    "24": [95, 96], "25": [27], "26": [28, 29, 32, 33, 38], "27": [30], "28": [54, 55],
    "29": [40], "30": [39], "31": [68, 69, 70], "32": [72], "33": [74, 76], "34": [73, 82, 83],
    "35": [84], "36": [84, 90], "37": [87], "39": [85], "40": [85], "41": [90, 91],
    "42": [71, 97], "43": [39, 72],
}  # fmt: skip

TRADE_MODES = ["一般贸易", "进料加工贸易", "来料加工装配贸易", "边境小额贸易", "其他贸易"]

HEADERS_A = {  # 2001-2006
    "party_code": "企业编码", "party_name": "企业名称", "zip": "邮政编码", "phone": "电话",
    "hs8": "商品编码", "destination": "目的国", "value_usd": "金额", "quantity": "数量",
    "trade_mode": "贸易方式", "flow": "进出口标志", "month": "月份",
}  # fmt: skip
HEADERS_B = {  # 2007-2015
    "party_code": "经营单位编码", "party_name": "经营单位名称", "zip": "邮编", "phone": "联系电话",
    "hs8": "税号", "destination": "起运国/目的国", "value_usd": "美元值", "quantity": "数量",
    "trade_mode": "贸易方式", "flow": "进口或出口", "month": "月",
}  # fmt: skip


def headers(year: int) -> dict[str, str]:
    return HEADERS_A if year <= 2006 else HEADERS_B


def _party_codes(rng: np.random.Generator, city4: np.ndarray, nature: np.ndarray) -> np.ndarray:
    n = city4.size
    base = city4.astype(np.int64) * 10**6 + nature.astype(np.int64) * 10**5
    serial = rng.integers(0, 10**5, n)
    code = base + serial
    for _ in range(50):
        _, first = np.unique(code, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        code[dup] = base[dup] + rng.integers(0, 10**5, int(dup.sum()))
    return pl.Series(code.astype(str)).str.zfill(10).to_numpy()


def build_parties(w: World, p: dict[str, Any], rng: np.random.Generator) -> pl.DataFrame:
    """One row per customs party: manufacturers (direct exporters) and intermediaries."""
    exp_idx = np.flatnonzero(w.firm["exporter"])
    manu = _manufacturer_parties(w, p, rng, exp_idx)
    inter = _intermediaries(w, p, rng, exp_idx)
    return pl.concat(
        [
            manu.with_columns(
                name=pl.lit(None, pl.String),
                start=pl.lit(0, pl.Int64),
                end=pl.lit(0, pl.Int64),
                ln_x=pl.lit(0.0),
            ),
            inter,
        ],
        how="vertical_relaxed",
    )


def _manufacturer_parties(
    w: World, p: dict[str, Any], rng: np.random.Generator, exp_idx: np.ndarray
) -> pl.DataFrame:
    """Direct exporters as customs has them: party code, phone and zip code."""
    f = w.firm
    c = p["customs"]
    cities = w.cities
    city4 = cities["city_code"].to_numpy()
    nat = np.array([CUSTOMS_NATURE[t] for t in OWN_TYPES])
    m_code = _party_codes(rng, city4[f["city_idx"][exp_idx]], nat[f["own"][exp_idx]].astype(int))
    # phones and zips as customs has them
    same_phone = rng.random(exp_idx.size) < c["phone_same_share"]
    other_local = rng.integers(2 * 10**7, 9 * 10**7, exp_idx.size).astype(str)
    local = np.where(same_phone, f["phone_local"][exp_idx], other_local)
    area = f["area_code"][exp_idx]
    phone = np.where(rng.random(exp_idx.size) < 0.5, area, "")
    phone = (pl.Series(phone) + pl.Series(local)).to_numpy()
    zr = rng.random(exp_idx.size)
    zip_other = (
        pl.Series(cities["zip_prefix"].to_numpy()[f["city_idx"][exp_idx]])
        + pl.Series(rng.integers(0, 100, exp_idx.size).astype(str)).str.zfill(2)
    ).to_numpy()
    zipc = np.where(
        zr < c["zip_same_share"],
        f["zip"][exp_idx],
        np.where(zr < c["zip_same_share"] + 0.05, "", zip_other),
    )
    return pl.DataFrame(
        {
            "party": np.arange(exp_idx.size),
            "party_code": m_code,
            "true_firm": exp_idx,
            "kind": "manufacturer",
            "city_idx": f["city_idx"][exp_idx],
            "phone": phone,
            "zip": zipc,
        }
    )


def _intermediaries(
    w: World, p: dict[str, Any], rng: np.random.Generator, exp_idx: np.ndarray
) -> pl.DataFrame:
    """Trading companies (some named after a local manufacturer): party code, contact
    details, name, years of activity and size."""
    c = p["customs"]
    cities = w.cities
    city4 = cities["city_code"].to_numpy()
    n_int = int(round(c["intermediary_share"] * exp_idx.size))
    cw = np.bincount(w.firm["city_idx"][exp_idx], minlength=cities.height).astype(float)
    cw = cw + 1e-3
    i_city = rng.choice(cities.height, size=n_int, p=cw / cw.sum())
    i_code = _party_codes(rng, city4[i_city], np.where(rng.random(n_int) < 0.3, 1, 6))
    i_local = rng.integers(2 * 10**7, 9 * 10**7, n_int).astype(str)
    i_phone = (
        pl.Series(np.where(rng.random(n_int) < 0.5, cities["area_code"].to_numpy()[i_city], ""))
        + pl.Series(i_local)
    ).to_numpy()
    i_zip = (
        pl.Series(cities["zip_prefix"].to_numpy()[i_city])
        + pl.Series(rng.integers(0, 100, n_int).astype(str)).str.zfill(2)
    ).to_numpy()
    inter = pl.DataFrame(
        {
            "party": exp_idx.size + np.arange(n_int),
            "party_code": i_code,
            "true_firm": pl.Series([None] * n_int, dtype=pl.Int64),
            "kind": "intermediary",
            "city_idx": i_city,
            "phone": i_phone,
            "zip": i_zip,
        }
    )
    inter = inter.with_columns(name=_intermediary_names(w, p, rng, exp_idx, i_city))
    # activity span and size
    start = rng.integers(YEARS[0] - 6, YEARS[-1] + 1, n_int)
    length = rng.geometric(1 / 9, n_int)
    return inter.with_columns(
        start=pl.Series(start),
        end=pl.Series(start + length - 1),
        ln_x=pl.Series(rng.normal(14.8, 1.4, n_int)),
    )


def _intermediary_names(
    w: World, p: dict[str, Any], rng: np.random.Generator, exp_idx: np.ndarray, i_city: np.ndarray
) -> pl.Series:
    """Intermediary names (fixed over time): place + core + trade word + legal suffix; a
    share takes the place and core of a manufacturer's latest name."""
    cities = w.cities
    n_int = i_city.size
    sib = rng.random(n_int) < p["customs"]["intermediary_sibling_share"]
    latest = w.name_pieces.group_by("firm").agg(pl.all().last()).sort("firm")
    src = exp_idx[rng.integers(0, exp_idx.size, n_int)]
    src_rows = latest[src]
    cores_new, _ = nm.cores_to_str(nm.sample_cores(rng, n_int))
    tw = np.array(nm.TRADE_WORDS)[rng.integers(0, len(nm.TRADE_WORDS), n_int)]
    city_short = cities["short_name"].to_numpy()[i_city]
    prefix = np.where(
        sib,
        src_rows["prefix"].to_numpy(),
        np.where(rng.random(n_int) < 0.7, city_short, cities["city_name"].to_numpy()[i_city]),
    )
    core = np.where(sib, src_rows["core"].to_numpy(), cores_new.to_numpy())
    i_suffix = np.where(rng.random(n_int) < 0.85, "有限公司", "有限责任公司")
    i_name = (pl.Series(prefix) + pl.Series(core) + pl.Series(tw) + pl.Series(i_suffix)).to_numpy()
    return pl.Series(i_name)


#: columns of the customs plan: one row per party active in a year, what the year's
#: transactions are drawn from (manufacturers: their exports, markets and products that year;
#: intermediaries: their size). Written by the world's job, read by each year's job.
PLAN_SCHEMA = {
    "year": pl.Int64,
    "party": pl.Int64,
    "party_code": pl.String,
    "party_name": pl.String,
    "zip": pl.String,
    "phone": pl.String,
    "true_firm": pl.Int64,
    "kind": pl.String,
    "export_usd": pl.Float64,
    "ln_x": pl.Float64,
    "n_markets": pl.Int64,
    "n_products": pl.Int64,
    "own": pl.Int64,
    "ind_idx": pl.Int64,
    "n_parties": pl.Int64,
}
TRUTH_COLUMNS = ["year", "party_code", "true_firm", "kind"]


def year_parties(
    w: World, parties: pl.DataFrame, year: int, names_by_version: pl.DataFrame
) -> pl.DataFrame:
    """The plan rows (:data:`PLAN_SCHEMA`) of `year`: manufacturers alive in `year` with that
    year's customs name, exports, markets and products, then the intermediaries active in
    `year`. Its :data:`TRUTH_COLUMNS` are the year's party truth."""
    t = year - YEARS[0]
    manu, inter = _active_parties(w, parties, year, names_by_version)
    tf = manu["true_firm"].to_numpy()
    manu = manu.select(
        "party", "party_code", party_name="cname", zip="zip", phone="phone",
        true_firm="true_firm", kind="kind", export_usd=pl.Series(w.arr["export_usd"][tf, t]),
        ln_x=pl.lit(None, pl.Float64), n_markets=pl.Series(w.arr["n_markets"][tf, t]),
        n_products=pl.Series(w.arr["n_products"][tf, t]), own=pl.Series(w.firm["own"][tf]),
        ind_idx=pl.Series(w.firm["ind_idx"][tf]),
    )  # fmt: skip
    inter = inter.select(
        "party", "party_code", party_name="name", zip="zip", phone="phone",
        true_firm="true_firm", kind="kind", export_usd=pl.lit(None, pl.Float64), ln_x="ln_x",
        n_markets=pl.lit(None, pl.Int64), n_products=pl.lit(None, pl.Int64),
        own=pl.lit(2, pl.Int64), ind_idx=pl.lit(None, pl.Int64),
    )  # fmt: skip
    both = pl.concat([manu, inter], how="vertical_relaxed")
    return both.select(
        pl.lit(year, pl.Int64).alias("year"),
        *both.columns,
        pl.lit(parties.height, pl.Int64).alias("n_parties"),
    ).cast(PLAN_SCHEMA)


@dataclass
class CustomsYear:
    """One year of customs transactions before they are written: per-party text columns and
    per-row numeric arrays (sorted by party code, then month). Rows are turned into the raw
    frame a chunk at a time (:meth:`rows`), so a year's text never sits in memory at once."""

    year: int
    parties: pl.DataFrame  # party_code, party_name, zip, phone (one row per party)
    tx: dict[str, np.ndarray]  # rp, dest_idx, hs_int, value, qty, month, mode, flow

    @property
    def height(self) -> int:
        return int(self.tx["rp"].size)

    def rows(self, start: int = 0, stop: int | None = None) -> pl.DataFrame:
        """Raw transaction rows ``start:stop`` (raw headers of the year's vintage)."""
        tx = {key: x[start:stop] for key, x in self.tx.items()}
        rows = self.parties[tx["rp"]].with_columns(
            hs8=pl.Series(tx["hs_int"]).cast(pl.String).str.zfill(8),
            destination=pl.Series([x[0] for x in COUNTRIES]).gather(tx["dest_idx"]),
            value_usd=pl.Series(tx["value"], dtype=pl.Float64),
            quantity=pl.Series(tx["qty"], dtype=pl.Float64),
            trade_mode=pl.Series(TRADE_MODES).gather(tx["mode"]),
            flow=pl.Series(["出口", "进口"]).gather(tx["flow"]),
            month=pl.Series(tx["month"], dtype=pl.Int64),
        )
        return rows.rename(headers(self.year))


@dataclass
class PartyMarkets:
    """Per party of the world (stable over years): its ordering of the destinations and the
    position of its HS chapter among its industry's chapters."""

    order: np.ndarray  # (parties, countries) int8
    pick: np.ndarray  # (parties,) uniform in [0, 1)


def party_markets(seed: int, n_parties: int) -> PartyMarkets:
    """The parties' markets, drawn from a stream of their own (``SeedSequence([seed, 7])``)."""
    prng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    cw = np.log(np.array([x[1] for x in COUNTRIES]))
    g_all = prng.gumbel(size=(n_parties, len(COUNTRIES)))
    order = np.argsort(-(cw[None, :] + g_all), axis=1).astype(np.int8)
    return PartyMarkets(order, prng.random(n_parties))


def plan_customs_year(
    p: dict[str, Any],
    rng: np.random.Generator,
    year: int,
    plan: pl.DataFrame,
    markets: PartyMarkets,
) -> CustomsYear:
    """The transactions of `year` (numeric arrays) from that year's plan rows
    (:func:`year_parties`) and the world's party markets."""
    vol = _party_volumes(p, rng, plan, year - YEARS[0])
    party = vol["party"]
    dest_idx, hs_int = _markets_products(markets, vol)
    tx = _transactions(rng, vol["X"], vol["own"], vol["rp"], dest_idx, hs_int)
    del vol, dest_idx, hs_int
    tx = _with_imports(p, rng, tx)
    code_rank = np.empty(party.size, dtype=np.int64)
    code_rank[plan["party_code"].arg_sort().to_numpy()] = np.arange(party.size)
    order = np.argsort(code_rank[tx["rp"]] * 16 + tx["month"], kind="stable")
    for key in list(tx):  # one array at a time (a year's arrays are the bulk of memory)
        tx[key] = tx[key][order]
    return CustomsYear(year, plan.select("party_code", "party_name", "zip", "phone"), tx)


def _active_parties(
    w: World, parties: pl.DataFrame, year: int, names_by_version: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Manufacturers alive in `year` (with that year's customs name) and intermediaries
    active in `year`."""
    t = year - YEARS[0]
    manu = parties.filter(pl.col("kind") == "manufacturer")
    inter = parties.filter(
        (pl.col("kind") == "intermediary") & (pl.col("start") <= year) & (pl.col("end") >= year)
    )
    tf = manu["true_firm"].to_numpy()
    act = w.alive[tf, t]
    manu = manu.filter(pl.Series(act))
    named = w.name_rows(tf[act], t, names_by_version).drop("firm")
    manu = pl.concat([manu, named], how="horizontal")
    return manu, inter


def _party_volumes(
    p: dict[str, Any], rng: np.random.Generator, plan: pl.DataFrame, t: int
) -> dict[str, np.ndarray]:
    """Per party of year `t` (manufacturers, then intermediaries, as in `plan`): party, export
    value, markets, products, ownership and industry; per row: its party position (`rp`) and
    rank within the party (`j`)."""
    c = p["customs"]
    is_m = (plan["kind"] == "manufacturer").to_numpy()
    manu, inter = plan.filter(pl.Series(is_m)), plan.filter(pl.Series(~is_m))
    X = np.concatenate(
        [
            manu["export_usd"].to_numpy(),
            np.exp(inter["ln_x"].to_numpy() + 0.05 * t + rng.normal(0, 0.3, inter.height)),
        ]
    )
    n_i = inter.height
    nm_ = np.concatenate([manu["n_markets"].to_numpy(), np.minimum(60, 1 + rng.poisson(9, n_i))])
    npr = np.concatenate([manu["n_products"].to_numpy(), np.minimum(300, 1 + rng.poisson(12, n_i))])
    own = np.concatenate([manu["own"].to_numpy(), np.full(n_i, 2)])
    ind = np.concatenate([manu["ind_idx"].to_numpy(), rng.integers(0, len(INDUSTRIES), n_i)])
    party = np.concatenate([manu["party"].to_numpy(), inter["party"].to_numpy()])
    k = party.size
    base_rows = np.maximum(nm_, npr)
    # extra rows (months, shipments) grow with the square root of the party's exports and
    # are scaled so that export rows per party-year average rows_per_party_mean
    size = np.sqrt(X / np.median(X)) if k else np.zeros(0)
    extra = rng.poisson(
        max(c["rows_per_party_mean"] - base_rows.mean(), 0.5) * size / size.mean() if k else 0
    )
    n_rows = (
        np.minimum(base_rows + extra, c["max_rows_per_party"]) if k else np.zeros(0, dtype=np.int64)
    )
    rp = np.repeat(np.arange(k), n_rows)
    j = np.arange(rp.size) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    return {"X": X, "nm": nm_, "npr": npr, "own": own, "ind": ind, "party": party, "rp": rp, "j": j}


def _markets_products(
    markets: PartyMarkets, vol: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Destination and HS8 code of each row: a party-specific ordering of countries and a
    party-specific HS chapter (both stable over years, drawn once per world)."""
    party, rp, j = vol["party"], vol["rp"], vol["j"]
    nm_, npr, ind = vol["nm"], vol["npr"], vol["ind"]
    dest_idx = markets.order[party[rp], j % nm_[rp]]
    n_ch = np.array([len(HS_CHAPTERS[i]) for i in INDUSTRIES])
    chap_mat = np.zeros((len(INDUSTRIES), n_ch.max()), dtype=np.int64)
    for r_i, ind2 in enumerate(INDUSTRIES):  # loop over 30 industries
        chap_mat[r_i, : n_ch[r_i]] = HS_CHAPTERS[ind2]
    chapter = chap_mat[ind, (markets.pick[party] * n_ch[ind]).astype(np.int64)]
    base6 = (party * 7919 + 104729) % 10**6
    stride = 1 + 2 * ((party * 31) % 5000)
    stride = np.where(stride % 5 == 0, stride + 2, stride)
    six = (base6[rp] + (j % npr[rp]) * stride[rp]) % 10**6
    hs_int = chapter[rp] * 10**6 + six
    return dest_idx, hs_int


def _transactions(
    rng: np.random.Generator,
    X: np.ndarray,
    own: np.ndarray,
    rp: np.ndarray,
    dest_idx: np.ndarray,
    hs_int: np.ndarray,
) -> dict[str, np.ndarray]:
    """Export rows: the party's value split by log-normal weights, quantity, month and
    trade mode (processing trade more common for HMT and foreign firms)."""
    k = X.size
    wgt = rng.lognormal(0, 1.0, rp.size)
    tot = np.bincount(rp, weights=wgt, minlength=k)
    value = np.round(X[rp] * wgt / tot[rp], 0)
    qty = np.round(value / np.exp(rng.normal(1.8, 1.3, rp.size)), 0) + 1
    month = rng.integers(1, 13, rp.size)
    p_gen = np.where(own[rp] >= 3, 0.45, 0.8)
    r = rng.random(rp.size)
    mode = np.where(
        r < p_gen,
        0,
        np.where(
            r < p_gen + (1 - p_gen) * 0.7,
            1,
            np.where(r < p_gen + (1 - p_gen) * 0.96, 2, rng.integers(3, 5, rp.size)),
        ),
    )
    flow = np.zeros(rp.size, dtype=np.int64)
    return {
        "rp": rp,
        "dest_idx": dest_idx,
        "hs_int": hs_int,
        "value": value,
        "qty": qty,
        "month": month,
        "mode": mode,
        "flow": flow,
    }


def _with_imports(
    p: dict[str, Any], rng: np.random.Generator, tx: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Add import rows of the same parties (readers must keep exports only)."""
    share = p["customs"]["import_share"]
    size = tx["rp"].size
    n_imp = int(round(size * share / (1 - share))) if size else 0
    if not n_imp:
        return tx
    ip = rng.integers(0, size, n_imp)
    new = {key: tx[key][ip] for key in ("rp", "dest_idx", "hs_int")}
    new["value"] = np.round(np.exp(rng.normal(9, 1.5, n_imp)), 0)
    new["qty"] = tx["qty"][ip]
    new["month"] = rng.integers(1, 13, n_imp)
    new["mode"] = rng.choice(3, n_imp, p=[0.5, 0.4, 0.1])
    new["flow"] = np.ones(n_imp, dtype=np.int64)
    return {key: np.concatenate([x, new[key]]) for key, x in tx.items()}


def customs_names(
    w: World, p: dict[str, Any], rng: np.random.Generator, trad_map: dict[str, str]
) -> pl.DataFrame:
    """Name of each (firm, version) as customs writes it."""
    q = p["names"]
    pieces = w.name_pieces
    cname = nm.noisy_names(pieces, rng, **nm.noise_of(q, "customs"))
    return pieces.select("firm", "version").with_columns(cname=cname)

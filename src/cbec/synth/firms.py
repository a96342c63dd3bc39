"""Firm population: demography (entry, exit, gaps), location, industry, ownership, names,
legal-person codes, phones and zip codes. Dense (firm x year) arrays, loops over years only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from . import names as nm
from .params import INDUSTRIES, YEARS, year_targets

IND_WEIGHT = {
    "13": 0.05, "14": 0.02, "15": 0.02, "16": 0.002, "17": 0.09, "18": 0.05, "19": 0.03,
    "20": 0.02, "21": 0.015, "22": 0.03, "23": 0.02, "24": 0.02, "25": 0.01, "26": 0.07,
    "27": 0.025, "28": 0.008, "29": 0.012, "30": 0.045, "31": 0.08, "32": 0.025, "33": 0.025,
    "34": 0.055, "35": 0.08, "36": 0.04, "37": 0.045, "39": 0.06, "40": 0.035, "41": 0.015,
    "42": 0.02, "43": 0.003,
}  # fmt: skip
IND_EXPORT_SHIFT = {
    "17": 0.8, "18": 1.0, "19": 1.0, "24": 1.0, "39": 0.6, "40": 0.9, "42": 1.0, "41": 0.3,
    "13": -0.6, "14": -0.6, "15": -1.2, "16": -1.5, "22": -0.6, "23": -0.8, "25": -1.0,
    "31": -0.6, "32": -0.8, "27": -0.4,
}  # fmt: skip

OWN_TYPES = ["state", "collective", "private", "hmt", "foreign"]
REG_CODES = {
    "state": ["110", "151"],
    "collective": ["120", "130"],
    "private": ["171", "172", "173", "159", "160", "190"],
    "hmt": ["210", "220", "230", "240"],
    "foreign": ["310", "320", "330", "340"],
}
# customs registration code, 5th digit: enterprise nature
CUSTOMS_NATURE = {"state": "1", "collective": "5", "private": "6", "hmt": "3", "foreign": "4"}


@dataclass
class World:
    """Everything simulated; dense arrays are (n_firms, n_years) over 2001..2015."""

    p: dict[str, Any]
    cities: pl.DataFrame
    counties: pl.DataFrame
    n: int
    alive: np.ndarray
    in_asif: np.ndarray
    firm: dict[str, np.ndarray]
    name_pieces: pl.DataFrame  # (firm, version) -> pieces
    name_version: np.ndarray  # (n, T) int
    codes: pl.DataFrame  # (firm, code_version) -> firm_code
    code_version: np.ndarray  # (n, T) int
    arr: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def years(self) -> np.ndarray:
        return np.array(YEARS)

    def name_rows(self, idx: np.ndarray, t: int, names: pl.DataFrame) -> pl.DataFrame:
        """The rows of ``names`` (one per ``firm`` and name ``version``) that firms ``idx`` go
        by in year ``t``, in the order of ``idx`` (nulls where ``names`` has none)."""
        keys = pl.DataFrame({"firm": idx, "version": self.name_version[idx, t]})
        return keys.join(names, on=["firm", "version"], how="left", maintain_order="left")


def check_digit(d8: np.ndarray) -> np.ndarray:
    """GB 11714 organisation-code check character for 8-digit integers."""
    w = np.array([3, 7, 9, 10, 5, 8, 4, 2])
    digits = (d8[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    c = 11 - (digits * w).sum(axis=1) % 11
    return np.where(c == 10, "X", np.where(c == 11, "0", c.astype(str)))


def unique_ints(rng: np.random.Generator, n: int, high: int, low: int = 0) -> np.ndarray:
    """n distinct integers in [low, high), in random order (deterministic)."""
    out = np.empty(0, dtype=np.int64)
    while out.size < n:
        draw = rng.integers(low, high, size=int(n * 1.3) + 16)
        allv = np.concatenate([out, draw])
        _, first = np.unique(allv, return_index=True)
        out = allv[np.sort(first)]
    return out[:n]


def _demography(
    p: dict[str, Any], rng: np.random.Generator, alpha: np.ndarray
) -> tuple[np.ndarray, int]:
    targets = year_targets(p)
    d = p["demography"]
    tmax = len(targets)
    fmax = alpha.size
    alive = np.zeros((fmax, tmax), dtype=bool)
    used = targets[0]
    alive[:used, 0] = True
    sd_a = p["production"]["sd_alpha"]
    rel = np.exp(-d["exit_alpha"] * alpha / sd_a - 0.5 * d["exit_alpha"] ** 2)
    haz = np.clip(d["exit_rate"] * rel, 0, 0.9)
    for t in range(1, tmax):
        surv = alive[:used, t - 1] & (rng.random(used) > haz[:used])
        need = targets[t] - int(surv.sum())
        if need < 0:
            kill = rng.choice(np.flatnonzero(surv), -need, replace=False)
            surv[kill] = False
            need = 0
        alive[:used, t] = surv
        alive[used : used + need, t] = True
        used += need
    return alive[:used], used


def simulate_firms(
    p: dict[str, Any], rng: np.random.Generator, cities: pl.DataFrame, counties: pl.DataFrame
) -> World:
    """Draw the firm population with its static attributes, names and codes."""
    T = len(YEARS)
    fmax = int(sum(year_targets(p)))
    sd_a = p["production"]["sd_alpha"]
    alpha_all = rng.normal(0.0, sd_a, fmax)
    alive, n = _demography(p, rng, alpha_all)
    alpha = alpha_all[:n]
    entry_t = alive.argmax(axis=1)
    exit_t = T - 1 - alive[:, ::-1].argmax(axis=1)
    tt = np.arange(T)[None, :]
    interior = (tt > entry_t[:, None]) & (tt < exit_t[:, None])
    gap = interior & (rng.random((n, T)) < p["demography"]["gap_rate"])

    city_idx, county_idx = _location(rng, cities, counties, n)
    ind_idx, ind2, ind4 = _industry(rng, n)
    own, exporter, indirect, size_z = _ownership(p, rng, alpha, ind_idx)
    shares, reg_type = _capital_shares(rng, own)
    found_year, found_month = _founding(p, rng, entry_t)
    loc = _Location(cities, counties, city_idx, county_idx)
    pieces, name_version, word_idx = _names(p, rng, alive, entry_t, loc, ind_idx, own)
    codes, code_version = _legal_codes(p, rng, alive, entry_t)
    area, phone_local, zipc, legal_rep = _contacts(rng, cities, city_idx, n)

    firm = {
        "alpha": alpha,
        "city_idx": city_idx,
        "county_idx": county_idx,
        "ind_idx": ind_idx,
        "ind2": ind2,
        "ind4": ind4,
        "own": own,
        "own_name": np.array(OWN_TYPES)[own],
        "reg_type": reg_type,
        "shares": shares,
        "exporter": exporter,
        "indirect": indirect,
        "size_z": size_z,
        "found_year": found_year,
        "found_month": found_month,
        "entry_t": entry_t,
        "exit_t": exit_t,
        "area_code": area,
        "phone_local": phone_local,
        "zip": zipc,
        "legal_rep": legal_rep,
        "word_idx": word_idx,
    }
    return World(
        p=p,
        cities=cities,
        counties=counties,
        n=n,
        alive=alive,
        in_asif=alive & ~gap,
        firm=firm,
        name_pieces=pieces,
        name_version=name_version,
        codes=codes,
        code_version=code_version,
    )


def _location(
    rng: np.random.Generator, cities: pl.DataFrame, counties: pl.DataFrame, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """City of each firm (by the cities' weights), county uniform within the city."""
    cw = cities["weight"].to_numpy()
    city_idx = rng.choice(cities.height, size=n, p=cw / cw.sum())
    cc = counties["city_idx"].to_numpy()
    order = np.argsort(cc, kind="stable")
    start = np.searchsorted(cc[order], np.arange(cities.height))
    count = np.bincount(cc, minlength=cities.height)
    county_idx = order[start[city_idx] + (rng.random(n) * count[city_idx]).astype(np.int64)]
    return city_idx, county_idx


def _industry(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Industry index, 2-digit and 4-digit CIC code of each firm."""
    iw = np.array([IND_WEIGHT[i] for i in INDUSTRIES])
    ind_idx = rng.choice(len(INDUSTRIES), size=n, p=iw / iw.sum())
    ind2 = np.array(INDUSTRIES)[ind_idx]
    sub = rng.integers(1, 10, n) * 10 + rng.integers(0, 10, n)
    ind4 = (pl.Series(ind2) + pl.Series(sub.astype(str)).str.zfill(2)).to_numpy()
    return ind_idx, ind2, ind4


def _ownership(
    p: dict[str, Any], rng: np.random.Generator, alpha: np.ndarray, ind_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ownership type, direct and indirect exporting, and the size index of each firm."""
    n = alpha.size
    o = p["ownership"]
    sd_a = p["production"]["sd_alpha"]
    p_own = np.array([o["p_state"], o["p_collective"], 0.0, o["p_hmt"], o["p_foreign"]])
    p_own[2] = 1 - p_own.sum()
    own = rng.choice(5, size=n, p=p_own)
    p_exp = np.array(
        [
            o["p_export_state"],
            o["p_export_collective"],
            o["p_export_private"],
            o["p_export_hmt"],
            o["p_export_foreign"],
        ]
    )
    size_z = rng.normal(0, 1, n)
    shift = np.array([IND_EXPORT_SHIFT.get(i, 0.0) for i in INDUSTRIES])[ind_idx]
    logit = (
        np.log(p_exp[own] / (1 - p_exp[own]))
        + o["export_size_tilt"] * size_z
        + o["export_alpha_tilt"] * alpha / sd_a
        + shift
        - 0.15
    )
    exporter = rng.random(n) < 1 / (1 + np.exp(-logit))
    indirect = ~exporter & (rng.random(n) < o["indirect_export_share"] / (1 - 0.3))
    return own, exporter, indirect, size_z


def _capital_shares(rng: np.random.Generator, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paid-in capital shares (state, collective, legal, individual, hmt, foreign) and the
    registration type of each firm."""
    n = own.size
    u = rng.random((n, 3))
    shares = np.zeros((n, 6))
    main_share = np.where(u[:, 0] < 0.92, 0.5 + 0.5 * u[:, 1], 0.1 + 0.4 * u[:, 1])
    main_col = np.array([0, 1, 3, 4, 5])[own]
    # private firms: main owner individual; some small foreign stake below 25 %
    shares[np.arange(n), main_col] = np.where(
        own >= 3, np.where(u[:, 0] < 0.93, 0.25 + 0.75 * u[:, 1], 0.08 + 0.17 * u[:, 1]), main_share
    )
    rest = 1 - shares.sum(axis=1)
    small_foreign = (own == 2) & (u[:, 2] < 0.06)
    shares[small_foreign, 5] = np.minimum(
        rest[small_foreign], 0.05 + 0.19 * rng.random(small_foreign.sum())
    )
    rest = 1 - shares.sum(axis=1)
    split = rng.random(n)
    shares[:, 2] += rest * split
    shares[:, 3] += rest * (1 - split)
    reg_pick = rng.random(n)
    reg_type = np.empty(n, dtype=object)
    for k, t in enumerate(OWN_TYPES):  # loop over 5 ownership types
        m = own == k
        opts = np.array(REG_CODES[t])
        reg_type[m] = opts[(reg_pick[m] * len(opts)).astype(int)]
    return shares, reg_type.astype(str)


def _founding(
    p: dict[str, Any], rng: np.random.Generator, entry_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Founding year (from the age at entry) and month of each firm."""
    d = p["demography"]
    init = entry_t == 0
    mu = np.where(init, d["initial_age_mean_log"], d["entry_age_mean_log"])
    la = np.clip(rng.normal(mu, d["age_sd_log"]), 0, 4.0)
    age0 = np.round(np.exp(la) - 1).astype(np.int64)
    found_year = np.array(YEARS)[entry_t] - age0
    found_month = rng.integers(1, 13, entry_t.size)
    return found_year, found_month


class _Location(NamedTuple):
    """Where the firms are: the city and county tables and each firm's row in them."""

    cities: pl.DataFrame
    counties: pl.DataFrame
    city_idx: np.ndarray
    county_idx: np.ndarray

    def city(self, column: str) -> np.ndarray:
        """``column`` of each firm's city."""
        return self.cities[column].to_numpy()[self.city_idx]


def _names(
    p: dict[str, Any],
    rng: np.random.Generator,
    alive: np.ndarray,
    entry_t: np.ndarray,
    loc: _Location,
    ind_idx: np.ndarray,
    own: np.ndarray,
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Firm names by (firm, version): the pieces, the version of each firm-year and the
    industry word of each firm."""
    city_short = loc.city("short_name")
    prefix, word_idx, place, suffix_idx = _name_parts(rng, loc, ind_idx, own)
    pieces, name_version = _name_versions(p, rng, alive, entry_t, suffix_idx)
    pieces = _dedupe_names(pieces, rng, prefix, word_idx)
    core, core_py = nm.cores_to_str(pieces.select("c0", "c1", "c2").to_numpy())
    all_words = [w for i in INDUSTRIES for w in nm.INDUSTRY_WORDS[i]]
    words = np.array([w[0] for w in all_words])
    words_en = np.array([w[1] for w in all_words])
    fidx = pieces["firm"].to_numpy()
    sfx = pieces["suffix_idx"].to_numpy()
    city_py = _city_pinyin(loc.cities)[loc.city_idx]
    pieces = pieces.with_columns(
        prefix=pl.Series(prefix[fidx]),
        core=core,
        indword=pl.Series(words[word_idx[fidx]]),
        place=pl.Series(place[fidx]),
        suffix=pl.Series(np.array(nm.SUFFIXES)[sfx]),
        city_short=pl.Series(city_short[fidx]),
        core_py=core_py,
        indword_en=pl.Series(words_en[word_idx[fidx]]),
        suffix_en=pl.Series(np.array(nm.SUFFIX_EN)[sfx]),
        city_py=pl.Series(city_py[fidx]),
    )
    return pieces.with_columns(name=nm.assemble(pieces)), name_version, word_idx


def _name_parts(
    rng: np.random.Generator, loc: _Location, ind_idx: np.ndarray, own: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Place prefix, industry word, "(中国)" insert and first legal suffix of each firm."""
    n = own.size
    city_short, city_full = loc.city("short_name"), loc.city("city_name")
    county_name = loc.counties["county_name"].to_numpy()[loc.county_idx]
    county_short = pl.Series(county_name).str.replace(r"(市|县|区)$", "").to_numpy()
    county_short = np.where(
        pl.Series(county_short).str.len_chars().to_numpy() >= 2, county_short, city_short
    )
    pr = rng.random(n)
    prefix = np.where(pr < 0.6, city_short, np.where(pr < 0.85, city_full, county_short))
    n_words = np.array([len(nm.INDUSTRY_WORDS[i]) for i in INDUSTRIES])
    word_k = (rng.random(n) * n_words[ind_idx]).astype(int)
    word_off = np.concatenate([[0], np.cumsum(n_words)[:-1]])
    word_idx = word_off[ind_idx] + word_k
    place = np.where((own >= 3) & (rng.random(n) < 0.12), "(中国)", "")
    sp = np.array(nm.SUFFIX_P)
    suffix_idx = rng.choice(len(sp), size=n, p=sp / sp.sum())
    suffix_idx = np.where((own <= 1) & (rng.random(n) < 0.3), 3, suffix_idx)
    return prefix, word_idx, place, suffix_idx


def _name_versions(
    p: dict[str, Any],
    rng: np.random.Generator,
    alive: np.ndarray,
    entry_t: np.ndarray,
    suffix_idx: np.ndarray,
) -> tuple[pl.DataFrame, np.ndarray]:
    """Renames: core characters and suffix of each (firm, version), and the name version
    of each firm-year."""
    name_version, vf, vv = _versions(rng, alive, entry_t, p["demography"]["rename_rate"])
    cores = nm.sample_cores(rng, vf.size)
    change_core = (vv == 0) | (rng.random(vf.size) < 0.6)
    sp = np.array(nm.SUFFIX_P)
    new_suffix = rng.choice(len(sp), size=vf.size, p=sp / sp.sum())
    pieces = pl.DataFrame(
        {
            "firm": vf,
            "version": vv,
            "c0": np.where(change_core, cores[:, 0], -9),
            "c1": np.where(change_core, cores[:, 1], -9),
            "c2": np.where(change_core, cores[:, 2], -9),
            "suffix_idx": np.where(vv == 0, suffix_idx[vf], np.where(change_core, -9, new_suffix)),
        }
    ).with_columns(
        pl.when(pl.col(c) == -9).then(None).otherwise(pl.col(c)).alias(c)
        for c in ["c0", "c1", "c2", "suffix_idx"]
    )
    pieces = pieces.with_columns(
        pl.col(c).forward_fill().over("firm") for c in ["c0", "c1", "c2", "suffix_idx"]
    )
    return pieces, name_version


def _versions(
    rng: np.random.Generator, alive: np.ndarray, entry_t: np.ndarray, rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events (a rename, a new code) at ``rate`` per firm-year after entry: the version of
    each firm-year (n x T) and, one row per (firm, version), the firm and the version."""
    n, T = alive.shape
    tt = np.arange(T)[None, :]
    event = alive & (tt > entry_t[:, None]) & (rng.random((n, T)) < rate)
    version = np.cumsum(event, axis=1)
    nv = version[:, -1] + 1
    firm = np.repeat(np.arange(n), nv)
    return version, firm, np.arange(firm.size) - np.repeat(np.cumsum(nv) - nv, nv)


def _legal_codes(
    p: dict[str, Any], rng: np.random.Generator, alive: np.ndarray, entry_t: np.ndarray
) -> tuple[pl.DataFrame, np.ndarray]:
    """Legal-person codes by (firm, code version) and the code version of each firm-year."""
    code_version, cf, cv = _versions(rng, alive, entry_t, p["demography"]["recode_rate"])
    d8 = unique_ints(rng, cf.size, 10**8, 10**6)
    code = pl.Series(d8.astype(str)).str.zfill(8) + pl.Series(check_digit(d8))
    codes = pl.DataFrame({"firm": cf, "code_version": cv, "firm_code": code})
    return codes, code_version


def _contacts(
    rng: np.random.Generator, cities: pl.DataFrame, city_idx: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Area code, local phone number, zip code and legal representative of each firm."""
    area = cities["area_code"].to_numpy()[city_idx]
    n8 = np.where(rng.random(n) < 0.75, 8, 7)
    num = rng.integers(2 * 10**6, 9 * 10**6, n) * np.where(n8 == 8, 10, 1) + np.where(
        n8 == 8, rng.integers(0, 10, n), 0
    )
    phone_local = num.astype(str)
    zip_tail = np.where(rng.random(n) < 0.4, 0, rng.integers(1, 100, n))
    zipc = (
        pl.Series(cities["zip_prefix"].to_numpy()[city_idx])
        + pl.Series(zip_tail.astype(str)).str.zfill(2)
    ).to_numpy()
    legal_rep = nm.person_names(rng, n).to_numpy()
    return area, phone_local, zipc, legal_rep


def _city_pinyin(cities: pl.DataFrame) -> np.ndarray:
    from pypinyin import lazy_pinyin

    # loop over ~340 cities (vocabulary), not firms
    return np.array(["".join(lazy_pinyin(s)).title() for s in cities["short_name"].to_list()])


def _dedupe_names(
    pieces: pl.DataFrame, rng: np.random.Generator, prefix: np.ndarray, word_idx: np.ndarray
) -> pl.DataFrame:
    """Redraw cores until (prefix, core, industry word, suffix) is unique across firms."""
    for _ in range(20):
        key = pieces.with_columns(
            pf=pl.Series(prefix[pieces["firm"].to_numpy()]),
            wi=pl.Series(word_idx[pieces["firm"].to_numpy()]),
        )
        # a name is a duplicate if another firm uses it (same firm keeping its name is fine)
        dup = key.group_by(["pf", "c0", "c1", "c2", "wi", "suffix_idx"]).agg(
            pl.col("firm").n_unique().alias("nf"), pl.col("firm").min().alias("f0")
        )
        key = key.join(
            dup,
            on=["pf", "c0", "c1", "c2", "wi", "suffix_idx"],
            how="left",
            maintain_order="left",
            nulls_equal=True,
        )
        bad = ((key["nf"] > 1) & (key["firm"] != key["f0"])).to_numpy()
        if not bad.any():
            return pieces
        new = nm.sample_cores(rng, int(bad.sum()))
        c = pieces.select("c0", "c1", "c2").to_numpy().copy()
        c[bad] = new
        pieces = pieces.with_columns(
            c0=pl.Series(c[:, 0]), c1=pl.Series(c[:, 1]), c2=pl.Series(c[:, 2])
        )
    return pieces

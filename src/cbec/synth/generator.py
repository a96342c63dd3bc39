"""Simulate the synthetic world and write its raw files and truth (:func:`generate`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from . import external as ex
from . import names as nm
from .adoption import analysis_mask, simulate_adoption
from .customs import (
    build_parties,
    customs_names,
    party_markets,
    plan_customs_year,
    year_parties,
)
from .firms import World, simulate_firms
from .geography import load_geography
from .members import member_list
from .params import YEARS, resolve_params
from .production import heterogeneity, simulate_production, simulate_utilization
from .stream import write_customs_year
from .writer import asif_year, write_parquet, write_truth

# fixed order of the random streams (SeedSequence(seed).spawn)
STREAMS = [
    "geography", "firms", "external", "adoption", "utilization", "production",
    "asif", "customs", "members", "names",
]  # fmt: skip

Rngs = dict[str, np.random.Generator]
#: the customs plan in the truth directory (read by the per-year customs writer)
CUSTOMS_PLAN = "customs_plan.parquet"
#: the raw subdirectories the world's job writes (customs years are written one per job)
WORLD_DIRS = ("asif", "members", "external")


@dataclass
class Simulated:
    """The simulated world and the external series written next to it."""

    world: World
    cities: pl.DataFrame
    counties: pl.DataFrame
    ports: pl.DataFrame
    weights: pl.DataFrame
    deflators: pl.DataFrame
    elasticities: dict[str, Any]


def streams(seed: int) -> Rngs:
    """One generator per component, spawned from `seed` in the order of :data:`STREAMS`."""
    seqs = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return dict(zip(STREAMS, (np.random.default_rng(s) for s in seqs), strict=True))


def simulate(p: dict[str, Any], seed: int, rngs: Rngs) -> Simulated:
    """Geography, firms, external series, adoption, utilization and production."""
    cities, counties = load_geography(rngs["geography"])
    w = simulate_firms(p, rngs["firms"], cities, counties)
    w.extra["seed"] = int(seed)
    ports = ex.internet_ports(rngs["external"], cities)
    weights = ex.it_weights(rngs["external"], cities)
    defl = ex.deflators(rngs["external"])
    simulate_adoption(w, p, rngs["adoption"])
    heterogeneity(w, p, ports, weights)
    simulate_utilization(w, p, rngs["utilization"])
    elasticities = simulate_production(w, p, rngs["production"], defl)
    return Simulated(w, cities, counties, ports, weights, defl, elasticities)


def _tmp_sibling(d: Path) -> Path:
    return d.parent / f".{d.name}.tmp-{os.getpid()}"


def _swap_in(tmp: Path, final: Path) -> None:
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)


def _traditional_map(cities: pl.DataFrame, counties: pl.DataFrame) -> dict[str, str]:
    """Simplified -> traditional characters of every character a name can contain."""
    pool = (
        [nm.CORE_CHARS, "中国()分公司"]
        + [x[0] for v in nm.INDUSTRY_WORDS.values() for x in v]
        + nm.SUFFIXES
        + nm.TRADE_WORDS
        + cities["city_name"].to_list()
        + counties["county_name"].to_list()
    )
    return nm.traditional_map(pool)


def _write_asif(
    w: World, p: dict[str, Any], rng: np.random.Generator, raw: Path, summary: dict[str, int]
) -> list[pl.DataFrame]:
    """Write asif_{year}.parquet for every year; return the per-year truth rows."""
    truth = []
    for year in YEARS:
        df, tr = asif_year(w, p, rng, year)
        write_parquet(df, raw / "asif" / f"asif_{year}.parquet")
        summary[f"raw/asif/asif_{year}.parquet"] = df.height
        truth.append(tr)
    return truth


def _write_customs_plan(
    w: World,
    p: dict[str, Any],
    rngs: Rngs,
    trad_map: dict[str, str],
    truth: Path,
    summary: dict[str, int],
) -> list[pl.DataFrame]:
    """Write the customs plan (:data:`CUSTOMS_PLAN`: every year's active parties, what their
    transactions are drawn from); return the per-year party truth."""
    parties = build_parties(w, p, rngs["customs"])
    cnames = customs_names(w, p, rngs["names"], trad_map)
    years = [year_parties(w, parties, year, cnames) for year in YEARS]
    plan = pl.concat(years)
    truth.mkdir(parents=True, exist_ok=True)
    write_parquet(plan, truth / CUSTOMS_PLAN)
    summary[f"truth/{CUSTOMS_PLAN}"] = plan.height
    return [_party_truth(y) for y in years]


def _party_truth(year: pl.DataFrame) -> pl.DataFrame:
    """The party truth (:data:`TRUTH_COLUMNS`) of one year of the plan, built as it was when
    the years were written in this job (the same columns and chunks, so the same parquet
    row groups and bytes of truth/customs_parties.parquet)."""
    is_m = year["kind"] == "manufacturer"
    m, i = year.filter(is_m), year.filter(~is_m)
    return pl.DataFrame(
        {
            "year": year["year"].to_numpy(),
            "party_code": pl.concat([m["party_code"], i["party_code"]]),
            "true_firm": pl.concat([m["true_firm"], i["true_firm"]]),
            "kind": year["kind"].to_numpy(),
        }
    )


def customs_year_rng(seed: int, year: int) -> np.random.Generator:
    """The random stream of one customs year: child `year` of the customs stream
    (``SeedSequence(seed, spawn_key=(7, year))``), whatever job or order writes the years."""
    key = (STREAMS.index("customs"), int(year))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


def write_customs_file(plan_path: Path, p: dict[str, Any], seed: int, year: int, path: Path) -> int:
    """Write the customs transactions of `year` to `path` (``.parquet``, or ``.csv`` in GBK)
    from the world's customs plan, a chunk of rows at a time; returns the rows written.

    `p` are the resolved parameters (:func:`resolve_params`) the plan was written with."""
    return write_customs_files(plan_path, p, seed, {year: path})[year]


def write_customs_files(
    plan_path: Path, p: dict[str, Any], seed: int, paths: dict[int, Path]
) -> dict[int, int]:
    """:func:`write_customs_file` for several years (year -> path), one after the other, the
    parties' markets drawn once (the same bytes as one call per year); returns the rows
    written per year."""
    scan = pl.scan_parquet(plan_path)
    n_parties = scan.select(pl.col("n_parties").first()).collect().item()
    markets = party_markets(seed, int(n_parties))
    written = {}
    for year, path in paths.items():
        plan = scan.filter(pl.col("year") == year).collect()
        customs = plan_customs_year(p, customs_year_rng(seed, year), year, plan, markets)
        del plan
        written[year] = write_customs_year(customs, Path(path))
    return written


def _write_members(
    w: World,
    p: dict[str, Any],
    rng: np.random.Generator,
    trad_map: dict[str, str],
    raw: Path,
    summary: dict[str, int],
) -> list[pl.DataFrame]:
    """Write the Alibaba and Made-in-China.com member lists; return their truth."""
    truth = []
    for which in ("alibaba", "mic"):
        df, tr = member_list(w, p, rng, which, trad_map)
        write_parquet(df, raw / "members" / f"{which}.parquet")
        summary[f"raw/members/{which}.parquet"] = df.height
        truth.append(tr)
    return truth


def _write_externals(sim: Simulated, raw: Path, summary: dict[str, int]) -> None:
    """Write the city, county, IT, internet and deflator CSV files."""
    externals = {
        "cities": sim.cities.select(
            "city_code", "city_name", "province_code", "province_name", "lon", "lat"
        ),
        "counties": sim.counties.select("county_code", "county_name", "city_code", "lon", "lat"),
        "it_revenue": ex.it_revenue_frame(),
        "internet_ports": sim.ports,
        "it_weights": sim.weights,
        "deflators": sim.deflators,
    }
    for name, df in externals.items():
        df.write_csv(raw / "external" / f"{name}.csv")
        summary[f"raw/external/{name}.csv"] = df.height


def _truth_info(sim: Simulated, p: dict[str, Any], seed: int, preset: str) -> dict[str, Any]:
    """The content of truth/params.json: parameters, planted effects and calibration."""
    w = sim.world
    city_codes = sim.cities["city_code"].to_list()
    am = analysis_mask(w)
    calibration = {
        "adoption": {k: v for k, v in w.extra["adoption"].items() if k != "city_eco"},
        "utilization": w.extra["utilization"],
        "heterogeneity": {
            k: v for k, v in w.extra["heterogeneity"].items() if k != "high_ict_city"
        },
        "analysis_firm_years_before_cleaning": int(am.sum()),
        "platform_share_analysis": float(w.arr["platform"][am].mean()) if am.any() else None,
        "mic_share_analysis": float(w.arr["platform_mic"][am].mean()) if am.any() else None,
    }
    return {
        "seed": int(seed),
        "preset": preset,
        "params": p,
        "elasticities": sim.elasticities,
        "planted_effects": p["effects"],
        "calibration": calibration,
        "city_ecosystem_effect": dict(
            zip(city_codes, w.extra["adoption"]["city_eco"], strict=True)
        ),
        "high_ict_city": dict(
            zip(city_codes, w.extra["heterogeneity"]["high_ict_city"], strict=True)
        ),
        "files": {
            "asif_headers_pinyin_years": [2004],
            "depreciation_blank_years": [2008, 2009, 2010],
        },
    }


def _write_all(
    sim: Simulated,
    p: dict[str, Any],
    rngs: Rngs,
    seed: int,
    preset: str,
    raw: Path,
    truth: Path,
) -> dict[str, int]:
    """Write every raw file into `raw` and the truth into `truth`; return row counts."""
    w = sim.world
    summary: dict[str, int] = {}
    asif_truth = _write_asif(w, p, rngs["asif"], raw, summary)
    trad_map = _traditional_map(sim.cities, sim.counties)
    customs_truth = _write_customs_plan(w, p, rngs, trad_map, truth, summary)
    member_truth = _write_members(w, p, rngs["members"], trad_map, raw, summary)
    _write_externals(sim, raw, summary)
    info = _truth_info(sim, p, seed, preset)
    summary.update(write_truth(w, p, truth, asif_truth, customs_truth, member_truth, info))
    return summary


def _write_world(
    p: dict[str, Any],
    seed: int,
    preset: str,
    raw_tmp: Path,
    truth_tmp: Path,
    customs: bool,
    csv_years: Iterable[int],
) -> dict[str, int]:
    """Simulate and write the world into the temporary directories (and, with `customs`,
    every customs year from its plan: parquet, GBK CSV for `csv_years`)."""
    rngs = streams(seed)
    sim = simulate(p, seed, rngs)
    for sub in WORLD_DIRS:
        (raw_tmp / sub).mkdir(parents=True)
    summary = _write_all(sim, p, rngs, seed, preset, raw_tmp, truth_tmp)
    del sim
    if customs:
        (raw_tmp / "customs").mkdir()
        names = {
            y: f"customs/customs_{y}.{'csv' if y in set(csv_years) else 'parquet'}" for y in YEARS
        }
        paths = {y: raw_tmp / name for y, name in names.items()}
        for y, n in write_customs_files(truth_tmp / CUSTOMS_PLAN, p, seed, paths).items():
            summary[f"raw/{names[y]}"] = n
    return summary


def generate(
    params: dict[str, Any] | None,
    preset: str,
    seed: int,
    raw_dir: Path,
    truth_dir: Path,
    customs: bool = True,
    csv_years: Iterable[int] = (),
) -> dict[str, int]:
    """Simulate the world and write raw files to `raw_dir` and the truth to `truth_dir`.

    `params` is the (possibly partial) `synthetic` config block; missing keys take the
    defaults of :mod:`cbec.synth.params`. With ``customs=False`` the customs years are not
    written (the workflow writes them one job per year, :func:`write_customs_file`, from the
    plan in `truth_dir`) and `raw_dir`/customs is left as it is; `csv_years` are written as
    GBK CSV (the workflow's ``synthetic.customs.csv_years``), the other years as parquet. Files are written to
    temporary sibling directories and renamed at the end. Returns the number of rows
    written per file."""
    raw_dir, truth_dir = Path(raw_dir), Path(truth_dir)
    p = resolve_params(params, preset)
    raw_tmp, truth_tmp = _tmp_sibling(raw_dir), _tmp_sibling(truth_dir)
    for d in (raw_tmp, truth_tmp):
        if d.exists():
            shutil.rmtree(d)
    try:
        summary = _write_world(p, seed, preset, raw_tmp, truth_tmp, customs, csv_years)
    except BaseException:
        shutil.rmtree(raw_tmp, ignore_errors=True)
        shutil.rmtree(truth_tmp, ignore_errors=True)
        raise
    raw_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.parent.mkdir(parents=True, exist_ok=True)
    for sub in WORLD_DIRS + (("customs",) if customs else ()):
        _swap_in(raw_tmp / sub, raw_dir / sub)
    raw_tmp.rmdir()
    _swap_in(truth_tmp, truth_dir)
    return summary

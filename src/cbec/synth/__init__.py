"""Synthetic world with known truth (see docs/synthetic_world.md).

Entry point: :func:`generate`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from . import external as ex
from . import names as nm
from .adoption import analysis_mask, simulate_adoption
from .customs import build_parties, customs_names, customs_year
from .firms import simulate_firms
from .geography import load_geography
from .members import member_list
from .params import DEFAULTS, PRESETS, YEARS, resolve_params
from .production import heterogeneity, simulate_production, simulate_utilization
from .writer import asif_year, write_parquet, write_truth

__all__ = ["generate", "resolve_params", "DEFAULTS", "PRESETS"]

# fixed order of the random streams (SeedSequence(seed).spawn)
STREAMS = [
    "geography", "firms", "external", "adoption", "utilization", "production",
    "asif", "customs", "members", "names",
]  # fmt: skip


def _tmp_sibling(d: Path) -> Path:
    return d.parent / f".{d.name}.tmp-{os.getpid()}"


def _swap_in(tmp: Path, final: Path) -> None:
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)


def generate(
    params: dict[str, Any] | None, preset: str, seed: int, raw_dir: Path, truth_dir: Path
) -> dict[str, int]:
    """Simulate the world and write raw files to `raw_dir` and the truth to `truth_dir`.

    `params` is the (possibly partial) `synthetic` config block; missing keys take the
    defaults of :mod:`cbec.synth.params`. Files are written to temporary sibling
    directories and renamed at the end. Returns the number of rows written per file."""
    raw_dir, truth_dir = Path(raw_dir), Path(truth_dir)
    p = resolve_params(params, preset)
    rngs = dict(
        zip(
            STREAMS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(STREAMS))),
            strict=True,
        )
    )
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

    raw_tmp, truth_tmp = _tmp_sibling(raw_dir), _tmp_sibling(truth_dir)
    for d in (raw_tmp, truth_tmp):
        if d.exists():
            shutil.rmtree(d)
    for sub in ("asif", "customs", "members", "external"):
        (raw_tmp / sub).mkdir(parents=True)
    summary: dict[str, int] = {}
    try:
        asif_truth = []
        for year in YEARS:
            raw, tr = asif_year(w, p, rngs["asif"], year)
            write_parquet(raw, raw_tmp / "asif" / f"asif_{year}.parquet")
            summary[f"raw/asif/asif_{year}.parquet"] = raw.height
            asif_truth.append(tr)
        trad_pool = (
            [nm.CORE_CHARS, "中国()分公司"]
            + [x[0] for v in nm.INDUSTRY_WORDS.values() for x in v]
            + nm.SUFFIXES
            + nm.TRADE_WORDS
            + cities["city_name"].to_list()
            + counties["county_name"].to_list()
        )
        trad_map = nm.traditional_map(trad_pool)
        parties = build_parties(w, p, rngs["customs"])
        cnames = customs_names(w, p, rngs["names"], trad_map)
        customs_truth = []
        for year in YEARS:
            rows, tr = customs_year(w, p, rngs["customs"], parties, year, cnames)
            write_parquet(rows, raw_tmp / "customs" / f"customs_{year}.parquet")
            summary[f"raw/customs/customs_{year}.parquet"] = rows.height
            customs_truth.append(tr)
        member_truth = []
        for which in ("alibaba", "mic"):
            raw, tr = member_list(w, p, rngs["members"], which, trad_map)
            write_parquet(raw, raw_tmp / "members" / f"{which}.parquet")
            summary[f"raw/members/{which}.parquet"] = raw.height
            member_truth.append(tr)
        externals = {
            "cities": cities.select(
                "city_code", "city_name", "province_code", "province_name", "lon", "lat"
            ),
            "counties": counties.select("county_code", "county_name", "city_code", "lon", "lat"),
            "it_revenue": ex.it_revenue_frame(),
            "internet_ports": ports,
            "it_weights": weights,
            "deflators": defl,
        }
        for name, df in externals.items():
            df.write_csv(raw_tmp / "external" / f"{name}.csv")
            summary[f"raw/external/{name}.csv"] = df.height
        am = analysis_mask(w)
        info = {
            "seed": int(seed),
            "preset": preset,
            "params": p,
            "elasticities": elasticities,
            "planted_effects": p["effects"],
            "calibration": {
                "adoption": {k: v for k, v in w.extra["adoption"].items() if k != "city_eco"},
                "utilization": w.extra["utilization"],
                "heterogeneity": {
                    k: v for k, v in w.extra["heterogeneity"].items() if k != "high_ict_city"
                },
                "analysis_firm_years_before_cleaning": int(am.sum()),
                "platform_share_analysis": float(w.arr["platform"][am].mean())
                if am.any()
                else None,
                "mic_share_analysis": float(w.arr["platform_mic"][am].mean()) if am.any() else None,
            },
            "city_ecosystem_effect": dict(
                zip(cities["city_code"].to_list(), w.extra["adoption"]["city_eco"], strict=True)
            ),
            "high_ict_city": dict(
                zip(
                    cities["city_code"].to_list(),
                    w.extra["heterogeneity"]["high_ict_city"],
                    strict=True,
                )
            ),
            "files": {
                "asif_headers_pinyin_years": [2004],
                "depreciation_blank_years": [2008, 2009, 2010],
            },
        }
        summary.update(write_truth(w, p, truth_tmp, asif_truth, customs_truth, member_truth, info))
    except BaseException:
        shutil.rmtree(raw_tmp, ignore_errors=True)
        shutil.rmtree(truth_tmp, ignore_errors=True)
        raise
    raw_dir.parent.mkdir(parents=True, exist_ok=True)
    truth_dir.parent.mkdir(parents=True, exist_ok=True)
    _swap_in(raw_tmp, raw_dir)
    _swap_in(truth_tmp, truth_dir)
    return summary

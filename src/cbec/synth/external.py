"""External series: national IT service revenue, internet ports, IT weights, deflators."""

from __future__ import annotations

import numpy as np
import polars as pl

from .params import INDUSTRIES, YEARS

# National software and IT service revenue, 100 million yuan (stylised after MIIT figures),
# 2000..2024 (the IV uses year t-1; joins are simulated until the 2024 scrape).
IT_REVENUE = {
    2000: 593, 2001: 750, 2002: 1100, 2003: 1633, 2004: 2405, 2005: 3900, 2006: 4801,
    2007: 5834, 2008: 7573, 2009: 9513, 2010: 13364, 2011: 18468, 2012: 24794,
    2013: 30587, 2014: 37026, 2015: 42848, 2016: 48232, 2017: 55103, 2018: 61909,
    2019: 71768, 2020: 81616, 2021: 94994, 2022: 108126, 2023: 123258, 2024: 137276,
}  # fmt: skip

# USD/CNY yearly average
FX = {
    2001: 8.277, 2002: 8.277, 2003: 8.277, 2004: 8.277, 2005: 8.192, 2006: 7.972,
    2007: 7.604, 2008: 6.945, 2009: 6.831, 2010: 6.770, 2011: 6.459, 2012: 6.312,
    2013: 6.193, 2014: 6.143, 2015: 6.228,
}  # fmt: skip


def it_revenue_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {"year": list(IT_REVENUE), "it_revenue": [float(v) for v in IT_REVENUE.values()]}
    )


def deflators(rng: np.random.Generator) -> pl.DataFrame:
    """Industry output/input deflators (2001 = 1) and investment-goods deflator (ind2 = K)."""
    T = len(YEARS)
    n = len(INDUSTRIES)
    common = rng.normal(0.015, 0.025, T)
    g_out = common[None, :] + rng.normal(0.0, 0.03, (n, T))
    g_in = common[None, :] + 0.005 + rng.normal(0.0, 0.025, (n, T))
    g_out[:, 0] = 0.0
    g_in[:, 0] = 0.0
    out = np.exp(np.cumsum(g_out, axis=1))
    inp = np.exp(np.cumsum(g_in, axis=1))
    gk = rng.normal(0.012, 0.01, T)
    gk[0] = 0.0
    kdef = np.exp(np.cumsum(gk))
    ind = pl.DataFrame(
        {
            "ind2": np.repeat(INDUSTRIES, T),
            "year": np.tile(YEARS, n),
            "output_deflator": out.ravel().round(6),
            "input_deflator": inp.ravel().round(6),
        }
    )
    k = pl.DataFrame(
        {
            "ind2": ["K"] * T,
            "year": YEARS,
            "output_deflator": kdef.round(6),
            "input_deflator": kdef.round(6),
        }
    )
    return pl.concat([ind, k])


def internet_ports(rng: np.random.Generator, cities: pl.DataFrame) -> pl.DataFrame:
    """Province x year internet broadband ports (10k ports)."""
    provs = cities["province_code"].unique().sort().to_list()
    national = np.exp(np.linspace(np.log(1000.0), np.log(57000.0), len(YEARS)))
    w = cities.group_by("province_code").agg(pl.col("weight").sum()).sort("province_code")
    base = w["weight"].to_numpy() ** 0.6
    base = base / base.sum()
    lvl = base[:, None] * national[None, :] * np.exp(rng.normal(0, 0.15, (len(provs), 1)))
    lvl = lvl * np.exp(np.cumsum(rng.normal(0, 0.04, lvl.shape), axis=1))
    return pl.DataFrame(
        {
            "province_code": np.repeat(provs, len(YEARS)),
            "year": np.tile(YEARS, len(provs)),
            "ports": lvl.ravel().round(2),
        }
    )


def it_weights(rng: np.random.Generator, cities: pl.DataFrame) -> pl.DataFrame:
    """City x industry IT-investment weights; within a province they sum to one."""
    n = cities.height
    k = len(INDUSTRIES)
    city_lvl = cities["weight"].to_numpy() ** 0.8 * np.exp(rng.normal(0, 0.5, n))
    w = city_lvl[:, None] * rng.gamma(2.0, 1.0, (n, k))
    prov = cities["province_code"].to_numpy()
    tot = pl.DataFrame({"p": prov, "s": w.sum(axis=1)}).group_by("p").agg(pl.col("s").sum())
    denom = dict(zip(tot["p"].to_list(), tot["s"].to_list(), strict=True))
    w = w / np.array([denom[x] for x in prov])[:, None]
    return pl.DataFrame(
        {
            "city_code": np.repeat(cities["city_code"].to_numpy(), k),
            "ind2": np.tile(INDUSTRIES, n),
            "weight": w.ravel().round(8),
        }
    )


def city_ict(ports: pl.DataFrame, weights: pl.DataFrame, cities: pl.DataFrame) -> np.ndarray:
    """ICT infrastructure index per city and year: province ports x city's IT weight."""
    wc = weights.group_by("city_code").agg(pl.col("weight").sum())
    df = (
        cities.select("city_code", "province_code", "city_idx")
        .join(wc, on="city_code", how="left")
        .join(ports, on="province_code", how="left")
        .sort("city_idx", "year")
    )
    return (df["weight"] * df["ports"]).to_numpy().reshape(cities.height, len(YEARS))

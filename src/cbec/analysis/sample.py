"""The analysis sample: the paper's population, years, winsorizing, instruments, dummies."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1: pl.Expr, lat1: pl.Expr, lon2: float, lat2: float) -> pl.Expr:
    """Great-circle distance in km from each (lon1, lat1) to one point."""
    rad = math.pi / 180
    dlat = (lat1 - lat2) * rad / 2
    dlon = (lon1 - lon2) * rad / 2
    a = dlat.sin() ** 2 + (lat1 * rad).cos() * math.cos(lat2 * rad) * dlon.sin() ** 2
    return 2 * EARTH_RADIUS_KM * a.sqrt().arcsin()


def city_distance(cities: pl.DataFrame, hub_code: str, hub_internal_km: float) -> pl.DataFrame:
    """Distance of every city to the hub city (Hangzhou); the hub itself gets its internal distance.

    A firm in Hangzhou would otherwise have distance 0 and an infinite instrument. Following
    Head & Mayer's internal distance, d_ii = 0.67 * sqrt(area / pi), Hangzhou (16,850 km²)
    is about 49 km from itself; the value is ``hub_internal_km`` in config.yaml.
    """
    hub = cities.filter(pl.col("city_code") == hub_code)
    if hub.height != 1:
        raise ValueError(f"hub city {hub_code} not found in the city list")
    lon, lat = hub["lon"][0], hub["lat"][0]
    d = haversine_km(pl.col("lon"), pl.col("lat"), lon, lat)
    return cities.select(
        "city_code",
        pl.when(pl.col("city_code") == hub_code)
        .then(pl.lit(hub_internal_km))
        .otherwise(pl.max_horizontal(d, pl.lit(hub_internal_km)))
        .alias("dist_hangzhou_km"),
    )


def iv_distance(
    df: pl.DataFrame, dist: pl.DataFrame, it_revenue: pl.DataFrame
) -> pl.DataFrame:
    """iv_dist = (100 km / distance to Hangzhou) × national IT service revenue in t−1 (trillion yuan)."""
    lag = it_revenue.select(
        (pl.col("year") + 1).alias("year"), (pl.col("it_revenue") / 10_000).alias("_it_lag")
    )
    out = df.join(dist, on="city_code", how="left").join(lag, on="year", how="left")
    return out.with_columns(
        (100 / pl.col("dist_hangzhou_km") * pl.col("_it_lag")).alias("iv_dist")
    ).drop("_it_lag")


def iv_bartik(df: pl.DataFrame, panel: pl.DataFrame, base_year: int) -> pl.DataFrame:
    """Bartik: city's base-year share of platform firms × growth of the city's platform firm count.

    Counts come from the whole panel (every firm, not only the sample): n_ct = platform firms in
    city c in year t. share_c = n_c,base / Σ_c n_c,base; growth_ct = ln(1 + n_ct) − ln(1 + n_c,t−1).
    """
    counts = panel.group_by(["city_code", "year"]).agg(pl.col("platform").sum().alias("n"))
    base = counts.filter(pl.col("year") == base_year)
    total = base["n"].sum()
    if total == 0:
        raise ValueError(f"no platform firm in the base year {base_year}: the Bartik share is undefined")
    share = base.select("city_code", (pl.col("n") / total).alias("_share"))
    grid = counts.sort(["city_code", "year"]).with_columns(
        ((pl.col("n") + 1).log() - (pl.col("n").shift(1).over("city_code") + 1).log()).alias("_g"),
        (pl.col("year") - pl.col("year").shift(1).over("city_code")).alias("_gap"),
    )
    grid = grid.with_columns(pl.when(pl.col("_gap") == 1).then(pl.col("_g")).alias("_g"))
    out = df.join(grid.select("city_code", "year", "_g"), on=["city_code", "year"], how="left")
    out = out.join(share, on="city_code", how="left")
    return out.with_columns(
        (pl.col("_share").fill_null(0) * pl.col("_g")).alias("iv_bartik")
    ).drop("_g", "_share")


def ict_infrastructure(
    ports: pl.DataFrame, weights: pl.DataFrame, cities: pl.DataFrame
) -> pl.DataFrame:
    """City × industry × year ICT infrastructure: province ports apportioned by IT weights.

    ict_cjt = ports_pt × w_cj / Σ_{c' ∈ p} w_c'j (Shen et al. 2023, as in the paper's Table 7).
    """
    w = weights.join(cities.select("city_code", "province_code"), on="city_code", how="inner")
    w = w.with_columns(
        (pl.col("weight") / pl.col("weight").sum().over(["province_code", "ind2"])).alias("_w")
    )
    return w.join(ports, on="province_code", how="inner").select(
        "city_code", "ind2", "year", (pl.col("ports") * pl.col("_w")).alias("ict")
    )


def winsorize(df: pl.DataFrame, cols: list[str], lower: float, upper: float) -> pl.DataFrame:
    """Clip each column at its ``lower`` and ``upper`` quantiles (computed on non-null values)."""
    exprs = []
    for c in cols:
        if c not in df.columns:
            continue
        vals = df[c].drop_nulls().drop_nans() if df[c].dtype.is_float() else df[c].drop_nulls()
        if vals.len() == 0:
            continue
        lo, hi = np.quantile(vals.to_numpy(), [lower, upper])
        exprs.append(pl.col(c).clip(float(lo), float(hi)))
    return df.with_columns(exprs) if exprs else df


def heterogeneity_dummies(df: pl.DataFrame) -> pl.DataFrame:
    """sfhighict (ICT above the median), sfold (tenure above the members' median), sfhighscore
    (rating above the members' mean); members without a rating get a null sfhighscore."""
    ict_med = df["ict"].median()
    members = df.filter(pl.col("ever_platform") == 1).unique("firm_id")
    ten_med = members["member_years"].median()
    score_mean = members["rating"].mean()
    return df.with_columns(
        (pl.col("ict") > ict_med).cast(pl.Int8).alias("sfhighict"),
        pl.when(pl.col("ever_platform") == 1)
        .then((pl.col("member_years") > ten_med).cast(pl.Int8))
        .otherwise(0)
        .cast(pl.Int8)
        .alias("sfold"),
        pl.when(pl.col("ever_platform") == 0)
        .then(0)
        .when(pl.col("rating").is_not_null())
        .then((pl.col("rating") > score_mean).cast(pl.Int8))
        .cast(pl.Int8)
        .alias("sfhighscore"),
    )


def _attrition_row(step: int, reason: str, rows: int) -> dict:
    return {"stage": "analysis_sample", "year": None, "step": step, "reason": reason, "rows": rows}


def build_sample(
    panel: pl.DataFrame,
    tfp: pl.DataFrame,
    cu: pl.DataFrame,
    *,
    cities: pl.DataFrame,
    it_revenue: pl.DataFrame,
    ports: pl.DataFrame,
    it_weights: pl.DataFrame,
    cfg: dict,
    years: list[int],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The paper's analysis sample and its attrition table.

    Steps, each counted: the population (``customs_firms``: firms matched to customs in any
    year, as the paper merges customs and ASIF before the platform data; ``customs_firm_years``;
    or ``all``), the analysis years (2008–2010 have no depreciation, hence no CU), and
    firm-years without a measured CU. Then winsorizing, instruments and dummies.
    """
    df = panel.join(tfp, on=["firm_id", "year"], how="left").join(
        cu, on=["firm_id", "year"], how="left"
    )
    # instruments and ICT use every firm-year of the panel (city counts, lags)
    df = iv_distance(
        df, city_distance(cities, cfg["hub_city"], cfg["hub_internal_km"]), it_revenue
    )
    df = iv_bartik(df, panel, cfg["bartik_base_year"])
    ict = ict_infrastructure(ports, it_weights, cities)
    df = df.join(ict, on=["city_code", "ind2", "year"], how="left")

    rows = [_attrition_row(0, "read", df.height)]
    pop = cfg["population"]
    if pop == "customs_firms":
        keep = pl.col("firm_id").is_in(
            df.filter(pl.col("customs_matched") == 1)["firm_id"].unique().implode()
        )
    elif pop == "customs_firm_years":
        keep = pl.col("customs_matched") == 1
    else:
        keep = pl.lit(True)
    steps = [
        (f"not in the population ({pop})", keep),
        ("outside the analysis years", pl.col("year").is_in(years)),
        ("capacity utilization not measured", pl.col("cu").is_not_null()),
    ]
    for i, (reason, cond) in enumerate(steps, start=1):
        before = df.height
        df = df.filter(cond)
        rows.append(_attrition_row(i, reason, before - df.height))
    rows.append(_attrition_row(len(steps) + 1, "kept", df.height))

    lo, hi = cfg["winsorize"]
    df = winsorize(df, cfg["winsorize_vars"], lo, hi)
    df = heterogeneity_dummies(df)
    attrition = pl.DataFrame(
        rows,
        schema={
            "stage": pl.String,
            "year": pl.Int64,
            "step": pl.Int64,
            "reason": pl.String,
            "rows": pl.Int64,
        },
    )
    return df.sort(["firm_id", "year"]), attrition

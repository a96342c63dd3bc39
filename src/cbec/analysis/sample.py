"""The analysis sample: the paper's population, years, winsorizing, instruments, dummies."""

from __future__ import annotations

import logging
import math

import numpy as np
import polars as pl

from cbec.analysis.psm import industry_concentration_table

log = logging.getLogger("cbec.analysis.sample")

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1: pl.Expr, lat1: pl.Expr, lon2: float, lat2: float) -> pl.Expr:
    """Great-circle distance in km from each (lon1, lat1) to one point."""
    rad = math.pi / 180
    dlat = (lat1 - lat2) * rad / 2
    dlon = (lon1 - lon2) * rad / 2
    a = dlat.sin() ** 2 + (lat1 * rad).cos() * math.cos(lat2 * rad) * dlon.sin() ** 2
    return 2 * EARTH_RADIUS_KM * a.sqrt().arcsin()


def location_distance(
    cities: pl.DataFrame,
    counties: pl.DataFrame,
    hub_code: str,
    hub_internal_km: float,
) -> pl.DataFrame:
    """Distance to the hub city (Hangzhou) of every county (6-digit region) and city.

    Counties carry their own coordinates, so the instrument varies within a city and is not
    absorbed by the city × year fixed effects. A location closer to the hub's centre than its
    internal distance gets that internal distance: a firm in Hangzhou would otherwise have a
    distance near 0 and an unbounded instrument. Following Head & Mayer, d_ii = 0.67·sqrt(area/π)
    (Hangzhou, 16,850 km²: about 49 km, ``hub_internal_km`` in config.yaml). Returns
    region_code, city_code, dist_hangzhou_km (county rows, plus one city row each with
    region_code null as the fallback for codes not in the county list).
    """
    hub = cities.filter(pl.col("city_code") == hub_code)
    if hub.height != 1:
        raise ValueError(f"hub city {hub_code} not found in the city list")
    lon, lat = hub["lon"][0], hub["lat"][0]
    d = pl.max_horizontal(haversine_km(pl.col("lon"), pl.col("lat"), lon, lat), hub_internal_km)
    c = counties.select(
        pl.col("county_code").alias("region_code"), "city_code", d.alias("dist_hangzhou_km")
    )
    ci = cities.select(
        pl.lit(None, dtype=pl.String).alias("region_code"), "city_code", d.alias("dist_hangzhou_km")
    )
    return pl.concat([c, ci])


def iv_distance(df: pl.DataFrame, dist: pl.DataFrame, it_revenue: pl.DataFrame) -> pl.DataFrame:
    """iv_dist = (100 km / distance to Hangzhou) × national IT service revenue in t−1 (trillion yuan).

    Distance of the firm's county; the city centre where the county code is unknown.
    """
    lag = it_revenue.select(
        (pl.col("year") + 1).alias("year"), (pl.col("it_revenue") / 10_000).alias("_it_lag")
    )
    county = dist.filter(pl.col("region_code").is_not_null()).select(
        "region_code", pl.col("dist_hangzhou_km").alias("_dc")
    )
    city = dist.filter(pl.col("region_code").is_null()).select(
        "city_code", pl.col("dist_hangzhou_km").alias("_dcity")
    )
    out = (
        df.join(county, on="region_code", how="left")
        .join(city, on="city_code", how="left")
        .with_columns(pl.coalesce("_dc", "_dcity").alias("dist_hangzhou_km"))
        .drop("_dc", "_dcity")
        .join(lag, on="year", how="left")
    )
    return out.with_columns(
        (100 / pl.col("dist_hangzhou_km") * pl.col("_it_lag")).alias("iv_dist")
    ).drop("_it_lag")


def iv_bartik(
    df: pl.DataFrame, panel: pl.DataFrame, base_year: int, level: str = "region_code"
) -> pl.DataFrame:
    """Bartik: a location's base-year share of platform firms × growth of its platform firms.

    The paper's propo_c,2001 × Δpropo_ct, computed from the whole panel (every firm, not only
    the sample) and leaving the firm itself out: n_lt(−i) = platform firms in location l in
    year t other than i; share_l(−i) = n_l,base(−i) / Σ_l n_l,base; growth_lt(−i) =
    ln(1 + n_lt(−i)) − ln(1 + n_l,t−1(−i)). Without the leave-one-out, a firm's own adoption
    moves its location's count (mechanically so in small locations) and the instrument is
    endogenous by construction. ``level`` is the location: ``region_code`` (county, default)
    or ``city_code``; at the city level the instrument varies only by city × year and is
    absorbed by the paper's city × year fixed effects.
    """
    counts = panel.group_by([level, "year"]).agg(pl.col("platform").sum().alias("n"))
    total = counts.filter(pl.col("year") == base_year)["n"].sum()
    if total == 0:
        # a small panel (or a sub-sample) may have no member in the base year: the shares are
        # undefined, the instrument is missing and the 2SLS column reports "not estimated"
        log.warning(
            "no platform firm in the Bartik base year %d: the shares are undefined, "
            "iv_bartik is missing for every firm-year",
            base_year,
        )
        return df.with_columns(pl.lit(None, dtype=pl.Float64).alias("iv_bartik"))
    own = panel.select(
        "firm_id",
        "year",
        pl.col("platform").alias("_own"),
        pl.col("platform").shift(1).over("firm_id", order_by="year").alias("_own_prev"),
        pl.col("year").shift(1).over("firm_id", order_by="year").alias("_year_prev"),
    )
    base_own = panel.filter(pl.col("year") == base_year).select(
        "firm_id", pl.col("platform").alias("_own_base")
    )
    prev = counts.select(level, (pl.col("year") + 1).alias("year"), pl.col("n").alias("_n_prev"))
    base = counts.filter(pl.col("year") == base_year).select(level, pl.col("n").alias("_n_base"))
    out = (
        df.join(counts, on=[level, "year"], how="left")
        .join(prev, on=[level, "year"], how="left")
        .join(base, on=level, how="left")
        .join(own, on=["firm_id", "year"], how="left")
        .join(base_own, on="firm_id", how="left")
    )
    own_prev = pl.when(pl.col("_year_prev") == pl.col("year") - 1).then(pl.col("_own_prev"))
    n_now = pl.col("n") - pl.col("_own").fill_null(0)
    n_prev = pl.col("_n_prev") - own_prev.fill_null(0)
    share = (pl.col("_n_base").fill_null(0) - pl.col("_own_base").fill_null(0)) / total
    growth = (n_now + 1).log() - (n_prev + 1).log()
    return out.with_columns((share * growth).alias("iv_bartik")).drop(
        "n", "_n_prev", "_n_base", "_own", "_own_prev", "_year_prev", "_own_base"
    )


def ict_infrastructure(
    ports: pl.DataFrame, weights: pl.DataFrame, cities: pl.DataFrame
) -> pl.DataFrame:
    """City × year ICT infrastructure: province internet ports apportioned to cities.

    The paper (Table 7, after Shen et al. 2023) uses city × 2-digit-industry IT investment
    weights as exogenous weights to split each province's internet ports among its cities:
    ict_ct = ports_pt × Σ_j w_cj / Σ_{c' ∈ p} Σ_j w_c'j.
    """
    # sums over sorted values: polars' parallel group sums add in a varying order, which
    # changed `ict` in the 13th digit between identical runs
    w = (
        weights.join(cities.select("city_code", "province_code"), on="city_code", how="inner")
        .group_by(["province_code", "city_code"])
        .agg(pl.col("weight").sort().sum())
    )
    total = w.group_by("province_code").agg(pl.col("weight").sort().sum().alias("_total"))
    return (
        w.join(total, on="province_code")
        .join(ports, on="province_code", how="inner")
        .select(
            "city_code",
            "year",
            (pl.col("ports") * (pl.col("weight") / pl.col("_total"))).alias("ict"),
        )
        .sort(["city_code", "year"])
    )


def winsorize(df: pl.DataFrame, cols: list[str], lower: float, upper: float) -> pl.DataFrame:
    """Clip each column at its ``lower`` and ``upper`` quantiles (computed on finite values).

    NaN and +-inf are missing values, not extremes: they become null (and are logged with
    their count), never clipped to a quantile.
    """
    exprs = []
    for c in cols:
        if c not in df.columns:
            continue
        col = df[c]
        if col.dtype.is_float():
            bad = col.is_not_null() & ~col.is_finite()
            if bad.any():
                log.warning("%s: %d NaN or infinite value(s) treated as missing", c, int(bad.sum()))
                col = col.set(bad, None)
        vals = col.drop_nulls()
        if vals.len() == 0:
            exprs.append(col.alias(c))
            continue
        lo, hi = np.quantile(vals.to_numpy(), [lower, upper])
        exprs.append(col.clip(float(lo), float(hi)).alias(c))
    return df.with_columns(exprs) if exprs else df


def heterogeneity_dummies(df: pl.DataFrame, years: list[int]) -> pl.DataFrame:
    """The dummies of Table 7.

    sfhighict: the city's ICT infrastructure (averaged over the analysis years) above its
    median over the sample's firm-years. sfold: membership tenure ("N YRS" at the scrape)
    above the median of the firms treated in the sample (the platform's "first movers").
    sfhighscore: rating above the mean rating of the treated firms with a rating; null for
    treated firms without one (Table 7 column 3 uses only firms with a rating and the
    never-treated firms).
    """
    city_ict = (
        df.filter(pl.col("year").is_in(years))
        .group_by("city_code")
        .agg(pl.col("ict").mean().alias("_ict_city"))
    )
    df = df.join(city_ict, on="city_code", how="left")
    ict_med = df["_ict_city"].median()
    treated = df.filter(pl.col("platform") == 1).unique("firm_id")
    ten_med = treated["member_years"].median()
    score_mean = treated["rating"].mean()
    ever = pl.col("firm_id").is_in(treated["firm_id"].implode())
    return df.with_columns(
        (pl.col("_ict_city") > ict_med).cast(pl.Int8).alias("sfhighict"),
        pl.when(ever)
        .then((pl.col("member_years") > ten_med).cast(pl.Int8))
        .otherwise(0)
        .cast(pl.Int8)
        .alias("sfold"),
        pl.when(~ever)
        .then(0)
        .when(pl.col("rating").is_not_null())
        .then((pl.col("rating") > score_mean).cast(pl.Int8))
        .cast(pl.Int8)
        .alias("sfhighscore"),
    ).drop("_ict_city")


# columns of the narrow frame that come from the panel itself (not added to the sample)
_KEY_COLUMNS = ["_row", "firm_id", "year", "region_code", "city_code", "ind2", "customs_matched"]


def _attrition_row(step: int, reason: str, rows: int) -> dict:
    return {"stage": "analysis_sample", "year": None, "step": step, "reason": reason, "rows": rows}


def _population(keys: pl.DataFrame, pop: str) -> pl.Expr:
    """Row condition of the population ``pop`` (see :func:`build_sample`)."""
    if pop == "customs_firms":
        return pl.col("firm_id").is_in(
            keys.filter(pl.col("customs_matched") == 1)["firm_id"].unique().implode()
        )
    if pop == "customs_firm_years":
        return pl.col("customs_matched") == 1
    return pl.lit(True)


def _kept_rows(keys: pl.DataFrame, pop: str, years: list[int]) -> tuple[pl.DataFrame, list[dict]]:
    """The rows of ``keys`` in the sample (panel order) and the attrition rows of each step."""
    rows = [_attrition_row(0, "read", keys.height)]
    steps = [
        (f"not in the population ({pop})", _population(keys, pop)),
        ("outside the analysis years", pl.col("year").is_in(years)),
        ("capacity utilization not measured", pl.col("cu").is_not_null()),
    ]
    for i, (reason, cond) in enumerate(steps, start=1):
        before = keys.height
        keys = keys.filter(cond)
        rows.append(_attrition_row(i, reason, before - keys.height))
    rows.append(_attrition_row(len(steps) + 1, "kept", keys.height))
    return keys, rows


def _narrow_columns(cfg: dict) -> list[str]:
    """Panel columns the instruments, ``ind_conc`` and the population filter read."""
    cols = ["firm_id", "year", "region_code", "city_code", "ind2", "platform"]
    return list(dict.fromkeys([*cols, "customs_matched", "sales", cfg["bartik_level"]]))


def build_sample(
    panel: pl.LazyFrame | pl.DataFrame,
    tfp: pl.LazyFrame | pl.DataFrame,
    cu: pl.LazyFrame | pl.DataFrame,
    *,
    cities: pl.DataFrame,
    counties: pl.DataFrame,
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
    firm-years without a measured CU. Then winsorizing, instruments and dummies. The
    instruments and ``ind_conc`` (Table 4) are computed on the whole panel first.

    Memory: the instruments, TFP, CU and the filters are computed on a narrow frame (the few
    panel columns they read, every firm-year); the wide panel (all columns) is then read only
    for the kept rows (a streaming scan when ``panel`` is a ``scan_parquet``) and the new
    columns are put beside it, in panel row order: the same frame as joining the whole wide
    panel first, without its copies.
    """
    panel, tfp, cu = panel.lazy(), tfp.lazy(), cu.lazy()
    narrow = panel.select(_narrow_columns(cfg)).collect()
    keys = (
        narrow.select("firm_id", "year", "region_code", "city_code", "ind2", "customs_matched")
        .with_row_index("_row")
        .join(tfp.collect(), on=["firm_id", "year"], how="left")
        .join(cu.collect(), on=["firm_id", "year"], how="left")
    )
    # instruments and ICT use every firm-year of the panel (city counts, lags)
    dist = location_distance(cities, counties, cfg["hub_city"], cfg["hub_internal_km"])
    keys = iv_distance(keys, dist, it_revenue)
    keys = iv_bartik(keys, narrow, cfg["bartik_base_year"], cfg["bartik_level"])
    keys = keys.join(
        ict_infrastructure(ports, it_weights, cities), on=["city_code", "year"], how="left"
    )
    # Table 4's industry concentration: on the whole cleaned ASIF industry x year (the panel)
    keys = keys.join(industry_concentration_table(narrow), on=["ind2", "year"], how="left")
    del narrow
    keys, rows = _kept_rows(keys, cfg["population"], years)
    wide = (
        panel.with_row_index("_row")
        .filter(pl.col("_row").is_in(keys["_row"].implode()))
        .drop("_row")
        .collect(engine="streaming")
    )
    added = keys.drop(_KEY_COLUMNS)
    clash = set(added.columns) & set(wide.columns)
    if clash:
        raise ValueError(f"panel already has the sample's added columns {sorted(clash)}")
    df = pl.concat([wide, added], how="horizontal")
    del wide, added, keys
    lo, hi = cfg["winsorize"]
    df = winsorize(df, cfg["winsorize_vars"], lo, hi)
    df = heterogeneity_dummies(df, years)
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

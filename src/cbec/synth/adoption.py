"""Staggered, absorbing platform adoption (Alibaba International Station, Made-in-China)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .external import IT_REVENUE
from .firms import World
from .params import ANALYSIS_EXCLUDED, YEARS


def analysis_mask(w: World) -> np.ndarray:
    """(n, T) firm-years of the paper's analysis sample (before cleaning): ASIF rows of
    direct exporters outside 2008-2010."""
    keep = ~np.isin(np.array(YEARS), ANALYSIS_EXCLUDED)
    return w.in_asif & w.firm["exporter"][:, None] & keep[None, :]


def _simulate(
    log_h0: float,
    city: np.ndarray,
    ncity: int,
    unif: np.ndarray,
    elig: np.ndarray,
    lin: np.ndarray,
    trend: float,
    gamma_eco: float,
) -> np.ndarray:
    """Join year index (0 = 2001, ..., -1 never) for exporters with a baseline hazard
    exp(log_h0); `city` holds the exporters' cities (ecosystem = city's member share)."""
    n, text = unif.shape
    exp_city = np.bincount(city, minlength=ncity).astype(float)
    joined = np.zeros(n, dtype=bool)
    join_t = np.full(n, -1, dtype=np.int64)
    for t in range(text):
        if gamma_eco != 0:
            members = np.bincount(city, weights=joined.astype(float), minlength=ncity)
            eco = np.where(exp_city > 0, members / np.maximum(exp_city, 1), 0.0)[city]
        else:
            eco = 0.0
        h = 1 - np.exp(-np.exp(log_h0 + trend * t + lin[:, t] + gamma_eco * eco))
        new = elig[:, t] & ~joined & (unif[:, t] < h)
        join_t[new] = t
        joined |= new
    return join_t


def _calibrate(target: float, share_fn) -> float:
    lo, hi = -11.0, 0.0
    for _ in range(22):
        mid = 0.5 * (lo + hi)
        if share_fn(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


class _Pool(NamedTuple):
    """The eligible exporters: their ecosystem unit (city or county) and how many units there
    are, their eligibility by extended year, and which of their firm-years are analysed."""

    city: np.ndarray
    ncity: int
    elig: np.ndarray
    am_ex: np.ndarray


def _calibrated_joins(
    pool: _Pool, target: float, unif: np.ndarray, lin: np.ndarray, trend: float, gamma_eco: float
) -> tuple[np.ndarray, float]:
    """Join period of each eligible firm (index into the extended years, -1 never) with the
    baseline log hazard calibrated so that a ``target`` share of the analysed firm-years are
    members; and that log hazard."""
    tt = np.arange(len(YEARS))[None, :]

    def joins(log_h0: float) -> np.ndarray:
        return _simulate(log_h0, pool.city, pool.ncity, unif, pool.elig, lin, trend, gamma_eco)

    def share(log_h0: float) -> float:
        jt = joins(log_h0)
        treated = (jt[:, None] >= 0) & (tt >= jt[:, None])
        return float(treated[pool.am_ex].mean()) if pool.am_ex.any() else 0.0

    log_h0 = _calibrate(target, share)
    return joins(log_h0), log_h0


def simulate_adoption(w: World, p: dict[str, Any], rng: np.random.Generator) -> None:
    """Adds join_year, mic_join_year (NaN-free ints, 0 = never), instruments and ratings."""
    a = p["adoption"]
    f = w.firm
    n = w.n
    T = len(YEARS)
    late = int(a["late_years"])
    text = T + late
    years_ext = np.arange(YEARS[0], YEARS[0] + text)
    # eligibility: direct exporters while alive; firms alive in 2015 stay eligible to 2024
    ex = np.flatnonzero(f["exporter"])
    alive_ext = np.concatenate([w.alive[ex], np.repeat(w.alive[ex, -1:], late, axis=1)], axis=1)
    elig = alive_ext
    # distance instrument: (1 / county distance to Hangzhou) x IT revenue(t-1)
    dist = w.counties["dist_hangzhou_km"].to_numpy()[f["county_idx"]]
    it_lag = np.array([IT_REVENUE[y - 1] for y in years_ext], dtype=float)
    z = (1.0 / dist)[:, None] * it_lag[None, :]
    am = analysis_mask(w)
    z_sd = z[:, :T][am].std() if am.any() else 1.0
    z_std = np.clip(z / z_sd, 0, 6)
    city_eco = rng.normal(0.0, a["sd_city_eco"], w.cities.height)
    sd_a = p["production"]["sd_alpha"]
    lin = (
        a["gamma_alpha"] * f["alpha"][ex, None] / sd_a
        + a["gamma_iv"] * z_std[ex]
        + city_eco[f["city_idx"][ex]][:, None]
    )
    unif = rng.random((ex.size, text))
    if a["eco_level"] == "county":
        pool = _Pool(f["county_idx"][ex], w.counties.height, elig, am[ex])
    else:
        pool = _Pool(f["city_idx"][ex], w.cities.height, elig, am[ex])
    hazard = (lin, a["trend"], a["gamma_eco"])
    jt_ex, log_h0 = _calibrated_joins(pool, a["target_share"], unif, *hazard)
    join_year = np.zeros(n, dtype=np.int64)
    join_year[ex] = np.where(jt_ex >= 0, years_ext[0] + jt_ex, 0)

    # Made-in-China.com paid membership: own hazard, selection on alpha, no IV/ecosystem
    lin_m = np.repeat((a["mic_gamma_alpha"] * f["alpha"][ex] / sd_a)[:, None], text, axis=1)
    unif_m = rng.random((ex.size, text))
    hazard_m = (lin_m, a["mic_trend"], 0.0)
    jt_m, log_h0_m = _calibrated_joins(pool, a["mic_target_share"], unif_m, *hazard_m)
    mic_join_year = np.zeros(n, dtype=np.int64)
    mic_join_year[ex] = np.where(jt_m >= 0, years_ext[0] + jt_m, 0)

    # Alibaba rating (1-5, one decimal; blank for some), higher for productive firms
    rating = np.clip(np.round(rng.normal(4.3 + 0.15 * f["alpha"] / sd_a, 0.35), 1), 1.0, 5.0)
    rating = np.where(
        (join_year > 0) & (rng.random(n) >= a["rating_missing_share"]), rating, np.nan
    )

    f["join_year"] = join_year
    f["mic_join_year"] = mic_join_year
    f["rating"] = rating
    f["iv_z"] = z_std[:, :T]
    f["city_eco"] = city_eco
    w.extra["adoption"] = {
        "log_h0": log_h0,
        "log_h0_mic": log_h0_m,
        "z_sd": float(z_sd),
        "city_eco": city_eco.tolist(),
    }
    yrs = np.array(YEARS)[None, :]
    w.arr["platform"] = (join_year[:, None] > 0) & (yrs >= join_year[:, None])
    w.arr["platform_mic"] = (mic_join_year[:, None] > 0) & (yrs >= mic_join_year[:, None])

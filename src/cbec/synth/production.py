"""Utilization, productivity, inputs, output and the book values of ASIF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from .adoption import analysis_mask
from .calibration import twfe
from .external import FX, city_ict
from .firms import World
from .params import INDUSTRIES, YEARS


def _ar1(rng: np.random.Generator, w: World, rho: float, sd: float) -> np.ndarray:
    """Stationary AR(1) per firm started at entry (innovation sd `sd`)."""
    n, T = w.alive.shape
    e = rng.normal(0.0, sd, (n, T))
    x = np.empty((n, T))
    x[:, 0] = e[:, 0] / np.sqrt(1 - rho**2)
    start = e[:, :] / np.sqrt(1 - rho**2)
    for t in range(1, T):
        x[:, t] = np.where(w.firm["entry_t"] == t, start[:, t], rho * x[:, t - 1] + e[:, t])
    return x


def _random_walk(rng: np.random.Generator, w: World, sd: float) -> np.ndarray:
    """Random walk per firm (n, T) from 0 at entry, innovations N(0, sd) (log-slack units),
    centred on its mean over each year's alive firms (the level stays calibrated)."""
    n, T = w.alive.shape
    e = rng.normal(0.0, sd, (n, T))
    tt = np.arange(T)[None, :]
    e = np.where(tt > w.firm["entry_t"][:, None], e, 0.0)
    x = np.cumsum(e, axis=1)
    mean_t = np.where(w.alive, x, 0.0).sum(axis=0) / np.maximum(w.alive.sum(axis=0), 1)
    return x - mean_t[None, :]


def heterogeneity(w: World, p: dict[str, Any], ports: pl.DataFrame, weights: pl.DataFrame) -> None:
    """Dummies of Table 7 in the truth: high-ICT city, early joiner, high rating."""
    f = w.firm
    am = analysis_mask(w)
    ict = city_ict(ports, weights, w.cities)  # (city, T)
    excl = np.isin(np.array(YEARS), [2008, 2009, 2010])
    ict_city = ict[:, ~excl].mean(axis=1)
    # median over analysis firm-years
    fy_city = np.broadcast_to(f["city_idx"][:, None], am.shape)[am]
    med = np.median(ict_city[fy_city]) if fy_city.size else np.median(ict_city)
    high_ict_city = ict_city > med
    jy = f["join_year"]
    treated_firm = (am & w.arr["platform"]).any(axis=1)
    med_join = np.median(jy[treated_firm]) if treated_firm.any() else 2010
    rated = ~np.isnan(f["rating"]) & treated_firm
    mean_rating = np.nanmean(f["rating"][rated]) if rated.any() else 4.3
    f["high_ict"] = high_ict_city[f["city_idx"]]
    f["early"] = (jy > 0) & (jy < med_join)
    f["high_score"] = np.nan_to_num(f["rating"], nan=0.0) > mean_rating
    tm = am & w.arr["platform"]

    def treated_share(d: np.ndarray) -> float | None:
        return float(np.broadcast_to(d[:, None], am.shape)[tm].mean()) if tm.any() else None

    w.extra["heterogeneity"] = {
        # shares of the dummies among treated analysis firm-years (the effect of a dummy's
        # 0 group is the average effect minus tau x share: the truth of Table 7's main term)
        "treated_share_high_ict": treated_share(f["high_ict"]),
        "treated_share_early": treated_share(f["early"]),
        "treated_share_high_score": treated_share(f["high_score"]),
        "ict_city_median": float(med),
        "median_join_year": float(med_join),
        "mean_rating": float(mean_rating),
        "high_ict_city": high_ict_city.tolist(),
    }


def _effect_heterogeneity(
    w: World, e: dict[str, Any], tm: np.ndarray, z_firm: np.ndarray
) -> np.ndarray:
    """Individual deviation (n, T) of the platform effect from its intercept: high-ICT city,
    early joiner, high rating, years since joining and an idiosyncratic firm effect
    (`tau_cu_sd` x `z_firm`), each centred over the treated analysis firm-years `tm`."""
    f = w.firm
    n, T = w.alive.shape
    idio = np.broadcast_to((e["tau_cu_sd"] * z_firm)[:, None], (n, T))
    het = idio - (idio[tm].mean() if tm.any() else 0.0)
    for key, dummy in (("tau_ict", "high_ict"), ("tau_old", "early"), ("tau_score", "high_score")):
        d = np.broadcast_to(f[dummy][:, None].astype(float), (n, T))
        het += e[key] * (d - (d[tm].mean() if tm.any() else 0.0))
    yrs = np.array(YEARS)[None, :]
    since = np.where(w.arr["platform"], yrs - f["join_year"][:, None], 0)
    dyn = e["dynamic_slope"] * (since - (since[tm].mean() if tm.any() else 0.0))
    return het + dyn


def _log_slack(w: World, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """log(1 - u) before its level and the platform effects, (n, T): slack 1 - u is
    log-normal (left-skewed u as in Table 1); firm, AR(1), industry-year, city-year and
    random-walk components."""
    uu, f = p["utilization"], w.firm
    n, T = w.alive.shape
    base = -uu["c_alpha"] * f["alpha"] / p["production"]["sd_alpha"] + rng.normal(
        0, uu["sd_firm"], n
    )
    ar = _ar1(rng, w, uu["rho"], uu["sd_ar"] * np.sqrt(1 - uu["rho"] ** 2))
    ind_year = rng.normal(0, uu["sd_ind_year"], (len(INDUSTRIES), T))[f["ind_idx"]]
    city_year = rng.normal(0, uu["sd_city_year"], (w.cities.height, T))[f["city_idx"]]
    # persistent firm-level demand shocks: a random walk from entry (shocks that never
    # fade within the firm: lost customers, a new product line); not removed by firm effects
    rw = _random_walk(rng, w, uu["sd_rw"])
    return base[:, None] + ar + ind_year + city_year + rw


def simulate_utilization(w: World, p: dict[str, Any], rng: np.random.Generator) -> None:
    """True capacity utilization u (n, T) with planted platform effects; calibrated so that
    the analysis sample has mean u = target and the realized average effect on the treated
    equals tau_cu (Alibaba) and tau_mic (Made-in-China) despite the [u_min, u_max] bounds."""
    uu = p["utilization"]
    e = p["effects"]
    f = w.firm
    n, T = w.alive.shape
    am = analysis_mask(w)
    plat = w.arr["platform"]
    mic = w.arr["platform_mic"]
    x0 = _log_slack(w, p, rng)
    tm = am & plat
    tau_i = _effect_heterogeneity(w, e, tm, rng.normal(0.0, 1.0, n))
    lo, hi = uu["u_min"], uu["u_max"]
    mm = am & mic
    fi, ti = np.nonzero(am)
    groups = [fi, f["ind_idx"][fi] * T + ti, f["city_idx"][fi] * T + ti]

    def oracle(u: np.ndarray) -> np.ndarray:
        x = np.column_stack([plat[fi, ti], mic[fi, ti]]).astype(float)
        return twfe(u[fi, ti], x, groups) if fi.size > 10 else np.array([np.nan, np.nan])

    def solve(target_a: float, target_m: float, mu: float, t0: float, tm0: float):
        """Fixed point: mean u and the realized ATTs on the analysis sample."""
        for _ in range(12):
            u0 = 1 - np.exp(mu + x0)
            tau = np.where(plat, t0 + tau_i, 0.0)
            tmic = np.where(mic, tm0, 0.0)
            u = np.clip(u0 + tau + tmic, lo, hi)
            att = (u - np.clip(u0 + tmic, lo, hi))[tm].mean() if tm.any() else target_a
            att_m = (u - np.clip(u0 + tau, lo, hi))[mm].mean() if mm.any() else target_m
            slack = 1 - (u[am].mean() if am.any() else uu["target_mean"])
            t0 += target_a - att
            tm0 += target_m - att_m
            mu += np.log((1 - uu["target_mean"]) / slack)
        return mu, t0, tm0, u

    mu, t0, tm0 = np.log(1 - uu["target_mean"]) - 0.1, e["tau_cu"], e["tau_mic"]
    target_a, target_m = e["tau_cu"], e["tau_mic"]
    mu, t0, tm0, u = solve(target_a, target_m, mu, t0, tm0)
    if e["calibrate_to"] == "twfe":
        # the paper's TWFE on the true u equals tau_cu / tau_mic (the ATT then differs)
        for _ in range(4):
            b = oracle(u)
            if not np.isfinite(b).all():
                break
            target_a += e["tau_cu"] - b[0]
            target_m += e["tau_mic"] - b[1]
            mu, t0, tm0, u = solve(target_a, target_m, mu, t0, tm0)
    u0 = 1 - np.exp(mu + x0)
    tau = np.where(plat, t0 + tau_i, 0.0)
    tmic = np.where(mic, tm0, 0.0)
    u = np.clip(u0 + tau + tmic, lo, hi)
    w.arr["u"] = u
    w.arr["tau_cu"] = np.where(plat, u - np.clip(u0 + tmic, lo, hi), 0.0)
    w.arr["tau_cu_planted"] = tau
    b = oracle(u)
    w.extra["utilization"] = {
        "calibrate_to": e["calibrate_to"],
        "log_slack_mu": float(mu),
        "tau_cu_intercept": float(t0),
        "tau_mic_intercept": float(tm0),
        "realized_att_alibaba": float(w.arr["tau_cu"][tm].mean()) if tm.any() else None,
        "realized_att_mic": float((u - np.clip(u0 + tau, lo, hi))[mm].mean()) if mm.any() else None,
        "oracle_twfe_alibaba": float(b[0]) if np.isfinite(b[0]) else None,
        "oracle_twfe_mic": float(b[1]) if np.isfinite(b[1]) else None,
        "mean_u_analysis": float(u[am].mean()) if am.any() else None,
        "sd_u_analysis": float(u[am].std()) if am.any() else None,
        "share_at_upper_bound": float((u[am] >= hi).mean()) if am.any() else None,
        "share_at_lower_bound": float((u[am] <= lo).mean()) if am.any() else None,
    }


def simulate_production(
    w: World, p: dict[str, Any], rng: np.random.Generator, defl: pl.DataFrame
) -> dict[str, Any]:
    """Productivity, capital, labour, materials, value added and book values (n, T).
    Returns the industry elasticities used."""
    pr = p["production"]
    f = w.firm
    k_ind = len(INDUSTRIES)
    ii = f["ind_idx"]
    beta_l = np.clip(pr["beta_l"] + rng.normal(0, pr["sd_beta_l"], k_ind), 0.2, 0.7)
    beta_k = np.clip(pr["beta_k"] + rng.normal(0, pr["sd_beta_k"], k_ind), 0.1, 0.5)
    lambda0 = pr["lambda_0"] + rng.normal(0, pr["sd_lambda_ind"], k_ind)
    beta0_ind = (
        pr["ln_va_per_worker"] - (beta_l - 1) * 5.0 - beta_k * (pr["k0_mean"] + np.log(0.74))
    )
    ind = _Industry(bl=beta_l[ii], bk=beta_k[ii], lambda0=lambda0[ii], beta0=beta0_ind[ii])
    p_out, p_in, p_k = _deflators(defl, ii, w.alive.shape[1])

    omega, trend = _productivity(w, p, rng)
    k0 = _entry_capital(w, pr, rng)
    books = _capital(w, pr, rng, k0, omega - trend, ind.bk, p_k)
    out = _output(w, pr, rng, ind, omega, trend, books["lnK"], p_out, p_in)
    sheet = _balance_sheet(w, pr, rng, books["net"], out, omega - trend)
    newprod = _new_products(w, p, rng, out["GO"])

    w.arr.update(
        omega=omega,
        lnK=books["lnK"],
        inv=books["inv"],
        delta=books["delta"],
        dep_book=books["dep_book"],
        orig=books["orig"],
        accum=books["accum"],
        net=books["net"],
        L=out["L"],
        VA=out["VA"],
        M=out["M"],
        GO=out["GO"],
        sales=out["sales"],
        TA=sheet["TA"],
        CA=sheet["CA"],
        liab=sheet["liab"],
        interest=sheet["interest"],
        wage_bill=sheet["wage_bill"],
        newprod=newprod["newprod"],
        np_share=newprod["np_share"],
        v=out["v"],
        s=out["s"],
    )
    f["paidin"] = sheet["paidin"]
    f["intensity"] = newprod["intensity"]
    _exports(w, p, rng)
    return {
        "beta_l": dict(zip(INDUSTRIES, beta_l.round(6).tolist(), strict=True)),
        "beta_k": dict(zip(INDUSTRIES, beta_k.round(6).tolist(), strict=True)),
        "lambda_0": dict(zip(INDUSTRIES, lambda0.round(6).tolist(), strict=True)),
        "beta0": dict(zip(INDUSTRIES, beta0_ind.round(6).tolist(), strict=True)),
    }


@dataclass
class _Industry:
    """Industry parameters expanded to firms: elasticities, labour and output intercepts."""

    bl: np.ndarray
    bk: np.ndarray
    lambda0: np.ndarray
    beta0: np.ndarray


def _deflators(
    defl: pl.DataFrame, ii: np.ndarray, T: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Output and input deflators (n, T) of each firm's industry; investment goods (T)."""
    k_ind = len(INDUSTRIES)
    dparams = defl.filter(pl.col("ind2") != "K").sort("ind2", "year")
    p_out = dparams["output_deflator"].to_numpy().reshape(k_ind, T)[ii]
    p_in = dparams["input_deflator"].to_numpy().reshape(k_ind, T)[ii]
    p_k = defl.filter(pl.col("ind2") == "K").sort("year")["output_deflator"].to_numpy()
    return p_out, p_in, p_k


def _productivity(
    w: World, p: dict[str, Any], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Productivity omega (n, T) with the planted platform effect, and its trend (1, T)."""
    pr = p["production"]
    T = w.alive.shape[1]
    omega_t = _ar1(rng, w, pr["rho_omega"], pr["sd_xi"])
    trend = pr["tfp_growth"] * np.arange(T)[None, :]
    omega = (
        pr["alpha_omega"] * w.firm["alpha"][:, None]
        + omega_t
        + trend
        + p["effects"]["tau_tfp"] * w.arr["platform"]
    )
    return omega, trend


def _entry_capital(w: World, pr: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """ln real capital at entry (thousand yuan of 2001)."""
    f = w.firm
    return (
        pr["k0_mean"]
        + pr["k0_sd"] * (0.6 * f["size_z"] + 0.8 * rng.normal(0, 1, w.n))
        + pr["k0_alpha"] * f["alpha"]
        + pr["k0_export_shift"] * f["exporter"]
    )


def _capital(
    w: World,
    pr: dict[str, Any],
    rng: np.random.Generator,
    k0: np.ndarray,
    omega_dt: np.ndarray,
    bk: np.ndarray,
    p_k: np.ndarray,
) -> dict[str, np.ndarray]:
    """Real capital, investment and depreciation year by year, and the books: original
    value, accumulated and yearly book depreciation, net fixed assets (all (n, T))."""
    n, T = w.alive.shape
    u = w.arr["u"]
    k_ref = pr["k0_mean"]
    lnK = np.zeros((n, T))
    inv = np.zeros((n, T))
    delta = pr["dep_a"] * u ** pr["dep_theta"]
    # depreciation of the physical stock: in use (GHH, = delta) or at the industry-wide mean
    # rate (book depreciation still reflects use); see the production section of params.py
    delta_k = delta if pr["capital_dep_in_use"] else np.full_like(delta, float(delta.mean()))
    # the persistent output shifter the firm knows when it invests: TFP plus capital services
    # lost to idle capacity (beta_k ln u); iota_u = 1 makes investment a function of the
    # single index omega + beta_k ln u that enters output (Olley-Pakes scalar unobservable)
    # (ln u centred on its mean over alive firm-years: the average investment rate stays
    # inv_rate, as without the utilization term)
    ln_u = np.log(u)
    ln_u_c = ln_u - (ln_u[w.alive].mean() if w.alive.any() else 0.0)
    inv_index = omega_dt + pr["iota_u"] * bk[:, None] * ln_u_c
    orig = np.zeros((n, T))
    accum = np.zeros((n, T))
    dep_book = np.zeros((n, T))
    entry = w.firm["entry_t"]
    age_at_entry = np.array(YEARS)[entry] - w.firm["found_year"]
    r_acc = np.clip(0.05 * age_at_entry, 0.05, 0.6)
    e_inv = rng.normal(0, pr["sd_inv"], (n, T))
    e_dep = rng.normal(0, pr["sd_book_dep"], (n, T))
    ln_ir0 = np.log(pr["inv_rate"])
    prev_orig = np.zeros(n)
    prev_acc = np.zeros(n)
    prev_k = np.zeros(n)
    for t in range(T):
        new = entry == t
        k_t = np.where(new, k0, prev_k)
        lnK[:, t] = k_t
        K = np.exp(k_t)
        ir = np.exp(
            ln_ir0 + pr["iota_omega"] * inv_index[:, t] + pr["iota_k"] * (k_t - k_ref) + e_inv[:, t]
        )
        inv[:, t] = ir * K
        o0 = np.where(new, p_k[t] * K / (1 - r_acc), prev_orig)
        a0 = np.where(new, p_k[t] * K * r_acc / (1 - r_acc), prev_acc)
        orig[:, t] = o0 + p_k[t] * inv[:, t]
        book_noise = np.exp(e_dep[:, t] - 0.5 * pr["sd_book_dep"] ** 2)
        dep_book[:, t] = _book_depreciation(
            w, pr, t, K, delta[:, t], orig[:, t], a0, p_k[t], book_noise
        )
        accum[:, t] = a0 + dep_book[:, t]
        prev_orig, prev_acc = orig[:, t], accum[:, t]
        prev_k = np.log(np.maximum((1 - delta_k[:, t]) * K + inv[:, t], 1e-6))
    return {
        "lnK": lnK,
        "inv": inv,
        "delta": delta,
        "dep_book": dep_book,
        "orig": orig,
        "accum": accum,
        "net": orig - accum,
    }


def _book_depreciation(
    w: World,
    pr: dict[str, Any],
    t: int,
    K: np.ndarray,
    delta_t: np.ndarray,
    orig_t: np.ndarray,
    a0: np.ndarray,
    p_k_t: float,
    book_noise: np.ndarray,
) -> np.ndarray:
    """Book depreciation of year `t` (本年折旧), on original value or on the real stock."""
    if pr["book_dep_base"] == "original":
        # straight-line accounting: the year's rate (delta, in use) times the gross stock
        # at original value, scaled by the year's mean ratio of the replacement value of
        # the real stock to it (geometric mean, so book depreciation keeps its typical
        # level and net fixed assets their calibrated mean); a fully
        # depreciated book stock (net at 5 % of original value) stops depreciating
        alive_t = w.alive[:, t] & (orig_t > 0)
        ratio = p_k_t * K[alive_t] / orig_t[alive_t]
        kappa = float(np.exp(np.mean(np.log(ratio)))) if alive_t.any() else 1.0
        room = np.maximum(0.95 * orig_t - a0, 0.0)
        return np.minimum(delta_t * kappa * orig_t * book_noise, room)
    # on the replacement value of the real stock
    return delta_t * K * p_k_t * book_noise


def _inefficiency(
    pr: dict[str, Any], rng: np.random.Generator, n: int, T: int
) -> tuple[np.ndarray, float]:
    """Inefficiency s_it = s_i + s_it' >= 0 (n, T) and its mean: a persistent, firm-level
    half-normal part and a transient half-normal part (the four-component frontier of
    Colombi et al. 2014, Kumbhakar, Lien & Hardaker 2014, Filippini & Greene 2016), with
    variances in the ratio ``s_persistent_share`` : 1 − share of ``sd_s``². The transient
    part keeps the draws of the one-part world; the persistent part comes from a child of
    the production stream, so the split changes nothing else (share 0: the world as before)."""
    share = pr["s_persistent_share"]
    sd_p, sd_t = pr["sd_s"] * np.sqrt(share), pr["sd_s"] * np.sqrt(1.0 - share)
    s = np.abs(rng.normal(0, sd_t, (n, T)))
    if share > 0:
        s = s + np.abs(rng.spawn(1)[0].normal(0, sd_p, n))[:, None]
    return s, float(np.sqrt(2 / np.pi) * (sd_p + sd_t))


def _output(
    w: World,
    pr: dict[str, Any],
    rng: np.random.Generator,
    ind: _Industry,
    omega: np.ndarray,
    trend: np.ndarray,
    lnK: np.ndarray,
    p_out: np.ndarray,
    p_in: np.ndarray,
) -> dict[str, np.ndarray]:
    """Labour (independent wage shock), materials (LP proxy, rising with utilization by
    ``materials_util_elasticity``), value added, gross output and sales (nominal), with the
    output shock v and the inefficiency s (persistent plus transient, :func:`_inefficiency`)."""
    n, T = w.alive.shape
    u = w.arr["u"]
    bl, bk = ind.bl, ind.bk
    lnL = (
        ind.lambda0[:, None]
        + pr["lambda_k"] * lnK
        + pr["lambda_omega"] * (omega - trend)
        + rng.normal(0, pr["sd_wage_shock"], (n, T))
    )
    L = np.maximum(np.round(np.exp(lnL)), 1.0)
    v = rng.normal(0, pr["sd_v"], (n, T))
    s, es = _inefficiency(pr, rng, n, T)
    beta0 = ind.beta0
    lnVA = (
        beta0[:, None] + omega + v - s + bl[:, None] * np.log(L) + bk[:, None] * (np.log(u) + lnK)
    )
    mu_omega = 1 + bl * pr["lambda_omega"]
    mu_k = bk + bl * pr["lambda_k"]
    lnM = (
        np.log(pr["materials_ratio"])
        + (beta0 + bl * ind.lambda0 - es + bk * np.log(0.74))[:, None]
        + mu_omega[:, None] * omega
        - (mu_omega - 1)[:, None] * trend
        + mu_k[:, None] * lnK
        + pr["materials_util_elasticity"] * (np.log(u) - np.log(u[w.alive]).mean())
        + rng.normal(0, pr["sd_materials"], (n, T))
    )
    VA = np.exp(lnVA) * p_out
    M = np.exp(lnM) * p_in
    GO = VA + M
    sales = GO * np.exp(rng.normal(-0.02, 0.05, (n, T)))
    return {"L": L, "v": v, "s": s, "VA": VA, "M": M, "GO": GO, "sales": sales}


def _sales_cycle(w: World, net: np.ndarray, sales: np.ndarray, elasticity: float) -> np.ndarray:
    """Factor (n, T) by which current assets follow sales rather than net fixed assets:
    (sales / net) relative to the firm's geometric mean over its alive years, to the power
    ``elasticity`` (0: ones, current assets a fixed multiple of net fixed assets; 1: the
    firm's current assets proportional to its sales)."""
    alive = w.alive & (net > 0) & (sales > 0)
    ln_r = np.log(np.where(alive, sales, 1.0) / np.where(alive, net, 1.0))
    mean_i = np.where(alive, ln_r, 0.0).sum(axis=1) / np.maximum(alive.sum(axis=1), 1)
    return np.where(alive, np.exp(elasticity * (ln_r - mean_i[:, None])), 1.0)


def _balance_sheet(
    w: World,
    pr: dict[str, Any],
    rng: np.random.Generator,
    net: np.ndarray,
    out: dict[str, np.ndarray],
    omega_dt: np.ndarray,
) -> dict[str, np.ndarray]:
    """Total and current assets, liabilities, paid-in capital, interest and wage bill.

    Net fixed assets are the firm's share ``fa_share`` of total assets (with noise), other
    non-current assets 8 %; current assets (receivables, inventories, cash: the operating
    cycle) move with sales with elasticity ``current_assets_sales_elasticity`` at the firm's
    mean ratio (:func:`_sales_cycle`), times a yearly log-normal factor with sd
    ``current_assets_sales_sd`` (the ratio of current assets to sales is far from constant
    from year to year), and total assets with them."""
    n, T = w.alive.shape
    L = out["L"]
    fa_share = np.clip(rng.beta(4, 6.5, n) * pr["fa_share_mean"] / 0.381, 0.05, 0.9)
    TA = net / np.clip(fa_share[:, None] * np.exp(rng.normal(0, 0.08, (n, T))), 0.04, 0.95)
    CA = (
        TA * np.clip(1 - fa_share[:, None] - 0.08, 0.02, 0.95) * np.exp(rng.normal(0, 0.05, (n, T)))
    )
    e, sd_ca = pr["current_assets_sales_elasticity"], pr["current_assets_sales_sd"]
    if e or sd_ca:  # both 0: the arrays untouched and no draws (the earlier world)
        cycle = _sales_cycle(w, net, out["sales"], e)
        if sd_ca:  # a child of the stream: every other draw of the world stays the same
            cycle = cycle * np.exp(rng.spawn(1)[0].normal(0, sd_ca, (n, T)))
        TA, CA = TA + CA * (cycle - 1.0), CA * cycle
    lev = np.clip(rng.beta(5.6, 4.4, n) * pr["leverage_mean"] / 0.56, 0.02, 1.5)
    liab = TA * np.clip(lev[:, None] + rng.normal(0, 0.04, (n, T)), 0.0, 2.0)
    paidin = TA[np.arange(n), w.firm["entry_t"]] * np.clip(
        rng.beta(3, 7, n) * pr["paidin_share_mean"] / 0.3, 0.02, 1.0
    )
    r_int = np.exp(
        pr["interest_log_mean"]
        + pr["interest_log_sd"]
        * (0.7 * rng.normal(0, 1, n)[:, None] + 0.71 * rng.normal(0, 1, (n, T)))
    )
    zero_int = (rng.random(n) < pr["interest_zero_share"] * 0.7)[:, None] | (
        rng.random((n, T)) < pr["interest_zero_share"] * 0.3
    )
    interest = np.where(zero_int, 0.0, net * r_int)
    wage = pr["wage_2001"] * np.exp(pr["wage_growth"] * np.arange(T))[None, :]
    wage_bill = L * wage * np.exp(0.3 * omega_dt + rng.normal(0, 0.15, (n, T)))
    return {
        "TA": TA,
        "CA": CA,
        "liab": liab,
        "paidin": paidin,
        "interest": interest,
        "wage_bill": wage_bill,
    }


def _new_products(
    w: World, p: dict[str, Any], rng: np.random.Generator, GO: np.ndarray
) -> dict[str, np.ndarray]:
    """New-product output and share (with the planted platform effect); export intensity
    of direct and indirect exporters."""
    pr = p["production"]
    f = w.firm
    n, T = w.alive.shape
    np_base = np.where(rng.random(n) < pr["newprod_zero_share"], 0.0, rng.beta(1.5, 6, n))
    # new products are lumpy: an innovating firm has none in a year with probability
    # newprod_off_rate, and the share it reports varies from year to year (newprod_sd_year)
    on = rng.random((n, T)) >= pr["newprod_off_rate"]
    np_share = np.clip(
        np_base[:, None] * on * np.exp(rng.normal(0, pr["newprod_sd_year"], (n, T)))
        + p["effects"]["tau_newprod"] * w.arr["platform"],
        0,
        1,
    )
    intensity = np.where(
        f["exporter"],
        np.clip(rng.beta(2.2, 2.7, n) * pr["export_intensity_mean"] / 0.449, 0.02, 0.98),
        np.where(f["indirect"], rng.beta(1.2, 6, n), 0.0),
    )
    return {"newprod": np_share * GO, "np_share": np_share, "intensity": intensity}


def _exports(w: World, p: dict[str, Any], rng: np.random.Generator) -> None:
    """Customs export value (USD), markets and products with planted platform effects,
    and ASIF export delivery consistent with them (total exports, those through trading
    companies included; the customs truth is what the firm's own record shows)."""
    e = p["effects"]
    f = w.firm
    n, T = w.alive.shape
    plat = w.arr["platform"]
    fx = np.array([FX[y] for y in YEARS])
    # firm export level from entry-year sales (not from current output: the planted effect
    # on ln exports is exactly tau_export)
    entry = f["entry_t"]
    s0 = w.arr["sales"][np.arange(n), entry] * 1000 / fx[entry]
    pr = p["production"]
    # year-to-year swings of a firm's exports (orders won and lost): stationary AR(1)
    ar = _ar1(rng, w, 0.6, pr["export_sd_ar"] * np.sqrt(1 - 0.36))
    growth = 0.06 * np.arange(T)[None, :]
    lnX = (
        np.log(s0 * np.maximum(f["intensity"], 0.02))[:, None]
        + growth
        + ar
        + e["tau_export"] * plat
    )
    X = np.exp(lnX)
    c_m = rng.normal(np.log(4.0), 0.7, n)
    c_p = rng.normal(np.log(3.0), 0.8, n)
    n_mkt = np.maximum(
        1,
        np.round(
            np.exp(
                c_m[:, None]
                - np.log(pr["market_ship_prob"])
                + 0.02 * np.arange(T)[None, :]
                + rng.normal(0, pr["count_sd_year"], (n, T))
                + e["tau_markets"] * plat
            )
        ),
    ).astype(np.int64)
    n_prod = np.maximum(
        1,
        np.round(
            np.exp(
                c_p[:, None]
                - np.log(pr["product_ship_prob"])
                + rng.normal(0, pr["count_sd_year"], (n, T))
                + e["tau_products"] * plat
            )
        ),
    ).astype(np.int64)
    n_mkt = np.minimum(n_mkt, 60)
    n_prod = np.minimum(n_prod, 300)
    sales_usd = w.arr["sales"] * 1000 / fx[None, :]
    direct = f["exporter"][:, None]
    ed_usd = np.where(
        direct,
        X * np.exp(rng.normal(0, p["customs"]["sd_export_noise"], (n, T))),
        sales_usd * f["intensity"][:, None],
    )
    export_delivery = np.minimum(ed_usd * fx[None, :] / 1000, w.arr["sales"])
    X, n_mkt, n_prod = _shipped(p, rng, X, n_mkt, n_prod)
    w.arr["export_usd"] = np.where(direct, X, 0.0)
    w.arr["n_markets"] = np.where(direct, n_mkt, 0)
    w.arr["n_products"] = np.where(direct, n_prod, 0)
    w.arr["export_delivery"] = export_delivery


#: share of a firm's export value that goes to its main market (the rest is spread over its
#: secondary markets, the ones it hands to a trading company in an intermediated year)
MAIN_MARKET_VALUE_SHARE = 0.5


def _shipped(
    p: dict[str, Any],
    rng: np.random.Generator,
    X: np.ndarray,
    n_mkt: np.ndarray,
    n_prod: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a firm's own customs record shows in a year, from its market and product
    portfolio and its total exports `X`: the main market and product always; each other
    portfolio market (product) with probability `market_ship_prob` (`product_ship_prob`),
    sporadic shipments; in an intermediated year (probability `intermediary_year_rate`)
    each of those goes through a trading company instead with probability
    `intermediary_routed_share`, and the direct value loses that share of the secondary
    markets' value. Returns direct value, markets and products."""
    pr, c = p["production"], p["customs"]
    routed = rng.random(X.shape) < c["intermediary_year_rate"]
    direct = np.where(routed, 1.0 - c["intermediary_routed_share"], 1.0)
    m_other = rng.binomial(n_mkt - 1, pr["market_ship_prob"])
    m_direct = rng.binomial(m_other, direct)
    p_direct = rng.binomial(n_prod - 1, pr["product_ship_prob"] * direct)
    lost = np.where(m_other > 0, (m_other - m_direct) / np.maximum(m_other, 1), 0.0)
    X_direct = X * (1.0 - (1.0 - MAIN_MARKET_VALUE_SHARE) * lost)
    return X_direct, 1 + m_direct, 1 + p_direct

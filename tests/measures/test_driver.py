"""Tests for cbec.measures.driver: per-industry TFP / CU estimation with pooled fallbacks.

The planted world (``simulate_panel``): per industry, value added is Cobb–Douglas in labour
and capital with productivity omega = alpha_i + AR(1) (the LP/OP control-function DGP:
investment and materials monotone in omega given capital, labour with an independent wage
shock); gross output is a Cobb–Douglas frontier in (k, l) with year shifts times the true
utilization u in (0, 1] (so SFA efficiency should track u); depreciation dep_rate =
a u^theta times noise, missing in 2008–2010.
"""

from __future__ import annotations

import logging

import numpy as np
import polars as pl
import pytest

from cbec.errors import InputError
from cbec.measures import driver
from cbec.measures.driver import (
    DIAGNOSTICS_SCHEMA,
    MEASURES_SCHEMA,
    estimate_industry,
    gather_diagnostics,
    gather_measures,
)
from cbec.measures.sfa import fit_sfa

YEARS = list(range(2003, 2011))
ELAST = {"31": (0.45, 0.30), "32": (0.50, 0.25), "35": (0.40, 0.35), "36": (0.45, 0.30)}
CFG = {
    "industries": ["13", "31", "32", "35", "36"],
    "min_obs": 200,
    "poly_degree": 2,
    "sfa_dist": "half-normal",
    "sfa_year_dummies": True,
    # this world's frontier: gross output in (k, l) times u (the driver's default is value
    # added on k, l, m; see test_default_sfa_frontier_on_value_added)
    "sfa_kind": "technical_efficiency",
    "sfa_output": "ln_y",
    "sfa_inputs": ["ln_k", "ln_l"],
    "fallback": ["group", "all"],
    "elasticity_range": [0.0, 1.5],
    # materials do not respond to u in this world, so the first-stage estimator is valid; the
    # default ("dynamic") is weakly identified here (ρ_ω 0.8 vs u: 43 % permanent, AR 0.5)
    # and says so (test_yjz_weak_dynamic_identification_gives_missing_cu)
    "yjz": {
        "method": "iv",
        "min_f": 10,
        "norm_quantile": 0.99,
        "norm_value": 1.0,
        "theta_bounds": [0.5, 10.0],
        "capital": "ln_k",
    },
}
NO_YJZ = ["tfp_op", "tfp_lp", "cu_sfa_cd", "cu_sfa_tl"]
LOG = logging.getLogger("test_driver")


def simulate_industry(
    ind2: str,
    n_firms: int,
    rng: np.random.Generator,
    b_l: float,
    b_k: float,
    first_id: int,
    wrong_skew: bool = False,
    sd_alpha: float = 0.0,
    rho: float = 0.8,
) -> pl.DataFrame:
    burn = 10
    alpha = rng.normal(0.0, sd_alpha, n_firms)
    w_ar = rng.normal(0.0, 0.2 / np.sqrt(1 - rho**2), n_firms)
    u_firm = rng.normal(0.0, 0.08, n_firms)
    u_ar = np.zeros(n_firms)
    lnk = rng.normal(3.0, 0.8, n_firms)
    rows = []
    for t in range(burn + len(YEARS)):
        w_ar = rho * w_ar + rng.normal(0.0, 0.2, n_firms)
        omega = alpha + w_ar
        u_ar = 0.5 * u_ar + rng.normal(0.0, 0.08, n_firms)
        u = np.clip(0.74 + u_firm + u_ar, 0.3, 1.0)
        ln_inv = -2.0 + 1.0 * lnk + 0.8 * omega + 0.1 * omega**2 + rng.normal(0, 0.01, n_firms)
        ln_m = 0.5 + 0.9 * lnk + 1.0 * omega + 0.1 * omega**2 + rng.normal(0, 0.01, n_firms)
        ln_l = 0.5 + 0.5 * omega + 0.4 * lnk + rng.normal(0.0, 0.3, n_firms)
        ln_va = 1.0 + b_l * ln_l + b_k * (lnk + np.log(u)) + omega + rng.normal(0, 0.1, n_firms)
        delta = 0.12 * u**2
        if t >= burn:
            year = YEARS[t - burn]
            if wrong_skew:  # right-skewed noise, no inefficiency
                noise = 0.1 * (np.exp(rng.normal(0.0, 0.5, n_firms)) - np.exp(0.125))
                ln_y = 1.5 + 0.6 * ln_l + 0.35 * lnk + 0.03 * (year - 2003) + noise
            else:
                ln_y = (
                    1.5 + 0.6 * ln_l + 0.35 * lnk + 0.03 * (year - 2003)
                    + rng.normal(0.0, 0.05, n_firms) + np.log(u)
                )  # fmt: skip
            dep = delta * np.exp(rng.normal(0.0, 0.15, n_firms))
            rows.append(
                pl.DataFrame(
                    {
                        "firm_id": np.arange(first_id, first_id + n_firms),
                        "year": np.full(n_firms, year),
                        "ind2": [ind2] * n_firms,
                        "city_code": ["3301"] * n_firms,
                        "ln_va": ln_va,
                        "ln_y": ln_y,
                        "ln_l": ln_l,
                        "ln_k": lnk,
                        "ln_m": ln_m,
                        "ln_inv": ln_inv,
                        "ln_k_use": lnk,
                        "dep_rate": dep if year < 2008 else np.full(n_firms, np.nan),
                        "omega": omega,
                        "u": u,
                    }
                )
            )
        # capital by perpetual inventory at a fixed rate (as the panel builds it): u is
        # independent of the inputs, so LP/OP stay consistent with b_k ln u in value added
        lnk = np.log(0.91 * np.exp(lnk) + np.exp(ln_inv)) + rng.normal(0, 0.15, n_firms)
    df = pl.concat(rows)
    keep = rng.random(df.height) > 0.05  # unbalanced: gaps break lags
    return df.filter(pl.Series(keep)).with_columns(
        pl.col("firm_id", "year").cast(pl.Int64), pl.col("dep_rate").fill_nan(None)
    )


def simulate_panel(seed: int = 7, sizes: dict[str, int] | None = None) -> pl.DataFrame:
    """Industries 31, 32 (large), 35 (tiny: fallback), 36 (wrong-skew output noise)."""
    sizes = sizes or {"31": 1000, "32": 1000, "35": 8, "36": 300}
    rng = np.random.default_rng(seed)
    frames, first = [], 1
    for ind2, n in sizes.items():
        b_l, b_k = ELAST[ind2]
        frames.append(simulate_industry(ind2, n, rng, b_l, b_k, first, wrong_skew=ind2 == "36"))
        first += n
    return pl.concat(frames)


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return simulate_panel()


@pytest.fixture(scope="module")
def results(panel: pl.DataFrame) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    return {i: estimate_industry(panel, i, CFG, LOG) for i in ("31", "32", "35", "36")}


def _truth(panel: pl.DataFrame, out: pl.DataFrame) -> pl.DataFrame:
    return out.join(panel.select("firm_id", "year", "omega", "u"), on=["firm_id", "year"])


@pytest.mark.parametrize("ind2", ["31", "32"])
def test_tfp_recovers_elasticities_and_omega(panel, results, ind2):
    out, diag = results[ind2]
    b_l, b_k = ELAST[ind2]
    for m in ("tfp_lp", "tfp_op"):
        d = diag.filter(pl.col("measure") == m).row(0, named=True)
        assert d["fallback"] == "none" and d["converged"]
        assert abs(d["b_l"] - b_l) < 0.03, (m, d)
        assert abs(d["b_k"] - b_k) < 0.03, (m, d)
    j = _truth(panel, out)
    assert j.height == panel.filter(pl.col("ind2") == ind2).height
    for m in ("tfp_lp", "tfp_op"):
        assert j[m].null_count() == 0
        assert np.corrcoef(j[m].to_numpy(), j["omega"].to_numpy())[0, 1] >= 0.8


@pytest.mark.parametrize("ind2", ["31", "32"])
def test_sfa_cu_tracks_utilization(panel, results, ind2):
    out, diag = results[ind2]
    j = _truth(panel, out)
    for m in ("cu_sfa_cd", "cu_sfa_tl"):
        d = diag.filter(pl.col("measure") == m).row(0, named=True)
        assert d["fallback"] == "none" and d["converged"] and d["gamma"] > 0
        v = j[m].to_numpy()
        assert np.all((v > 0) & (v <= 1))
        assert np.corrcoef(v, j["u"].to_numpy())[0, 1] >= 0.7, m
    cd = diag.filter(pl.col("measure") == "cu_sfa_cd").row(0, named=True)
    assert abs(cd["b_l"] - 0.6) < 0.1 and abs(cd["b_k"] - 0.35) < 0.1


def test_tiny_industry_falls_back_to_group(panel, results):
    out, diag = results["35"]
    n = panel.filter(pl.col("ind2") == "35").height
    assert 0 < n < CFG["min_obs"]
    assert out.height == n
    assert set(diag["fallback"].to_list()) == {"group"}
    assert set(diag["pool"].to_list()) == {"31,32,35,36"}
    assert all("min_obs" in msg for msg in diag["message"].to_list())
    for m in NO_YJZ:
        v = out[m].to_numpy()
        assert out[m].null_count() == 0 and np.all(np.isfinite(v)), m
    assert out.filter(pl.col("year") < 2008)["cu"].null_count() == 0
    # TFP from the pooled elasticities: tfp = ln_va - b_l ln_l - b_k ln_k
    d = diag.filter(pl.col("measure") == "tfp_lp").row(0, named=True)
    j = out.join(panel, on=["firm_id", "year"])
    expect = j["ln_va"] - d["b_l"] * j["ln_l"] - d["b_k"] * j["ln_k"]
    np.testing.assert_allclose(j["tfp_lp"].to_numpy(), expect.to_numpy(), rtol=1e-10)


def test_wrong_skew_industry_uses_pooled_frontier(results):
    out, diag = results["36"]
    for m in ("cu_sfa_cd", "cu_sfa_tl"):
        d = diag.filter(pl.col("measure") == m).row(0, named=True)
        assert d["fallback"] == "group", d
        assert "wrong skew" in d["message"]
        assert d["skewness"] > 0
        v = out[m].to_numpy()
        assert np.all(np.isfinite(v)) and np.all((v > 0) & (v <= 1))
    # the production function of 36 is fine: no fallback there
    tfp = diag.filter(pl.col("measure").str.starts_with("tfp"))
    assert set(tfp["fallback"].to_list()) == {"none"}


def test_lone_small_industry_falls_back_to_all(panel):
    """A small industry alone in its 1-digit group skips the (identical) group pool."""
    small = simulate_industry("14", 10, np.random.default_rng(3), 0.45, 0.30, 90_000)
    cfg = {**CFG, "industries": [*CFG["industries"], "14"]}
    out, diag = estimate_industry(
        pl.concat([panel, small]), "14", cfg, LOG, measures=["tfp_lp", "cu_sfa_cd"]
    )
    assert set(diag["fallback"].to_list()) == {"all"}
    assert set(diag["pool"].to_list()) == {"14,31,32,35,36"}
    assert out.height == small.height
    assert out["tfp_lp"].null_count() == 0 and out["cu_sfa_cd"].null_count() == 0


def test_no_fallback_configured_logs_and_nulls(panel, caplog):
    cfg = {**CFG, "fallback": []}
    with caplog.at_level(logging.WARNING):
        out, diag = estimate_industry(panel, "35", cfg, LOG, measures=["tfp_lp"])
    d = diag.row(0, named=True)
    assert d["fallback"] == "failed" and not d["converged"]
    assert out["tfp_lp"].null_count() == out.height > 0
    assert any("every pool failed" in r.message for r in caplog.records)


def test_empty_industry_and_gather_schema(panel, results):
    out, diag = estimate_industry(panel, "13", CFG, LOG)
    assert out.height == 0 and out.schema == pl.Schema(MEASURES_SCHEMA)
    assert diag.height == len(driver.MEASURES)
    assert set(diag["fallback"].to_list()) == {"empty"}
    parts = [results[i][0] for i in ("31", "35")] + [out]
    tfp = gather_measures(parts, driver.TFP_COLUMNS)
    assert tfp.columns == ["firm_id", "year", "tfp_op", "tfp_lp"]
    assert tfp.height == results["31"][0].height + results["35"][0].height
    cu = gather_measures([out], driver.CU_COLUMNS)
    assert cu.height == 0
    assert cu.schema == pl.Schema(
        {"firm_id": pl.Int64, "year": pl.Int64, **dict.fromkeys(driver.CU_COLUMNS, pl.Float64)}
    )
    diags = gather_diagnostics([results[i][1] for i in ("31", "35")] + [diag])
    assert diags.schema == pl.Schema(DIAGNOSTICS_SCHEMA)
    assert diags["ind2"].unique().sort().to_list() == ["13", "31", "35"]
    with pytest.raises(ValueError, match="more than one industry"):
        gather_measures([results["31"][0], results["31"][0]], driver.TFP_COLUMNS)


@pytest.mark.parametrize("ind2", ["31", "35"])
def test_yjz_cu_tracks_utilization(panel, results, ind2):
    out, diag = results[ind2]
    d = diag.filter(pl.col("measure") == "cu").row(0, named=True)
    assert d["fallback"] == ("none" if ind2 == "31" else "group"), d
    assert 0.5 <= d["theta"] <= 10.0  # true theta 2
    j = _truth(panel, out)
    late = j.filter(pl.col("year") >= 2008)
    assert late["cu"].null_count() == late.height  # no depreciation in 2008-2010
    pre = j.filter(pl.col("year") < 2008)
    v = pre["cu"].to_numpy()
    assert pre["cu"].null_count() == 0 and np.all(v > 0)
    # uncapped (measures.yjz.cap: null): only the top 1 % of the industry above 1
    assert (v > 1).sum() <= max(1, 0.02 * v.size)
    assert np.corrcoef(v, pre["u"].to_numpy())[0, 1] >= 0.8


def test_yjz_weak_dynamic_identification_gives_missing_cu(panel):
    # every pool fails (weak instrument for ln δ) → the industry's CU is missing, the reason
    # and the pools tried are in the diagnostics; no substituted θ
    cfg = {**CFG, "yjz": {**CFG["yjz"], "method": "dynamic"}}
    out, diag = estimate_industry(panel, "31", cfg, LOG, measures=["cu"])
    d = diag.row(0, named=True)
    assert d["fallback"] == "failed" and d["n_values"] == 0 and d["theta"] is None, d
    assert "weak instrument for ln delta" in d["message"]
    assert "none:" in d["message"] and "group:" in d["message"]
    assert out["cu"].null_count() == out.height


def simulate_world_like(n_firms: int, seed: int) -> pl.DataFrame:
    """One industry shaped like the synthetic world (docs/synthetic_world.md): value added
    with capital services u K, u = 1 - log-normal slack (left-skewed), transitory shock
    v (sd 0.10) and half-normal inefficiency s (scale 0.15); materials monotone in omega and k
    (no u, no s); labour on omega with a wage shock. No gross-output frontier here."""
    rng = np.random.default_rng(seed)
    years = list(range(2001, 2008))
    w = rng.normal(0.0, 0.2 / np.sqrt(1 - 0.49), n_firms)
    f_u = rng.normal(0.0, 0.3, n_firms)
    a_u = rng.normal(0.0, 0.24, n_firms)
    lnk = rng.normal(9.2, 1.1, n_firms)
    rows = []
    for year in years:
        w = 0.7 * w + rng.normal(0.0, 0.2, n_firms)
        a_u = 0.5 * a_u + rng.normal(0.0, 0.24 * np.sqrt(0.75), n_firms)
        u = np.clip(1 - np.exp(np.log(0.25) + f_u + a_u), 0.05, 0.995)
        ln_l = -1.6 + 0.6 * lnk + 0.5 * w + rng.normal(0.0, 0.3, n_firms)
        ln_m = 1.0 + 1.225 * w + 0.57 * lnk + rng.normal(0.0, 0.05, n_firms)
        v = rng.normal(0.0, 0.10, n_firms)
        s = np.abs(rng.normal(0.0, 0.15, n_firms))
        ln_va = 1.0 + 0.45 * ln_l + 0.30 * (lnk + np.log(u)) + w + v - s
        ln_inv = np.log(0.11) + 0.8 * (w + 0.3 * np.log(u)) + 0.95 * lnk
        rows.append(
            pl.DataFrame(
                {
                    "firm_id": np.arange(n_firms),
                    "year": np.full(n_firms, year),
                    "ind2": ["31"] * n_firms,
                    "ln_va": ln_va,
                    "ln_y": np.log(np.exp(ln_va) + np.exp(ln_m)),
                    "ln_l": ln_l,
                    "ln_k": lnk,
                    "ln_m": ln_m,
                    "ln_inv": ln_inv,
                    "ln_k_use": lnk,
                    "dep_rate": 0.12 * u**2,
                    "omega": w,
                    "u": u,
                    "s": s,
                }
            )
        )
        lnk = np.log(0.93 * np.exp(lnk) + np.exp(ln_inv))
    return pl.concat(rows).with_columns(pl.col("firm_id", "year").cast(pl.Int64))


def test_technical_efficiency_frontier_on_value_added():
    """The technical-efficiency frontier (ln_va on ln_k, ln_l, ln_m + year dummies): the right
    skew, and the
    efficiency tracks the output shortfall s - beta_k ln u, not productivity; the
    gross-output frontier on (k, l) of the same world is dominated by omega."""
    panel = simulate_world_like(1500, seed=3)
    cfg = {k: v for k, v in CFG.items() if k not in ("sfa_output", "sfa_inputs")}
    out, diag = estimate_industry(panel, "31", cfg, LOG, measures=["cu_sfa_cd", "cu_sfa_tl"])
    j = _truth(panel, out).join(panel.select("firm_id", "year", "s"), on=["firm_id", "year"])
    shortfall = (j["s"] - 0.3 * np.log(j["u"])).to_numpy()
    for m in ("cu_sfa_cd", "cu_sfa_tl"):
        d = diag.filter(pl.col("measure") == m).row(0, named=True)
        assert d["fallback"] == "none" and d["converged"] and d["gamma"] > 0.3, d
        assert d["skewness"] < 0
        v = j[m].to_numpy()
        assert np.corrcoef(v, j["u"].to_numpy())[0, 1] >= 0.3, m  # measured 0.381
        assert np.corrcoef(v, -shortfall)[0, 1] >= 0.6, m  # measured 0.725
        assert abs(np.corrcoef(v, j["omega"].to_numpy())[0, 1]) < 0.15, m
    gross = {**cfg, "sfa_output": "ln_y", "sfa_inputs": ["ln_k", "ln_l"]}
    out2, d2 = estimate_industry(panel, "31", gross, LOG, measures=["cu_sfa_cd"])
    v2 = _truth(panel, out2)["cu_sfa_cd"].to_numpy()
    # measured: OLS residual skewness +0.012 (wrong sign), no pool left -> null
    failed = d2["fallback"].item() == "failed"
    assert failed or np.corrcoef(v2, j["u"].to_numpy())[0, 1] < 0.2


def test_capacity_frontier_is_the_default():
    """Default SFA CU: a capacity frontier of ln_va in the quasi-fixed inputs (k, l) + year
    dummies, efficiency = observed / frontier output; materials are not in it. Checked
    against fit_sfa on that design directly; technical efficiency stays a named option."""
    panel = simulate_world_like(1500, seed=3)
    cfg = {k: v for k, v in CFG.items() if k not in ("sfa_output", "sfa_inputs", "sfa_kind")}
    out, diag = estimate_industry(panel, "31", cfg, LOG, measures=["cu_sfa_cd"])
    d = diag.row(0, named=True)
    assert d["fallback"] == "none" and d["converged"], d
    years = sorted(panel["year"].unique().to_list())
    design = panel.sort(["firm_id", "year"]).select(
        "ln_va",
        pl.col("ln_k").alias("x_k"),
        pl.col("ln_l").alias("x_l"),
        *[(pl.col("year") == y).cast(pl.Float64).alias(f"yr_{y}") for y in years[1:]],
    )
    names = ["x_k", "x_l", *[f"yr_{y}" for y in years[1:]]]
    ref = fit_sfa(design, y="ln_va", x=names, form="cd", dist="half-normal")
    got = out.sort(["firm_id", "year"])["cu_sfa_cd"].to_numpy()
    np.testing.assert_allclose(got, ref.efficiency.to_numpy(), rtol=1e-6)
    te = estimate_industry(
        panel, "31", {**cfg, "sfa_kind": "technical_efficiency"}, LOG, measures=["cu_sfa_cd"]
    )[0]
    assert np.max(np.abs(te.sort(["firm_id", "year"])["cu_sfa_cd"].to_numpy() - got)) > 0.05
    with pytest.raises(ValueError, match="sfa_kind"):
        estimate_industry(panel, "31", {**cfg, "sfa_kind": "te"}, LOG, measures=["cu_sfa_cd"])


def test_law_of_motion_controls_are_read_from_the_panel(panel, tmp_path):
    """``measures.yjz.law_of_motion_controls`` adds its columns to what the measures read;
    a panel without the column stops with its name (file, column)."""
    cfg = {**CFG, "yjz": {**CFG["yjz"], "law_of_motion_controls": ["platform"]}}
    cols = driver.measure_columns(cfg)
    assert cols[-1] == "platform" and cols[:-1] == driver.REQUIRED_COLUMNS
    assert driver.measure_columns(CFG) == driver.REQUIRED_COLUMNS
    path = tmp_path / "panel.parquet"
    panel.write_parquet(path)
    with pytest.raises(InputError, match="platform"):
        driver.read_panel(path, CFG["industries"], cols)
    panel.with_columns(platform=pl.lit(0, dtype=pl.Int8)).write_parquet(path)
    read = driver.read_panel(path, CFG["industries"], cols)
    assert read.columns == cols
    with pytest.raises(ValueError, match="platform"):
        estimate_industry(panel, "31", cfg, LOG, measures=["cu"])

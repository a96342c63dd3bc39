"""Recovery tests for the Yu–Jin–Zhang (2018) capacity-utilization estimator (cbec.measures.cu).

The panel follows the synthetic world's DGP (docs/synthetic_world.md): ω = α_i + AR(1), capital
by perpetual inventory with investment monotone in ω, labour with an independent wage shock,
materials monotone in ω, utilization u ∈ (0, 1] with its own persistent process (mean ≈ 0.74,
s.d. ≈ 0.12) raised by +0.09 for platform adopters (adoption hazard rises with α), GHH
depreciation δ = 0.12·u², book depreciation δ·exp(N(0, 0.15²)), va = ω + 0.45 l + 0.30 (k + ln u)
+ v − s.

Measured on seed 7 (2,000 firms × 7 years, two industries; sd(α) = 0.15):
pooled β_l 0.449, β_k 0.325, φ 0.151, θ 2.15 (per industry 2.21 / 2.08), corr(cu, u) 0.904,
mean cu 0.718 (true 0.741), platform effect (firm + year FE) on cu 0.066 vs 0.075 on true u.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cbec.measures import cu
from cbec.measures.cu import CUResult, estimate_cu_yjz
from cbec.synth.params import DEFAULTS

BETA_L, BETA_K, THETA, A, TAU_CU = 0.45, 0.30, 2.0, 0.12, 0.09


def simulate_panel(
    n_firms: int = 2000,
    n_years: int = 7,
    *,
    seed: int = 7,
    n_groups: int = 2,
    alpha_sd: float = 0.15,
    sigma_dep: float = 0.15,
    burn: int = 15,
    theta: float = THETA,
    mat_util: float = 0.0,
    omega_alpha: float = 1.0,
    u_firm_sd: float = 0.06,
    tau_tfp: float = 0.13,
) -> pl.DataFrame:
    """Firm-year panel from the synthetic world's production DGP (see module docstring).

    ``mat_util`` is the elasticity c of materials with respect to utilization
    (ln m += c · ln u; c = β_k: materials proportional to output, Leontief), ``omega_alpha``
    the loading of the firm effect α in ω (0: ω is Markov, as in the synthetic world's
    default), ``u_firm_sd`` the s.d. of the permanent firm component of utilization,
    ``tau_tfp`` the platform's effect on ω.
    """
    rng = np.random.default_rng(seed)
    n, T = n_firms, burn + n_years
    grp = rng.integers(0, n_groups, n)
    alpha = rng.normal(0.0, alpha_sd, n)
    join = np.full(n, 10**6)
    for t in range(burn, T):  # staggered, absorbing adoption; hazard rises with α
        new = (join > t) & (rng.random(n) < 0.025 * np.exp(2.0 * alpha / max(alpha_sd, 1e-9) * 0.3))
        join[new] = t
    f_u = rng.normal(0.0, u_firm_sd, n)  # firm effect in utilization
    x_u = rng.normal(0.0, 0.10, n)  # AR(1) part of utilization
    w = rng.normal(0.0, 0.2 / np.sqrt(1 - 0.49), n)  # AR(1) part of ω
    k_target = 3.0 + rng.normal(0.0, 1.2, n)  # firm size
    k = k_target + (np.log(0.07 / 0.065) + 0.6 * alpha) / 0.3 + rng.normal(0.0, 0.3, n)
    frames = []
    for t in range(T):
        platform = (t >= join).astype(float)
        if t > 0:
            w = 0.7 * w + 0.2 * rng.normal(size=n)
            x_u = 0.6 * x_u + 0.10 * 0.8 * rng.normal(size=n)
        omega = omega_alpha * alpha + w + tau_tfp * platform
        u = np.clip(
            0.735 + 0.1 * alpha + f_u + x_u + rng.normal(0, 0.02) + TAU_CU * platform, 0.05, 1.0
        )
        delta = A * u**theta
        dep_rate = delta * np.exp(sigma_dep * rng.normal(size=n))
        lab = 0.5 + 0.6 * omega + 0.4 * k + 0.3 * rng.normal(size=n)
        mat = 1.0 + 1.0 * omega + 0.6 * k + mat_util * np.log(u) + 0.05 * rng.normal(size=n)
        va = (
            1.0
            + omega
            + BETA_L * lab
            + BETA_K * (k + np.log(u))
            + 0.1 * rng.normal(size=n)
            - np.abs(0.2 * rng.normal(size=n))
        )
        if t >= burn:
            frames.append(
                pl.DataFrame(
                    {
                        "firm": np.arange(n),
                        "year": 2001 + t - burn,
                        "ind2": np.where(grp == 0, "17", "34")
                        if n_groups == 2
                        else grp.astype(str),
                        "lnva": va,
                        "lnl": lab,
                        "lnk": k,
                        "lnm": mat,
                        "dep_rate": dep_rate,
                        "u": u,
                        "platform": platform,
                    }
                )
            )
        inv = np.exp(
            k + np.log(0.07) + 0.6 * omega - 0.3 * (k - k_target) + 0.05 * rng.normal(size=n)
        )
        k = np.log((1 - delta) * np.exp(k) + inv)
    return pl.concat(frames)


def _fit(df: pl.DataFrame, **kw) -> CUResult:
    return estimate_cu_yjz(
        df,
        va="lnva",
        labor="lnl",
        capital="lnk",
        depreciation_rate="dep_rate",
        proxy="lnm",
        id="firm",
        time="year",
        **kw,
    )


def _twfe_coef(y: np.ndarray, d: np.ndarray, firm: np.ndarray, year: np.ndarray) -> float:
    """Coefficient of d in y ~ d | firm + year (alternating projections)."""

    def demean(v: np.ndarray) -> np.ndarray:
        v = v.copy()
        for _ in range(50):
            for g in (firm, year):
                _, inv = np.unique(g, return_inverse=True)
                v -= (np.bincount(inv, v) / np.bincount(inv))[inv]
        return v

    yd, dd = demean(y), demean(d)
    return float(dd @ yd / (dd @ dd))


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return simulate_panel()


@pytest.fixture(scope="module")
def fitted(panel: pl.DataFrame) -> CUResult:
    # the first-stage ("iv") estimator: valid here because materials do not respond to u
    return _fit(panel, group="ind2", method="iv")


def test_coefficients_recovered(fitted: CUResult) -> None:
    # pooled and per-industry β within 0.05 of the truth
    assert abs(fitted.coef["beta_l"] - BETA_L) < 0.05, fitted.coef
    assert abs(fitted.coef["beta_k"] - BETA_K) < 0.05, fitted.coef
    # φ = β_k / θ = 0.15 comes from the (measurement-error robust) first stage
    assert abs(fitted.coef["phi"] - BETA_K / THETA) < 0.02, fitted.coef
    bg = fitted.by_group
    assert bg.height == 2 and not bg["fallback_used"].any() and bg["converged"].all()
    assert (bg["beta_l"] - BETA_L).abs().max() < 0.05
    assert (bg["beta_k"] - BETA_K).abs().max() < 0.05


def test_theta_recovered(fitted: CUResult) -> None:
    # tolerance 0.5 (25 %): θ = β_k/φ inherits the ACF bias of β_k from the permanent firm effect
    # in ω (not Markov in ω alone; +0.03 in β_k ≈ +0.2 in θ) plus sampling error.
    assert abs(fitted.theta - THETA) < 0.5, fitted.theta
    assert ((fitted.by_group["theta"] - THETA).abs() < 0.5).all(), fitted.by_group


def test_cu_tracks_true_utilization(panel: pl.DataFrame, fitted: CUResult) -> None:
    cu = fitted.cu
    assert cu.len() == panel.height and cu.null_count() == 0
    # uncapped by default: about 1 − norm_quantile of each group above 1
    assert cu.min() > 0 and 0.0 < float((cu > 1.0).mean()) < 0.02
    r = np.corrcoef(cu.to_numpy(), panel["u"].to_numpy())[0, 1]
    assert r >= 0.8, r  # measured 0.91
    # level: the 0.99-quantile normalization puts the mean close to the truth (0.74)
    assert abs(cu.mean() - panel["u"].mean()) < 0.06


def test_planted_platform_effect(panel: pl.DataFrame, fitted: CUResult) -> None:
    firm, year = panel["firm"].to_numpy(), panel["year"].to_numpy()
    d = panel["platform"].to_numpy()
    b_true = _twfe_coef(panel["u"].to_numpy(), d, firm, year)  # ≈ 0.085 (cap at 1 bites)
    b_est = _twfe_coef(fitted.cu.to_numpy(), d, firm, year)
    # right sign; magnitude within 35 % of the same regression on true u. The scale of cu is
    # set by the normalization (top quantile of a noisy u = 1 → cu shrunk by the noise at the
    # top) and by θ̂ (d ln cu = d ln u · θ/θ̂), so only the magnitude, not the exact value,
    # is identified.
    assert b_true > 0.07
    assert b_est > 0
    assert abs(b_est / b_true - 1) < 0.35, (b_est, b_true)


def test_missing_depreciation_gives_null(panel: pl.DataFrame) -> None:
    df = panel.with_columns(
        dep_rate=pl.when(pl.col("year") == 2004)
        .then(None)
        .when((pl.col("firm") % 50 == 0) & (pl.col("year") == 2006))
        .then(0.0)
        .otherwise(pl.col("dep_rate"))
    )
    res = _fit(df, group="ind2", method="iv")
    missing = (df["year"] == 2004) | ((df["firm"] % 50 == 0) & (df["year"] == 2006))
    assert res.cu.filter(missing).null_count() == missing.sum()
    assert res.cu.filter(~missing).null_count() == 0
    assert not res.cu.is_nan().any()
    assert not res.by_group["fallback_used"].any()


def test_normalization_is_configurable(panel: pl.DataFrame) -> None:
    res = _fit(panel, norm_quantile=0.9, norm_value=0.95, method="iv", cap=1.0)
    q = float(np.quantile(res.cu.to_numpy(), 0.9))
    assert abs(q - 0.95) < 1e-6
    assert res.cu.max() == 1.0
    # same θ, different level: ranks unchanged
    base = _fit(panel, method="iv")
    assert abs(res.theta - base.theta) < 1e-12
    assert np.corrcoef(res.cu.to_numpy(), base.cu.to_numpy())[0, 1] > 0.99


def test_fallback_to_pooled_and_missing(panel: pl.DataFrame) -> None:
    rng = np.random.default_rng(11)
    # industry "34": depreciation unrelated to utilization → φ not identified
    noisy = panel.with_columns(
        dep_rate=pl.when(pl.col("ind2") == "34")
        .then(pl.Series(0.08 * np.exp(0.3 * rng.normal(size=panel.height))))
        .otherwise(pl.col("dep_rate"))
    )
    res = _fit(noisy, group="ind2", theta_bounds=(1.0, 4.0), method="iv")
    bg = res.by_group.sort("group")
    assert bg["fallback_used"].to_list() == [False, True]
    assert bg["first_stage_f"][1] < 10 < bg["first_stage_f"][0]
    assert "weak instrument" in bg["message"][1]
    assert "pooled theta" in bg["message"][1]
    assert res.cu.null_count() == 0 and float((res.cu > 1.0).mean()) < 0.02
    # no group, and no usable signal at all → not estimable: CU missing, θ NaN, reason given
    junk = panel.with_columns(
        dep_rate=pl.Series(0.08 * np.exp(0.3 * rng.normal(size=panel.height)))
    )
    for method in ("dynamic", "iv"):
        res2 = _fit(junk, theta_bounds=(1.0, 4.0), method=method)
        row = res2.by_group.row(0, named=True)
        assert "not estimable: CU is null" in row["message"], row
        assert row["n_cu"] == 0 and not row["fallback_used"]
        assert np.isnan(res2.theta) and res2.cu.null_count() == junk.height
    with pytest.raises(TypeError):
        _fit(junk, theta_default=2.0)  # no substituted θ exists any more


def test_robust_to_larger_firm_effect() -> None:
    # synthetic-world default sd(α) = 0.3: β_k (and θ) biased up (ω not Markov), but the CU
    # ranking and the sign of the planted effect survive (measured: θ 2.6, corr 0.91).
    df = simulate_panel(1500, seed=8, alpha_sd=0.3, n_groups=1)
    res = _fit(df, method="iv")
    r = np.corrcoef(res.cu.to_numpy(), df["u"].to_numpy())[0, 1]
    assert r >= 0.8, r
    b = _twfe_coef(
        res.cu.to_numpy(), df["platform"].to_numpy(), df["firm"].to_numpy(), df["year"].to_numpy()
    )
    assert b > 0.03, b


def test_no_firm_effect_exact_recovery_and_acf_variant() -> None:
    # Without the permanent firm effect ω is Markov and the default ("iv") estimator recovers θ
    # tightly despite the book-depreciation noise (measured: θ 1.94, β_k 0.303, φ 0.156).
    df = simulate_panel(1500, seed=12, alpha_sd=0.0, n_groups=1)
    res = _fit(df, method="iv")
    assert abs(res.theta - THETA) < 0.2, res.theta
    assert abs(res.coef["beta_k"] - BETA_K) < 0.03 and abs(res.coef["beta_l"] - BETA_L) < 0.03
    # The literal ACF variant (φ in the second stage, instrument ln δ_{t−1}) is identified only
    # by the difference in persistence between u and ω: here it is not (φ̂ = 0.02, θ̂ = 12.8),
    # and the estimator must say so: the CU is missing, never a substituted θ.
    acf = _fit(df, method="acf")
    bg = acf.by_group
    assert acf.cu.null_count() == df.height
    assert not bg["fallback_used"][0] and "not estimable" in bg["message"][0]
    assert abs(bg["beta_k"][0] - BETA_K) < 0.05  # β_k itself is fine
    with pytest.raises(ValueError):
        _fit(df, method="ols")


# ------------------------------------------------- materials respond to utilization (issue 13)

# World-like panels: ω Markov (the synthetic world's default alpha_omega = 0) and a permanent
# firm component in u (about 2/3 of its variance, as sd_firm 0.30 vs sd_ar 0.24 of the
# world's log slack); materials ln m += c · ln u. Cases fixed before looking at the estimates:
# two values of c, three θ, four seeds.
MAT_UTIL_CASES = [(31, 0.3, 2.0), (32, 1.0, 2.0), (33, 0.3, 3.0), (34, 1.0, 1.5)]
THETA_TOL_SIM = 0.25  # from held-out seeds; see the test below


def _mat_util_panel(seed: int, c: float, theta: float) -> pl.DataFrame:
    return simulate_panel(4000, seed=seed, omega_alpha=0.0, u_firm_sd=0.15, mat_util=c, theta=theta)


@pytest.mark.parametrize(("seed", "c", "theta"), MAT_UTIL_CASES)
def test_dynamic_recovers_theta_when_materials_respond(seed: int, c: float, theta: float) -> None:
    # measured (pooled θ̂ / truth): 1.61/2, 2.25/2, 2.53/3, 1.35/1.5; corr 0.91-0.96.
    # Tolerance from held-out seeds 41-48 (c 0, 0.3, 1; θ 1.5, 2, 3; chosen before running):
    # θ̂/θ 0.78-0.96, mean 0.87, s.d. 0.07, max |error| 0.224. The bias (about -13 %) is the
    # world's (docs/methods.md: the platform's effect on ω outside the law of motion; this
    # simulator has it too); 0.25 = that max plus a margin (the cases here are within 0.194).
    df = _mat_util_panel(seed, c, theta)
    res = _fit(df, group="ind2", method="dynamic")
    assert res.meta["pooled_valid"], res.meta
    assert abs(res.theta / theta - 1) <= THETA_TOL_SIM, (res.theta, theta)
    cu = res.cu.to_numpy()
    assert res.cu.null_count() == 0
    assert np.corrcoef(cu, df["u"].to_numpy())[0, 1] >= 0.8


@pytest.mark.parametrize("c", [0.3, 1.0])
def test_first_stage_estimator_fails_when_materials_respond(c: float) -> None:
    # the former default: conditional on m, ln δ also carries −ω, so φ̂ ≈ (β_k − c)/θ ≤ 0.005
    # and θ̂ explodes or turns negative; the industry is then not estimable (CU missing)
    df = _mat_util_panel(31, c, 2.0)
    res = _fit(df, method="iv")
    assert res.coef["phi"] < 0.02, res.coef
    assert not res.meta["pooled_valid"]
    assert res.cu.null_count() == df.height


def test_unknown_investment_rate_is_left_out_of_the_moments() -> None:
    """A null ln investment is an unknown I/K, not zero investment: the rows whose t − 1 rate
    is unknown leave the GMM moments (counted) and still get a CU; the rest are unchanged."""
    df = _mat_util_panel(31, 0.3, 2.0).head(7 * 1500)
    rng = np.random.default_rng(5)
    inv = df["lnk"] + np.log(0.1) + rng.normal(0, 0.3, df.height)
    df = df.with_columns(ln_inv=pl.Series(inv).set(pl.Series(rng.random(df.height) < 0.2), None))
    res = _fit(df, method="dynamic", investment="ln_inv")
    lag = df.select("firm", "year", pl.col("ln_inv").is_null().alias("unk"))
    two = df.join(lag.with_columns(pl.col("year") + 1), on=["firm", "year"], suffix="_1").join(
        lag.select("firm", pl.col("year") + 2), on=["firm", "year"]
    )
    expected = int(two["unk"].sum())
    assert expected > 0
    assert res.meta["pooled_n_iv_unknown"] == expected
    assert res.by_group["n_iv_unknown"].to_list() == [expected]
    assert res.by_group["n"][0] == two.height - expected
    assert res.cu.null_count() == 0


LOM = ("platform",)


@pytest.mark.parametrize("seed", [31, 32])
def test_platform_in_the_law_of_motion(seed: int) -> None:
    """De Loecker (2013): with a platform effect on ω an exogenous Markov process biases θ̂
    (down here); platform status of t − 1 in the law of motion closes most of the gap to
    the θ̂ of the same world without the effect, and changes nothing without the effect.
    Measured (seeds 31, 32, 35, 36; c 0.3, θ 2): without the effect the control moves θ̂ by
    −1.9 % to +0.1 %; with it, θ̂ rises by 6–12 % and closes 58–83 % of the gap."""
    kw = {"omega_alpha": 0.0, "u_firm_sd": 0.15, "mat_util": 0.3, "theta": 2.0}
    none = simulate_panel(4000, seed=seed, tau_tfp=0.0, **kw)
    base = _fit(none, group="ind2", method="dynamic").theta
    assert (
        abs(_fit(none, group="ind2", method="dynamic", law_of_motion=LOM).theta / base - 1) <= 0.03
    )
    df = simulate_panel(4000, seed=seed, **kw)
    exog = _fit(df, group="ind2", method="dynamic").theta
    res = _fit(df, group="ind2", method="dynamic", law_of_motion=LOM)
    assert res.meta["law_of_motion"] == ["platform"]
    assert base - exog > 0.05 * base  # the omitted effect matters in this world
    assert res.theta - exog >= 0.5 * (base - exog), (base, exog, res.theta)


def test_unknown_platform_status_is_left_out_of_the_moments() -> None:
    """A null platform status of t − 1 leaves the row out of the moments (counted), the row
    keeps its CU; the law of motion needs the ``dynamic`` method."""
    df = _mat_util_panel(31, 0.3, 2.0).head(7 * 1500)
    rng = np.random.default_rng(6)
    miss = pl.Series(rng.random(df.height) < 0.1)
    df = df.with_columns(platform=df["platform"].set(miss, None))
    res = _fit(df, method="dynamic", law_of_motion=LOM)
    nul = df.select(
        "firm", (pl.col("year") + 1).alias("year"), pl.col("platform").is_null().alias("unk")
    )
    two = df.join(nul, on=["firm", "year"]).join(
        df.select("firm", pl.col("year") + 2), on=["firm", "year"]
    )
    expected = int(two["unk"].sum())
    assert expected > 0
    assert res.meta["pooled_n_lom_unknown"] == expected
    assert res.by_group["n"][0] == two.height - expected
    assert res.cu.null_count() == 0
    with pytest.raises(ValueError, match="law_of_motion"):
        _fit(df, method="iv", law_of_motion=LOM)


def test_pooled_industries_each_have_their_own_level() -> None:
    """Industries pooled in one estimate (the driver's fallback pools) each get an effect per
    year (``strata="ind2"``, passed by ``cu_yjz``): a level shift of one industry's value
    added leaves θ̂ unchanged. Under one intercept the shift would sit in ω and move θ̂."""
    from cbec.measures.cu import cu_yjz

    df = _mat_util_panel(31, 0.3, 2.0).head(7 * 2000)
    names = {"lnva": "ln_va", "lnl": "ln_l", "lnk": "ln_k", "lnm": "ln_m", "firm": "firm_id"}
    pool = df.rename(names)
    shifted = pool.with_columns(
        pl.when(pl.col("ind2") == "34").then(pl.col("ln_va") + 1.0).otherwise(pl.col("ln_va"))
    )
    yjz = {"method": "dynamic", "capital": "ln_k", "min_f": 10.0, "norm_quantile": 0.99}
    cfg = {"yjz": {**yjz, "norm_value": 1.0, "theta_bounds": [0.5, 10.0]}, "poly_degree": 2}
    base, moved = cu_yjz(pool, cfg), cu_yjz(shifted, cfg)
    assert base.ok and moved.ok, (base.message, moved.message)
    assert moved.diag["theta"] == pytest.approx(base.diag["theta"], rel=1e-6)
    assert "assumes wear at a rate unrelated to use" in base.message
    # the same pool under one intercept is not invariant
    one = {"capital": "ln_k", "depreciation_rate": "dep_rate", "proxy": "ln_m", "method": "dynamic"}
    kw = {"va": "ln_va", "labor": "ln_l", "id": "firm_id", "time": "year", **one}
    a, b = estimate_cu_yjz(pool, **kw), estimate_cu_yjz(shifted, **kw)
    assert abs(b.theta - a.theta) > 0.01 * a.theta, (a.theta, b.theta)


def _fallback_pool() -> tuple[pl.DataFrame, int, dict]:
    """A two-industry pool in the driver's column names, sorted so that the first
    industry's ``own_n`` rows come first, and a ``dynamic`` YJZ config."""
    names = {"lnva": "ln_va", "lnl": "ln_l", "lnk": "ln_k", "lnm": "ln_m", "firm": "firm_id"}
    pool = _mat_util_panel(31, 0.3, 2.0).head(7 * 2000).rename(names).sort("ind2")
    own_n = int((pool["ind2"] == pool["ind2"][0]).sum())
    yjz = {"method": "dynamic", "capital": "ln_k", "min_f": 10.0, "norm_quantile": 0.99}
    return pool, own_n, yjz | {"norm_value": 1.0, "theta_bounds": [0.5, 10.0]}


def test_fallback_pool_uses_the_configured_normalization() -> None:
    """On a fallback pool (``own_n`` rows of the industry first) the industry's CU is
    normalized within the industry with ``norm_method``: ``deconvolved`` gives the level of
    :func:`level_ln_a` on the industry's own rows (their firms and years), not the plain
    quantile's."""
    from cbec.measures.cu import cu_yjz, level_ln_a

    pool, own_n, yjz = _fallback_pool()
    fits = {
        m: cu_yjz(pool, {"yjz": {**yjz, "norm_method": m}, "poly_degree": 2}, own_n=own_n)
        for m in ("quantile", "deconvolved")
    }
    theta = fits["deconvolved"].diag["theta"]
    own = pool.head(own_n)
    lnd = np.log(own["dep_rate"].to_numpy())
    ln_a = level_ln_a(
        lnd, theta, "deconvolved", 0.99, 1.0, own["firm_id"].to_numpy(), own["year"].to_numpy()
    )
    want = np.exp((lnd - ln_a) / theta)  # uncapped (measures.yjz.cap: null)
    np.testing.assert_allclose(fits["deconvolved"].values, want, rtol=1e-12)
    assert np.nanmean(fits["deconvolved"].values) > np.nanmean(fits["quantile"].values) + 0.01


def test_a_given_noise_variance_sets_the_deconvolved_level() -> None:
    """With the pooled book noise variance (rule book_noise) the deconvolved level uses it
    on both paths: 0 gives the plain quantile's CU, a larger variance a lower level (higher
    CU), and the industry's own rows are normalized with the same variance."""
    from cbec.measures.cu import cu_yjz, level_ln_a

    pool, own_n, yjz = _fallback_pool()
    cfg = {"yjz": {**yjz, "norm_method": "deconvolved"}, "poly_degree": 2}
    plain = cu_yjz(pool, {**cfg, "yjz": {**yjz, "norm_method": "quantile"}}, own_n=own_n)
    zero = cu_yjz(pool, cfg, own_n=own_n, noise_var=0.0)
    np.testing.assert_allclose(zero.values, plain.values, rtol=1e-12)
    noisy = cu_yjz(pool, cfg, own_n=own_n, noise_var=0.04)
    theta = noisy.diag["theta"]
    lnd = np.log(pool.head(own_n)["dep_rate"].to_numpy())
    ln_a = level_ln_a(lnd, theta, "deconvolved", 0.99, 1.0, noise_var=0.04)
    np.testing.assert_allclose(noisy.values, np.exp((lnd - ln_a) / theta), rtol=1e-12)
    assert np.nanmean(noisy.values) > np.nanmean(plain.values) + 0.01
    whole = cu_yjz(pool.head(own_n), cfg, noise_var=0.04)  # the module's path
    assert np.nanmean(whole.values) > np.nanmean(
        cu_yjz(pool.head(own_n), cfg, noise_var=0.0).values
    )


def test_cap_is_an_option_on_both_paths(panel: pl.DataFrame) -> None:
    """``cap``: u ≤ cap on the module's path and on a fallback pool's; None leaves u
    uncapped (the capped CU is the uncapped one clipped, and nothing else moves)."""
    from cbec.measures.cu import cu_yjz

    capped, free = _fit(panel, method="iv", cap=1.0), _fit(panel, method="iv")
    c, f = capped.cu.to_numpy(), free.cu.to_numpy()
    assert c.max() == 1.0 and f.max() > 1.0
    assert 0.005 < float(np.mean(f > 1.0)) < 0.03  # about 1 − norm_quantile above 1
    np.testing.assert_array_equal(c, np.minimum(f, 1.0))
    low = _fit(panel, method="iv", cap=1.1).cu.to_numpy()
    np.testing.assert_array_equal(low, np.minimum(f, 1.1))
    with pytest.raises(ValueError, match="cap"):
        _fit(panel, method="iv", norm_value=0.95, cap=0.9)
    pool, own_n, yjz = _fallback_pool()
    fits = {
        cap: cu_yjz(pool, {"yjz": {**yjz, "cap": cap}, "poly_degree": 2}, own_n=own_n)
        for cap in (1.0, None)
    }
    assert np.nanmax(fits[None].values) > 1.0
    np.testing.assert_array_equal(fits[1.0].values, np.minimum(fits[None].values, 1.0))


def test_theta_standard_error_matches_the_spread_over_draws() -> None:
    """The firm-clustered standard error of θ̂ (the second stage's GMM sandwich of (β, λ, ρ),
    stage 1 taken as known, delta method) against the s.d. of θ̂ over 20 draws of the same
    design (seeds 500–519, 2,000 firms, c 0.3, θ 2, platform status in the law of motion).
    Measured: s.d. 0.292, mean s.e. 0.277 (0.95); blocks 520–539 and 540–559: 1.17 and
    1.13. The bounds leave the spread of such a ratio over 20 draws (about ±20 %)."""
    theta, se = [], []
    for seed in range(500, 520):
        df = simulate_panel(2000, seed=seed, omega_alpha=0.0, u_firm_sd=0.15, mat_util=0.3)
        res = _fit(df, method="dynamic", law_of_motion=LOM)
        theta.append(res.theta)
        se.append(res.meta["pooled_theta_se"])
        row = res.by_group.row(0, named=True)
        assert row["theta_se"] == pytest.approx(se[-1])  # one group: the pooled fit
    ratio = np.mean(se) / np.std(theta, ddof=1)
    assert 0.7 <= ratio <= 1.4, (ratio, theta, se)


def test_theta_standard_error_equals_an_independent_sandwich() -> None:
    """``_theta_se`` against a sandwich built here another way: the Jacobian of the moments
    by finite differences in (b, ρ), the moments' variance summed firm by firm in a loop,
    the cluster factor G/(G − 1), θ's gradient by finite differences. The design has firm
    effects in the errors, so clustering matters (the i.i.d. value differs by > 30 %)."""
    rng = np.random.default_rng(5)
    n_firms, t_len = 60, 5
    firm = np.repeat(np.arange(n_firms), t_len)
    n = firm.size
    Z = rng.normal(size=(n_firms, 6))[firm] + rng.normal(size=(n, 6))
    X_t = Z[:, :4] @ rng.normal(size=(4, 4)) + rng.normal(size=(n, 4))
    X_l = 0.5 * X_t + rng.normal(size=(n, 4))
    err = rng.normal(size=n_firms)[firm] * 2.0 + rng.normal(size=n)
    b, rho = np.array([0.45, 0.30, 0.15, -0.05]), 0.6
    y_l = X_l @ b + rng.normal(size=n)
    y_t = rho * y_l + (X_t - rho * X_l) @ b + err * (1 + np.abs(Z[:, 0]))
    arrays = (y_t, y_l, X_t, X_l, Z)

    def moments(p: np.ndarray) -> np.ndarray:
        e = (y_t - p[-1] * y_l) - (X_t - p[-1] * X_l) @ p[:-1]
        return Z.T @ e / n

    p0 = np.append(b, rho)
    h = 1e-6
    G = np.column_stack(
        [
            (moments(p0 + h * np.eye(5)[j]) - moments(p0 - h * np.eye(5)[j])) / (2 * h)
            for j in range(5)
        ]
    )
    e = (y_t - rho * y_l) - (X_t - rho * X_l) @ b
    S = np.zeros((6, 6))
    for f in range(n_firms):
        g_f = Z[firm == f].T @ e[firm == f]
        S += np.outer(g_f, g_f)
    S *= n_firms / (n_firms - 1) / n**2
    W = np.linalg.inv(Z.T @ Z / n)
    bread = np.linalg.inv(G.T @ W @ G)
    V = bread @ G.T @ W @ S @ W @ G @ bread
    grad = np.array(
        [
            ((p0 + h * np.eye(5)[j])[1] / (p0 + h * np.eye(5)[j])[2] - p0[1] / p0[2]) / h
            for j in range(5)
        ]
    )
    expected = float(np.sqrt(grad @ V @ grad))
    assert cu._theta_se(arrays, rho, b, firm) == pytest.approx(expected, rel=1e-4)
    iid = cu._theta_se(arrays, rho, b, np.arange(n))
    assert abs(iid / expected - 1) > 0.3


def test_theta_standard_error_only_for_dynamic(panel: pl.DataFrame) -> None:
    dyn = _fit(_mat_util_panel(31, 0.3, 2.0), group="ind2", method="dynamic", law_of_motion=LOM)
    se = dyn.by_group["theta_se"].to_numpy()
    assert np.isfinite(se).all() and (se > 0).all() and dyn.meta["pooled_theta_se"] > 0
    res = _fit(panel, group="ind2", method="iv")
    assert np.isnan(res.meta["pooled_theta_se"])
    assert res.by_group["theta_se"].is_nan().all()


def test_imprecise_group_theta_falls_back_to_the_pooled_one() -> None:
    """A group whose own θ̂ is within 2 s.e. of zero (``max_theta_rel_se`` 0.5) takes the
    pooled θ, like an invalid one; without the limit it keeps its own (seed 62: 97 firms in
    group 34, its own θ̂ 3.93 with s.e. 4.13)."""
    df = simulate_panel(4000, seed=62, omega_alpha=0.0, u_firm_sd=0.15, mat_util=0.3)
    df = df.filter((pl.col("ind2") == "17") | (pl.col("firm") % 20 == 0))
    kw = {"group": "ind2", "method": "dynamic", "law_of_motion": LOM}
    own = _fit(df, **kw).by_group.row(1, named=True)
    assert own["group"] == "34" and not own["fallback_used"]
    assert own["theta_se"] > 0.5 * own["theta"]
    res = _fit(df, **kw, max_theta_rel_se=0.5)
    row = res.by_group.row(1, named=True)
    assert row["fallback_used"] and "imprecise" in row["message"], row
    assert row["theta"] == pytest.approx(res.theta)
    assert row["theta_se"] == pytest.approx(res.meta["pooled_theta_se"])
    big = res.by_group.row(0, named=True)  # precise enough: its own θ̂
    assert not big["fallback_used"] and big["theta_se"] < 0.5 * big["theta"]
    with pytest.raises(ValueError, match="max_theta_rel_se"):
        _fit(df, **kw, max_theta_rel_se=0.0)


def test_level_control_is_for_dynamic_and_keeps_rows_without_it_out() -> None:
    """``level_control`` needs ``dynamic``; rows whose control is null leave the
    estimation like rows with any other input missing (their lags with them)."""
    df = simulate_panel(1500, seed=5, omega_alpha=0.0, u_firm_sd=0.15, mat_util=0.3)
    rng = np.random.default_rng(5)
    dlev = pl.Series(-0.1 * rng.random(df.height)).set(pl.Series(rng.random(df.height) < 0.1), None)
    df = df.with_columns(dlev=dlev)
    with pytest.raises(ValueError, match="level_control needs method 'dynamic'"):
        _fit(df, method="iv", level_control="dlev")
    full = _fit(
        df.with_columns(pl.col("dlev").fill_null(-0.05)),
        method="dynamic",
        law_of_motion=LOM,
        level_control="dlev",
    )
    part = _fit(df, method="dynamic", law_of_motion=LOM, level_control="dlev")
    assert part.by_group["n"][0] < full.by_group["n"][0]
    assert np.isfinite(part.coef["level"]) and np.isnan(_fit(df, method="dynamic").coef["level"])


def test_generic_starts_are_not_the_world_parameters():
    # no estimator default may equal a world parameter: the GMM starts besides OLS's are
    # corners, away from the world's beta_l, beta_k and phi = beta_k / theta
    p = DEFAULTS["production"]
    world = (p["beta_l"], p["beta_k"], p["beta_k"] / p["dep_theta"])
    assert all(abs(x - w) > 0.04 for x in cu._GENERIC_STARTS.ravel() for w in world)

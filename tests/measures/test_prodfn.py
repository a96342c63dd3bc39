"""Tests for cbec.measures.prodfn (OP / LP / ACF production-function estimation)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import OptimizeResult

from cbec.measures import prodfn
from cbec.measures.prodfn import estimate_prodfn

FREE = ["log_lab1", "log_lab2"]


@pytest.fixture(scope="module")
def chilean(refdata) -> pl.DataFrame:
    return pl.read_csv(refdata / "chilean_prodest.csv")


def simulate_panel(
    n_firms: int = 1000, n_years: int = 10, seed: int = 0, b_l: float = 0.6, b_k: float = 0.4
) -> pl.DataFrame:
    """ACF-style DGP with known elasticities.

    omega: AR(1) in half periods (rho 0.7 per half period); labor is chosen at t-1/2 from
    omega_{t-1/2}, capital, its own lag (adjustment) and a persistent wage shock (AR 0.95),
    so l_{t-1} is a relevant instrument whose persistence differs from omega's (ACF identified);
    investment and materials are monotone in omega_t given k_t (mildly nonlinear); capital
    accumulates from last period's investment plus an independent shock; y has i.i.d.
    measurement error.  About 5% of rows are dropped at random (gaps break lags).
    """
    rng = np.random.default_rng(seed)
    burn = 20
    omega = np.zeros(n_firms)
    wage = np.zeros(n_firms)
    l_prev = np.zeros(n_firms)
    k = rng.normal(2.0, 0.5, n_firms)
    frames = []
    for t in range(n_years + burn):
        omega_half = 0.7 * omega + rng.normal(0, 0.2, n_firms)
        wage = 0.95 * wage + rng.normal(0, 0.3, n_firms)
        lab = 0.5 * l_prev + 0.5 + 0.8 * omega_half + 0.3 * k - 0.5 * wage
        l_prev = lab
        omega = 0.7 * omega_half + rng.normal(0, 0.2, n_firms)
        inv = 0.2 + 1.5 * omega + 0.6 * k + 0.3 * omega**2
        mat = 0.5 + 1.0 * omega + 0.7 * k + 0.2 * omega**2
        y = 1.0 + b_l * lab + b_k * k + omega + rng.normal(0, 0.1, n_firms)
        if t >= burn:
            frames.append(
                pl.DataFrame(
                    {
                        "firm": np.arange(n_firms),
                        "year": np.full(n_firms, 2000 + t - burn),
                        "y": y,
                        "l": lab,
                        "k": k,
                        "i": inv,
                        "m": mat,
                    }
                )
            )
        k = 0.85 * k + 0.1 * inv + 0.1 + rng.normal(0, 0.3, n_firms)
    df = pl.concat(frames).sort("firm", "year")
    return df.filter(pl.Series(rng.random(df.height) > 0.05))


@pytest.fixture(scope="module")
def sim() -> pl.DataFrame:
    return simulate_panel()


# --- published prodest numbers (vignette Table 1), tolerance 0.002 -------------------------


@pytest.mark.parametrize(
    ("method", "proxy", "expected"),
    [
        ("op", "log_investment", {"log_lab1": 0.314, "log_lab2": 0.256, "log_k": 0.168}),
        ("lp", "log_materials", {"log_lab1": 0.199, "log_lab2": 0.169, "log_k": 0.117}),
    ],
)
def test_chilean_reproduces_prodest(chilean, method, proxy, expected):
    res = estimate_prodfn(chilean, method, "log_y", FREE, ["log_k"], proxy, "id", "year")
    assert res.converged, res.message
    assert res.nobs == 2544
    assert res.n_lag_obs == 1944
    assert res.method == method
    assert res.se is None
    for name, ref in expected.items():
        assert res.coef[name] == pytest.approx(ref, abs=0.002), (name, res.coef[name])
    assert res.tfp.len() == chilean.height
    assert res.tfp.null_count() == 0


# --- planted truths on simulated panels, tolerance 0.03 -------------------------------------


@pytest.mark.parametrize(("method", "proxy"), [("op", "i"), ("lp", "m"), ("acf", "m")])
def test_simulated_recovery(sim, method, proxy):
    res = estimate_prodfn(sim, method, "y", ["l"], ["k"], proxy, "firm", "year")
    assert res.converged, res.message
    assert res.coef["l"] == pytest.approx(0.6, abs=0.03)
    assert res.coef["k"] == pytest.approx(0.4, abs=0.03)
    # TFP = y - b_l l - b_k k, aligned with rows
    expected = sim["y"] - res.coef["l"] * sim["l"] - res.coef["k"] * sim["k"]
    np.testing.assert_allclose(res.tfp.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)


def test_acf_start_selects_root_and_is_used(sim):
    res = estimate_prodfn(
        sim, "acf", "y", ["l"], ["k"], "m", "firm", "year", start={"l": 0.6, "k": 0.4}
    )
    assert res.converged, res.message
    assert res.objective < 1e-12  # just identified: an exact root
    assert res.coef["l"] == pytest.approx(0.6, abs=0.03)


# --- bootstrap -------------------------------------------------------------------------------


def test_bootstrap_deterministic_for_seed(chilean):
    kw = dict(
        method="op",
        y="log_y",
        free=FREE,
        state=["log_k"],
        proxy="log_investment",
        id="id",
        time="year",
        bootstrap_reps=6,
    )
    a = estimate_prodfn(chilean, seed=7, **kw)
    b = estimate_prodfn(chilean, seed=7, **kw)
    c = estimate_prodfn(chilean, seed=8, **kw)
    assert a.se is not None and b.se is not None and c.se is not None
    assert a.se == b.se
    np.testing.assert_array_equal(a.boot_coef, b.boot_coef)
    assert a.se != c.se
    for name in [*FREE, "log_k"]:
        # published bootstrap SEs are 0.028-0.036; a 6-draw estimate is rough
        assert 0.005 < a.se[name] < 0.15
    # point estimates are not affected by the bootstrap
    assert a.coef == estimate_prodfn(chilean, **{**kw, "bootstrap_reps": 0}).coef


# --- attrition correction ----------------------------------------------------------------


def test_op_exit_correction_runs(chilean):
    last = pl.col("year").max().over("id")
    df = chilean.with_columns(
        exit=((pl.col("year") == last) & (last != pl.col("year").max())).cast(pl.Int8)
    )
    base = estimate_prodfn(df, "op", "log_y", FREE, ["log_k"], "log_investment", "id", "year")
    res = estimate_prodfn(
        df, "op", "log_y", FREE, ["log_k"], "log_investment", "id", "year", exit="exit"
    )
    assert res.converged, res.message
    assert np.isfinite(res.coef["log_k"])
    assert res.coef["log_k"] != base.coef["log_k"]
    assert abs(res.coef["log_k"] - base.coef["log_k"]) < 0.15
    assert res.coef["log_lab1"] == pytest.approx(base.coef["log_lab1"])  # first stage unchanged
    with pytest.raises(NotImplementedError):
        estimate_prodfn(
            df, "acf", "log_y", FREE, ["log_k"], "log_materials", "id", "year", exit="exit"
        )


# --- missing data, edge cases -----------------------------------------------------------


def test_missing_inputs_give_null_tfp(chilean):
    df = chilean.with_columns(
        log_lab1=pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("log_lab1")),
        log_investment=pl.when(pl.int_range(pl.len()) == 5)
        .then(None)
        .otherwise(pl.col("log_investment")),
    )
    res = estimate_prodfn(df, "op", "log_y", FREE, ["log_k"], "log_investment", "id", "year")
    assert res.nobs == 2542
    assert res.n_lag_obs < 1944
    assert res.tfp[3] is None  # input missing: not identified
    row = df.row(5, named=True)  # proxy missing only: TFP still defined
    assert res.tfp[5] == pytest.approx(
        row["log_y"] - sum(res.coef[c] * row[c] for c in [*FREE, "log_k"])
    )
    assert res.tfp.null_count() == 1


def test_too_few_observations_raise(chilean):
    with pytest.raises(ValueError, match="too few observations"):
        estimate_prodfn(
            chilean.head(8), "op", "log_y", FREE, ["log_k"], "log_investment", "id", "year"
        )


def test_bad_inputs_raise(chilean):
    with pytest.raises(ValueError, match="method"):
        estimate_prodfn(chilean, "gmm", "log_y", FREE, ["log_k"], "log_investment", "id", "year")
    with pytest.raises(ValueError, match="duplicate"):
        estimate_prodfn(
            pl.concat([chilean, chilean.head(1)]),
            "op",
            "log_y",
            FREE,
            ["log_k"],
            "log_investment",
            "id",
            "year",
        )
    with pytest.raises(ValueError, match="not found"):
        estimate_prodfn(chilean, "op", "log_y", FREE, ["nope"], "log_investment", "id", "year")


def test_nonconvergence_is_reported(chilean, monkeypatch):
    def failing_minimize(fun, x0, method=None, options=None):
        x0 = np.asarray(x0, dtype=float)
        return OptimizeResult(x=x0, fun=fun(x0), success=False, message="forced failure")

    def failing_least_squares(fun, x0, **kwargs):
        x0 = np.asarray(x0, dtype=float)
        return OptimizeResult(x=x0, success=False, status=0, message="forced LM failure")

    monkeypatch.setattr(prodfn, "minimize", failing_minimize)
    monkeypatch.setattr(prodfn, "least_squares", failing_least_squares)
    res = estimate_prodfn(chilean, "lp", "log_y", FREE, ["log_k"], "log_materials", "id", "year")
    assert res.converged is False
    assert "did not converge" in res.message and "forced failure" in res.message
    assert all(np.isfinite(v) for v in res.coef.values())

"""Yu–Jin–Zhang CU in the synthetic world, with materials that respond to utilization.

The world of ``cbec.synth`` (8,000 firms in 2001, about 197,000 firm-years over 2001–2015)
put through the pipeline's panel steps (``cbec.synth.panel_view.world_panel``) and the
configured estimator: ``dynamic`` on capital depreciated in use (``ln_k_use``) with the
investment rate instrumenting k_t, pooled over the world's 30 industries (which differ in
β_l, β_k and levels) with an effect per industry × year (``strata``) and platform status of
t − 1 in the law of motion of ω (``law_of_motion``, De Loecker 2013). The cases were fixed
before the first run but were used while developing the estimator (not held out); the
tolerances come from the held-out worlds of ``benchmarks/bench_yjz_world.py`` (seeds 311,
312; benchmarks/results/yjz_world.md). Measured here: θ̂ 1.75 / 1.87 / 2.75 for the truths
2 / 2 / 3 (−12 / −6 / −8 %; without the law-of-motion control 1.68 / 1.80 / 2.65), β̂_k within
0.006 of the true mean, corr(cu, u) 0.90 / 0.90 / 0.95 (about 6 s a case). Without the
control every case fails (the gain check; world 201 also the tolerance).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cbec.measures.cu import LEVEL_CONTROL, estimate_cu_yjz
from cbec.synth.panel_view import at_depreciation_level, world_panel

# θ̂/θ over the 18 held-out worlds (elasticity 0, 0.3, 0.8 × θ 1.5, 2, 3 × seeds 311, 312),
# with platform status of t − 1 in the law of motion (the default): 0.870 to 0.909, i.e.
# max |error| 0.130 (without it 0.844 to 0.876, max 0.156; docs/methods.md). Tolerance: that
# plus the same margin as before (0.044, the scatter of single worlds between seeds).
THETA_TOL = 0.175
# θ̂/θ gained by the law-of-motion control on the same world, held out: 0.024 to 0.043
# (median 0.033); the bound leaves a margin of about the spread below the minimum.
LOM_GAIN = 0.015
# β̂_k against the firm-year mean of the industries' true β_k: within 0.01 in the worlds
# measured; pooling industries under one intercept (no strata) gives +0.10 to +0.13.
BETA_K_TOL = 0.03
# θ̂/θ with level_control at the accounts' level, one draw: the 12 draws' mean 0.977 and
# s.d. 0.093 (benchmarks/results/yjz_level.md), about 1.6 s.d. either side
LEVEL_THETA_TOL = 0.15


def _estimate(d: pl.DataFrame, law_of_motion: tuple[str, ...], **kw):
    roles = {"va": "ln_va", "labor": "ln_l", "proxy": "ln_m", "depreciation_rate": "dep_rate"}
    return estimate_cu_yjz(
        d,
        **roles,
        capital="ln_k_use",
        id="firm_id",
        time="year",
        investment="ln_inv",
        strata="ind2",
        law_of_motion=law_of_motion,
        method="dynamic",
        **kw,
    )


def _fit_world(elasticity: float, theta: float, seed: int):
    d = world_panel(8000, seed, {"materials_util_elasticity": elasticity, "dep_theta": theta})
    res = _estimate(d, ("platform",))
    exog = _estimate(d, ())
    cu, u = res.cu.to_numpy(), d["u"].to_numpy()
    ok = np.isfinite(cu)
    corr = float(np.corrcoef(cu[ok], u[ok])[0, 1]) if ok.sum() > 2 else float("nan")
    return res, corr, float(d["beta_k_true"].mean()), exog.theta


@pytest.mark.parametrize(
    ("elasticity", "theta", "seed"), [(0.3, 2.0, 201), (0.8, 2.0, 202), (0.3, 3.0, 203)]
)
def test_theta_and_cu_recovered_when_materials_respond(elasticity, theta, seed):
    res, corr, beta_k, theta_exog = _fit_world(elasticity, theta, seed)
    assert res.meta["pooled_valid"], res.meta
    assert abs(res.theta / theta - 1) <= THETA_TOL, res.theta
    assert abs(res.coef["beta_k"] - beta_k) <= BETA_K_TOL, (res.coef, beta_k)
    assert corr >= 0.8
    # platform status in the law of motion (De Loecker 2013) against the exogenous Markov
    # process on the same world: the omitted platform effect on ω biases θ̂ down
    assert (res.theta - theta_exog) / theta >= LOM_GAIN, (res.theta, theta_exog)


def test_level_control_frees_theta_from_the_level_of_depreciation():
    """The accounts' level of depreciation 10 % too low or too high: θ̂ moves by about
    −0.7·θ per unit of the level without the control, and hardly with it. Over 12 draws
    (seeds 1000–1011, benchmarks/results/yjz_level.md) θ̂/θ at 1.1 minus at 0.9 is −0.139
    without (−0.167 to −0.113) and +0.010 with the control (−0.003 to +0.026)."""
    d = world_panel(8000, 77, {})
    lo, hi = at_depreciation_level(d, 0.9), at_depreciation_level(d, 1.1)
    plain = [_estimate(x, ("platform",)) for x in (lo, hi)]
    ctl = [_estimate(x, ("platform",), level_control=LEVEL_CONTROL) for x in (lo, hi, d)]
    assert all(r.meta["pooled_valid"] for r in plain + ctl)
    # invariance alone holds for any D with its own coefficient; the level also has to be
    # right: at the accounts' level θ̂/θ over the 12 draws 0.977 (s.d. 0.093); with D_t as
    # its own instrument (book noise of t − 1 in the error) +0.09 to +0.30 higher
    assert abs(ctl[2].theta / 2.0 - 1) <= LEVEL_THETA_TOL, ctl[2].theta
    assert (plain[1].theta - plain[0].theta) / 2.0 < -0.08, [r.theta for r in plain]
    assert abs(ctl[1].theta - ctl[0].theta) / 2.0 < 0.05, [r.theta for r in ctl]
    # γ̂ of the control ≈ −β_k·ln(m·c): higher where the accounts' level is higher
    assert ctl[1].coef["level"] < ctl[0].coef["level"]

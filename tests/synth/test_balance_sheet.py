"""Current assets follow sales (``production.current_assets_sales_elasticity``) with
yearly noise around the cycle (``production.current_assets_sales_sd``).

Two worlds from the same seed that differ only in the elasticity: the parameter draws no
random numbers, so everything but current and total assets is identical. Current assets
move by exactly the elasticity times the firm-demeaned ln(sales / net fixed assets), fixed
and other assets stay; and with current assets following sales, total assets no longer
inherit the utilization-driven depreciation of the fixed assets, so the paper's size control
stops absorbing the platform effect on the true u.
"""

from __future__ import annotations

import numpy as np
import pytest

from cbec.synth.generator import simulate, streams
from cbec.synth.panel_view import world_panel
from cbec.synth.params import resolve_params
from cbec.validation.controls_shift import controls_shift, shift_sample

SEED = 20250401
KEY = "current_assets_sales_elasticity"
SD = "current_assets_sales_sd"
SAME = ("net", "sales", "u", "liab_share", "interest", "wage_bill", "VA")


def _books(e: float, sd: float = 0.0) -> dict[str, np.ndarray]:
    prod = {KEY: e, SD: sd}
    p = resolve_params({"presets": {"tiny": {"n_firms_2001": 300}}, "production": prod}, "tiny")
    w = simulate(p, SEED, streams(SEED)).world
    keys = ("TA", "CA", "net", "sales", "u", "interest", "wage_bill", "VA")
    out = {"alive": w.alive, **{k: w.arr[k] for k in keys}}
    # liabilities are total assets times a leverage draw: the draw must not move
    out["liab_share"] = np.where(w.alive, w.arr["liab"] / np.where(w.alive, w.arr["TA"], 1.0), 0)
    return out


def test_current_assets_move_with_sales_by_the_elasticity():
    a, b = _books(0.0), _books(0.7)
    m = a["alive"]
    for k in ("net", "sales", "u"):
        np.testing.assert_array_equal(a[k], b[k])
    # fixed and other assets unchanged: total minus current assets is the same
    np.testing.assert_allclose((b["TA"] - b["CA"])[m], (a["TA"] - a["CA"])[m], rtol=1e-12)
    ln_r = np.where(m, np.log(a["sales"] / a["net"]), 0.0)
    dm = ln_r - (ln_r.sum(axis=1) / m.sum(axis=1).clip(1))[:, None]
    np.testing.assert_allclose(np.log(b["CA"] / a["CA"])[m], 0.7 * dm[m], atol=1e-10)
    assert np.abs(dm[m]).max() > 0.1


@pytest.mark.parametrize("e", [0.0, 1.0, None])
def test_size_control_absorbs_the_platform_effect_only_without_the_cycle(e):
    # the mechanism alone, without noise; None: the world's defaults (e 1 with noise)
    df = world_panel(1500, SEED, {} if e is None else {KEY: e, SD: 0.0})
    ctrl, fe = ["lnqygm", "lnage", "percs", "fc"], ["firm_id", "ind2^year"]
    s = shift_sample(df, "u", "platform", ctrl, fe, "firm_id")
    out = controls_shift(s, "u", "platform", ctrl, "firm_id")
    size = next(r for r in out["controls"] if r["control"] == "lnqygm")
    if e == 0.0:
        # the books' net fixed assets fall with the platform's utilization (depreciation in
        # use), total assets with them, and lnqygm takes part of the effect
        assert size["pi"] < -0.03 and size["gamma"] < 0
        assert size["contribution"] < -0.002
    else:
        # sales rise with u and current assets with sales: size rises with the platform
        # (noise alone, e 0 with sd 0.8, leaves pi at about -0.14 and only hides it in gamma)
        assert size["pi"] > 0
        assert abs(size["contribution"]) < 0.001


@pytest.mark.parametrize("e", [0.0, 0.7])
def test_current_assets_noise_has_the_sd_and_moves_nothing_else(e):
    a, b = _books(e), _books(e, 0.4)
    m = a["alive"]
    for k in SAME:  # a child stream: every other draw of the world is unchanged
        np.testing.assert_allclose(a[k][m], b[k][m], rtol=1e-12)
    np.testing.assert_allclose((b["TA"] - b["CA"])[m], (a["TA"] - a["CA"])[m], rtol=1e-12)
    z = np.log(b["CA"] / a["CA"])[m]
    assert z.size > 2000
    assert abs(z.std() - 0.4) < 0.02 and abs(z.mean()) < 0.02
    # independent from year to year: the firm mean removes little of the variance
    dm = z - np.bincount(np.nonzero(m)[0], z)[np.nonzero(m)[0]] / m.sum(axis=1)[np.nonzero(m)[0]]
    assert dm.var() / z.var() > 0.6
    again = _books(e, 0.4)  # determinism: the same seed, the same draws
    np.testing.assert_array_equal(again["CA"], b["CA"])

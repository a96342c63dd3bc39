"""Current assets follow sales (``production.current_assets_sales_elasticity``).

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


def _books(e: float) -> dict[str, np.ndarray]:
    p = resolve_params({"presets": {"tiny": {"n_firms_2001": 300}}, "production": {KEY: e}}, "tiny")
    w = simulate(p, SEED, streams(SEED)).world
    return {"alive": w.alive, **{k: w.arr[k] for k in ("TA", "CA", "net", "sales", "u")}}


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


@pytest.mark.parametrize("e", [0.0, 1.0])
def test_size_control_absorbs_the_platform_effect_only_without_the_cycle(e):
    df = world_panel(1500, SEED, {KEY: e})
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
        assert abs(size["contribution"]) < 0.001

"""Weak-instrument-robust inference (cbec.estimation.weakiv): the Anderson-Rubin set against a
direct grid inversion with pyfixest regressions, the effective F against hand computations."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pyfixest as pf
import pytest
from estimation._estimation_sim import FE, simulate
from pyfixest.demeaners import MapDemeaner
from scipy import stats

from cbec.estimation.fe import FESample
from cbec.estimation.iv import iv2sls
from cbec.estimation.weakiv import MOP_CRIT_TAU10, ReducedForms, _quadratic_set

TIGHT = MapDemeaner(fixef_tol=1e-13, fixef_maxiter=200_000)
EXOG = ["lnqygm", "fc"]
PF_FE = "firm_id + ind2^year + city^year"


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    df = simulate(n_firms=500, n_years=7, seed=5, mover_share=0.0)
    # a weak instrument: z3 is unrelated to d, 0.1 z2 is its only relevant part
    return df.with_columns((0.1 * pl.col("z2") + pl.col("z3")).alias("zw"))


def _pf(panel: pl.DataFrame, deps: list[str], inst: list[str], data: pl.DataFrame | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(
            f"{' + '.join(deps)} ~ {' + '.join(inst + EXOG)} | {PF_FE}",
            data=(data if data is not None else panel).to_pandas(),
            vcov={"CRV1": "firm_id"},
            demeaner=TIGHT,
        )


_IV: dict[tuple, object] = {}


def _iv(panel: pl.DataFrame, inst: list[str]):
    """iv2sls on the module's panel (cached per instrument set: the panel is one fixture)."""
    key = tuple(inst)
    if key not in _IV:
        s = FESample.from_frame(panel, FE, ["y_iv", "d", *EXOG, "z1", "z2", "zw"], tol=1e-13)
        _IV[key] = iv2sls(s, "y_iv", "d", inst, EXOG, vcov="CRV1:firm_id")
    return _IV[key]


def _direct_ar(panel: pl.DataFrame, inst: list[str], grid: np.ndarray) -> np.ndarray:
    """AR F at each b0: pyfixest's clustered regression of y - b0 d on the instruments, the
    fixed effects and the controls; Wald F of the instruments."""
    cols = [f"yb{i}" for i in range(grid.size)]
    data = panel.with_columns(
        [
            (pl.col("y_iv") - float(b) * pl.col("d")).alias(c)
            for c, b in zip(cols, grid, strict=True)
        ]
    )
    fit_ = _pf(panel, cols, inst, data)
    fits = list(fit_.all_fitted_models.values()) if len(cols) > 1 else [fit_]
    out = []
    for fit in fits:
        b = fit.coef()[inst].to_numpy()
        V = fit._vcov[np.ix_(range(len(inst)), range(len(inst)))]
        out.append(float(b @ np.linalg.solve(V, b)) / len(inst))
    return np.array(out)


@pytest.mark.parametrize(
    ("inst", "kinds"),
    [(["z1"], {"interval"}), (["zw"], {"rays", "line"}), (["z1", "z2"], {"interval"})],
    ids=["strong", "weak", "two"],
)
def test_ar_set_equals_direct_grid_inversion(panel, inst, kinds):
    r = _iv(panel, inst)
    st = r.stats
    assert st["ar_set"] in kinds
    g = r.n_clusters
    crit = stats.f.ppf(0.95, len(inst), g - 1)
    lo, hi = st["ar_bounds"]
    if st["ar_set"] == "line":
        grid = np.linspace(-20, 20, 41)
    else:
        w = hi - lo
        grid = np.sort(np.r_[np.linspace(lo - w, hi + w, 41), lo, hi])
    direct = _direct_ar(panel, inst, grid)
    # the AR statistics themselves, then acceptance on the grid (the bounds: AR = critical value)
    rf = _rf(panel, inst)
    rf_stats = np.array([rf.ar(b) for b in grid])
    np.testing.assert_allclose(rf_stats, direct, rtol=1e-6)
    accepted = direct <= crit * (1 + 1e-7)
    if st["ar_set"] == "interval":
        assert accepted.tolist() == [lo - 1e-9 <= b <= hi + 1e-9 for b in grid]
        np.testing.assert_allclose(direct[np.isin(grid, [lo, hi])], crit, rtol=1e-6)
    elif st["ar_set"] == "rays":
        assert accepted.tolist() == [b <= lo + 1e-9 or b >= hi - 1e-9 for b in grid]
    else:
        assert accepted.all()
    # AR p-value of beta = 0: pyfixest's reduced-form test (t(G-1) when L = 1)
    p0 = stats.f.sf(_direct_ar(panel, inst, np.array([0.0]))[0], len(inst), g - 1)
    assert st["ar_p"] == pytest.approx(p0, rel=1e-6)


def _rf(panel: pl.DataFrame, inst: list[str]) -> ReducedForms:
    """The module's reduced forms on the partialled-out data."""
    s = FESample.from_frame(panel, FE, ["y_iv", "d", *EXOG, *inst], tol=1e-13)
    D = s.demeaned(["y_iv", "d", *EXOG, *inst])
    X = D[:, 2:4]

    def res(a):
        return a - X @ np.linalg.lstsq(X, a, rcond=None)[0]

    df_k = _iv(panel, inst).first_stage.df_k
    return ReducedForms(res(D[:, 0]), res(D[:, 1]), res(D[:, 4:]), s.cluster_codes("firm_id"), df_k)


def test_effective_f_equals_clustered_first_stage_wald_f_with_one_instrument(panel):
    r = _iv(panel, ["zw"])
    fit = _pf(panel, ["d"], ["zw"])
    wald_f = float(fit.tstat()["zw"]) ** 2
    assert r.stats["eff_f"] == pytest.approx(wald_f, rel=1e-6)
    assert r.stats["eff_f"] == pytest.approx(r.stats["first_stage_f"], rel=1e-9)
    assert r.stats["weak_iv"] is True and r.stats["eff_f"] < MOP_CRIT_TAU10


def test_effective_f_by_hand_with_two_instruments(panel):
    inst = ["z1", "z2"]
    r = _iv(panel, inst)
    fit = _pf(panel, ["d"], inst)
    b = fit.coef()[inst].to_numpy()
    V = fit._vcov[np.ix_([0, 1], [0, 1])]
    zt = np.column_stack([_pf(panel, [z], []).resid() for z in inst])  # Z partialled out
    zz = zt.T @ zt
    assert r.stats["eff_f"] == pytest.approx(b @ zz @ b / np.trace(V @ zz), rel=1e-6)
    assert r.stats["weak_iv"] is False
    # not the Wald F of the two instruments
    assert abs(r.stats["eff_f"] - r.stats["first_stage_f"]) > 1e-3 * r.stats["first_stage_f"]


@pytest.mark.parametrize(
    ("abc", "kind", "inside", "outside"),
    [
        ((1.0, 0.0, -4.0), "interval", [0.0, -2.0, 2.0], [-2.1, 2.1]),
        ((-1.0, 0.0, 4.0), "rays", [-3.0, 2.0], [0.0, 1.9]),
        ((-1.0, 0.0, -4.0), "line", [-1e6, 0.0, 1e6], []),
        ((1.0, 0.0, 4.0), "empty", [], [0.0]),
        ((0.0, 2.0, -4.0), "ray_down", [2.0, -1e6], [2.1]),
    ],
)
def test_quadratic_set_shapes(abc, kind, inside, outside):
    s = _quadratic_set(*abc)
    assert s.kind == kind
    assert all(s.contains(b) for b in inside) and not any(s.contains(b) for b in outside)

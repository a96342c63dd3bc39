"""Wild cluster bootstrap (cbec.estimation.wild) against a brute-force loop with pyfixest."""

from __future__ import annotations

import warnings

import numpy as np
import pyfixest as pf
import pytest
from estimation._estimation_sim import FE, X_VARS, simulate
from pyfixest.demeaners import MapDemeaner

from cbec.estimation import wild
from cbec.estimation.fe import FESample
from cbec.estimation.wild import _WCR, draw_weights, wild_cluster_bootstrap

TIGHT = MapDemeaner(fixef_tol=1e-13, fixef_maxiter=200_000)
XS = X_VARS[:4]


@pytest.fixture(scope="module")
def sample() -> FESample:
    df = simulate(n_firms=120, n_years=6, seed=21, n_ind=3, n_city=4, mover_share=0.0)
    return FESample.from_frame(df, FE, ["cu", *XS], tol=1e-13)


@pytest.fixture(scope="module")
def movers() -> FESample:
    """Firms that move between cities: city x year is not nested in firm clusters even
    within firm, and small cells make re-demeaning the draws matter."""
    df = simulate(n_firms=90, n_years=6, seed=5, n_ind=3, n_city=8, mover_share=0.4)
    return FESample.from_frame(df, FE, ["cu", *XS], tol=1e-13)


def _pf_fit(pdf, y, rhs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(
            f"{y} ~ {' + '.join(rhs)} | firm_id + ind2^year + city^year",
            data=pdf,
            vcov={"CRV1": "firm_id"},
            demeaner=TIGHT,
        )


def _brute_force(sample: FESample, W: np.ndarray, h0: float) -> tuple[np.ndarray, float]:
    """Bootstrap t statistics by re-estimating every bootstrap sample with pyfixest."""
    pdf = sample.data.to_pandas()
    pdf["ytil"] = pdf["cu"] - h0 * pdf["platform"]
    rfit = _pf_fit(pdf, "ytil", [c for c in XS if c != "platform"])
    ures = rfit.resid()
    cl = sample.cluster_codes("firm_id")
    ref = np.empty(W.shape[1])
    for b in range(W.shape[1]):
        pdf["ystar"] = pdf["cu"] - ures + ures * W[cl, b]
        f = _pf_fit(pdf, "ystar", XS)
        ref[b] = (f.coef()["platform"] - h0) / f.se()["platform"]
    full = _pf_fit(pdf, "cu", XS)
    return ref, (full.coef()["platform"] - h0) / full.se()["platform"]


def _weights(sample: FESample, B: int, seed: int) -> np.ndarray:
    G = int(sample.cluster_codes("firm_id").max()) + 1
    return draw_weights(G, B, "webb", np.random.default_rng(seed))


@pytest.mark.parametrize("h0", [0.0, 0.05])
def test_bootstrap_t_matches_brute_force(sample, h0):
    W = _weights(sample, 25, 3)
    wcr = _WCR(sample, "cu", XS, XS.index("platform"), "firm_id", W, chunk=10)
    assert wcr.method == "exact (projection)"
    ref, t0 = _brute_force(sample, W, h0)
    np.testing.assert_allclose(wcr.t_boot(h0), ref, rtol=1e-6, atol=1e-8)
    assert wcr.t_original(h0) == pytest.approx(t0, rel=1e-8)
    assert wcr.pvalue(h0) == pytest.approx(np.mean(np.abs(ref) >= abs(t0)))


@pytest.mark.parametrize("route", ["projection", "demeaned draws"])
def test_exact_with_movers_matches_brute_force(movers, route, monkeypatch):
    """Both exact routes equal the brute-force loop with non-nested fixed effects; the fast
    approximation (no re-demeaning) does not."""
    if route == "demeaned draws":
        monkeypatch.setattr(wild, "MAX_CELLS", 0)
    W = _weights(movers, 30, 8)
    j = XS.index("platform")
    wcr = _WCR(movers, "cu", XS, j, "firm_id", W, chunk=7)
    assert wcr.method == f"exact ({route})"
    ref, _ = _brute_force(movers, W, 0.0)
    np.testing.assert_allclose(wcr.t_boot(0.0), ref, rtol=1e-6, atol=1e-8)
    fast = _WCR(movers, "cu", XS, j, "firm_id", W, chunk=7, redemean=False)
    assert fast.method == "fast"
    assert np.max(np.abs(fast.t_boot(0.0) - ref)) > 1e-3


def test_pvalue_and_ci_by_inversion(sample):
    res = wild_cluster_bootstrap(
        sample, "cu", XS, "lnage", rng=np.random.default_rng(0), B=399, weights="rademacher"
    )
    assert 0.0 <= res.pvalue <= 1.0 and res.t_boot.shape == (399,)
    lo, hi = res.conf_int
    from cbec.estimation.fe import feols

    r = feols(sample, "cu", XS)
    b, (alo, ahi) = r["lnage"]["b"], r.conf_int()[XS.index("lnage")]
    assert lo < b < hi
    # bootstrap and analytic CRV1 intervals agree roughly (same order of magnitude)
    assert 0.5 < (hi - lo) / (ahi - alo) < 2.0
    # the p-value function crosses alpha at the bounds
    wcr = _WCR(
        sample,
        "cu",
        XS,
        XS.index("lnage"),
        "firm_id",
        draw_weights(
            int(sample.cluster_codes("firm_id").max()) + 1,
            399,
            "rademacher",
            np.random.default_rng(0),
        ),
        chunk=64,
    )
    width = hi - lo
    assert wcr.pvalue(lo + 0.01 * width) >= 0.05 > wcr.pvalue(lo - 0.01 * width)
    assert wcr.pvalue(hi - 0.01 * width) >= 0.05 > wcr.pvalue(hi + 0.01 * width)


def test_fwl_equals_full_wcr_with_nested_fixed_effects():
    """With only firm fixed effects (nested in firm clusters) the fast FWL bootstrap is exact."""
    import numpy as np
    import polars as pl

    from cbec.estimation.fe import FESample
    from cbec.estimation.wild import draw_weights, wild_cluster_bootstrap

    rng = np.random.default_rng(3)
    n_f, T = 300, 6
    firm = np.repeat(np.arange(n_f), T)
    a = rng.normal(size=n_f)[firm]
    x = (rng.random(n_f * T) < 0.3).astype(float) + 0.3 * a
    z = rng.normal(size=n_f * T)
    y = 0.1 * x + 0.5 * z + a + rng.normal(size=n_f * T) + rng.normal(size=n_f)[firm]
    df = pl.DataFrame({"firm_id": firm, "y": y, "x": x, "z": z})
    s = FESample.from_frame(df, ["firm_id"], ["y", "x", "z"], cluster="firm_id")
    W = draw_weights(int(s.cluster_codes("firm_id").max()) + 1, 199, "webb", rng)
    full = wild_cluster_bootstrap(s, "y", ["x", "z"], "x", rng=rng, W=W, conf_int=False)
    fast = wild_cluster_bootstrap(
        s, "y", ["x", "z"], "x", rng=rng, W=W, conf_int=False, redemean=False
    )
    np.testing.assert_allclose(fast.t_boot, full.t_boot, rtol=1e-6, atol=1e-8)
    assert fast.pvalue == full.pvalue
    assert abs(fast.tstat - full.tstat) < 1e-6 * max(1.0, abs(full.tstat))


def test_projection_reuses_the_demeaners_factor(movers, monkeypatch):
    """The exact projection takes the basis and Cholesky factor the demeaner computed for the
    sample (no second factorization), with the bootstrap t statistics of its own."""
    assert wild._shared_factor(movers, 0) is not None
    W = _weights(movers, 20, 4)
    shared = _WCR(movers, "cu", XS, XS.index("platform"), "firm_id", W, chunk=7)
    monkeypatch.setattr(wild, "_shared_factor", lambda sample, inner: None)
    own = _WCR(movers, "cu", XS, XS.index("platform"), "firm_id", W, chunk=7)
    np.testing.assert_allclose(shared.t_boot(0.0), own.t_boot(0.0), rtol=1e-9)

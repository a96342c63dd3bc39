"""Wild cluster bootstrap (cbec.estimation.wild) against a brute-force loop with pyfixest."""

from __future__ import annotations

import warnings

import numpy as np
import pyfixest as pf
import pytest
from estimation._estimation_sim import FE, X_VARS, simulate
from pyfixest.demeaners import MapDemeaner

from cbec.estimation.fe import FESample
from cbec.estimation.wild import _WCR, draw_weights, wild_cluster_bootstrap

TIGHT = MapDemeaner(fixef_tol=1e-13, fixef_maxiter=200_000)
XS = X_VARS[:4]


@pytest.fixture(scope="module")
def sample() -> FESample:
    df = simulate(n_firms=120, n_years=6, seed=21, n_ind=3, n_city=4, mover_share=0.0)
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


@pytest.mark.parametrize("h0", [0.0, 0.05])
def test_bootstrap_t_matches_brute_force(sample, h0):
    B = 25
    G = int(sample.cluster_codes("firm_id").max()) + 1
    W = draw_weights(G, B, "webb", np.random.default_rng(3))
    j = XS.index("platform")
    wcr = _WCR(sample, "cu", XS, j, "firm_id", W, chunk=10)
    ours = wcr.t_boot(h0)
    pdf = sample.data.to_pandas()
    pdf["ytil"] = pdf["cu"] - h0 * pdf["platform"]
    rfit = _pf_fit(pdf, "ytil", [c for c in XS if c != "platform"])
    ures = rfit.resid()
    cl = sample.cluster_codes("firm_id")
    ref = np.empty(B)
    for b in range(B):
        pdf["ystar"] = pdf["cu"] - ures + ures * W[cl, b]
        f = _pf_fit(pdf, "ystar", XS)
        ref[b] = (f.coef()["platform"] - h0) / f.se()["platform"]
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-8)
    full = _pf_fit(pdf, "cu", XS)
    t0 = (full.coef()["platform"] - h0) / full.se()["platform"]
    assert wcr.t_original(h0) == pytest.approx(t0, rel=1e-8)
    assert wcr.pvalue(h0) == pytest.approx(np.mean(np.abs(ref) >= abs(t0)))


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
    from cbec.estimation.wild import (
        draw_weights,
        wild_cluster_bootstrap,
        wild_cluster_bootstrap_fwl,
    )

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
    fast = wild_cluster_bootstrap_fwl(s, "y", ["x", "z"], "x", rng=rng, W=W, conf_int=False)
    np.testing.assert_allclose(fast.t_boot, full.t_boot, rtol=1e-6, atol=1e-8)
    assert fast.pvalue == full.pvalue
    assert abs(fast.tstat - full.tstat) < 1e-6 * max(1.0, abs(full.tstat))

"""The exact elimination of the small fixed effects (cbec.estimation.direct), CG's warm start."""

from __future__ import annotations

import numpy as np
import pytest
from estimation._estimation_sim import FE, X_VARS, simulate

from cbec.estimation import direct
from cbec.estimation.cg import prepare, solve_columns
from cbec.estimation.fe import FESample, demean
from cbec.estimation.wild import _partialled_cells


@pytest.fixture(scope="module")
def movers() -> FESample:
    """A fifth of the firms move between cities: CG alone needs dozens of iterations."""
    df = simulate(n_firms=1500, n_years=8, seed=3, mover_share=0.2, n_ind=5, n_city=12)
    return FESample.from_frame(df, FE, ["cu", *X_VARS], cluster="firm_id")


def _raw(s: FESample) -> np.ndarray:
    return np.column_stack([s.column(c) for c in ["cu", *X_VARS]])


def _solve(s: FESample, w: np.ndarray | None, use_direct: bool, tol: float = 1e-10):
    p = prepare(s.codes, w, direct=use_direct)
    out, its, _ = solve_columns(np.array(_raw(s), order="F"), s.codes, w, tol, 10_000, 1, p, True)
    return out, its, p


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_direct_step_is_exact(movers, weighted):
    """After the direct step CG has nothing left to do (0 iterations), and the residuals equal
    a 1e-13 LSMR fit far more closely than CG alone at the same criterion."""
    w = np.linspace(0.5, 2.0, movers.nobs) if weighted else None
    out, its, p = _solve(movers, w, True)
    assert p.direct is not None and p.perm[0] == 0
    assert (its == 0).all()
    ref = demean(_raw(movers), movers.codes, w, tol=1e-13, method="lsmr")
    assert np.abs(out - ref).max() < 1e-10
    cg, cg_its, p_cg = _solve(movers, w, False)
    assert p_cg.direct is None and (cg_its > 10).all()
    np.testing.assert_allclose(out, cg, atol=1e-8)


def test_gram_equals_sparse_cross_product(movers, monkeypatch):
    """``G`` built group by group equals ``Z'Z`` of the sparse partialled dummies, and is the
    same for 1 and 2 threads."""
    p = prepare(movers.codes, None, direct=False)
    sizes = np.diff(p.offs)
    others = np.arange(1, len(sizes), dtype=np.int64)
    loffs = np.concatenate([[0], np.cumsum(sizes[1:])]).astype(np.int64)
    start, order = direct._group_rows(p.codes[:, 0], int(sizes[0]))
    G = direct._gram(p.codes, p.w, False, others, loffs, start, order, np.arange(sizes[0]))
    Z = _partialled_cells(movers, 0)
    ref = np.tril((Z.T @ Z).toarray())
    np.testing.assert_allclose(G, ref, atol=1e-9)
    chols = []
    for t in ("1", "2"):
        monkeypatch.setenv("CBEC_THREADS", t)
        chols.append(prepare(movers.codes, None).direct.chol.tobytes())
    assert chols[0] == chols[1]


def test_largest_effect_goes_first(movers):
    """With the firm effect listed last, it is still the one projected exactly (the others are
    factored), and the residuals do not depend on the order of the fixed effects."""
    codes = np.asfortranarray(movers.codes[:, [1, 2, 0]])
    p = prepare(codes, None)
    assert p.perm == (2, 0, 1) and p.direct is not None
    out, its, _ = solve_columns(
        np.array(_raw(movers), order="F"), codes, None, 1e-10, 10_000, 1, p, True
    )
    ref, _, _ = _solve(movers, None, True)
    assert (its == 0).all()
    np.testing.assert_allclose(out, ref, atol=1e-11)


def test_not_factored_when_it_does_not_pay(movers, monkeypatch):
    """Too many levels in the other effects: CG alone, same residuals to its tolerance."""
    monkeypatch.setattr(direct, "MAX_DIRECT_LEVELS", 10)
    out, its, p = _solve(movers, None, True)
    assert p.direct is None and p.perm == (0, 1, 2) and (its > 0).all()
    monkeypatch.undo()
    ref, _, _ = _solve(movers, None, True)
    np.testing.assert_allclose(out, ref, atol=1e-8)
    assert not direct.pays([100], 1000)
    assert not direct.pays([100_000, 7_000], 10**7)
    assert direct.pays([100_000, 4_000], 4 * 10**6)
    assert not direct.pays([100_000, 4_000], 10**5)

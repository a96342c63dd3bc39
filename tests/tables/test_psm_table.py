"""Table 4 builder: matching per column, then the FE regression on the matched sample
(unweighted as the paper by default; ``weighted: true`` the psm_weight variant)."""

from __future__ import annotations

import warnings

import pyfixest as pf
import pytest
from analysis.test_psm import TAU, simulate
from pyfixest.demeaners import MapDemeaner

from cbec.analysis.psm import PSM_COVARIATES, add_psm_covariates, match
from cbec.errors import InputError
from cbec.tables.psm_table import psm_table

COMMON = {"fixed_effects": ["firm_id", "year"], "cluster": "firm_id", "controls": []}
SPEC = {
    "covariates": PSM_COVARIATES,
    "columns": [
        {"depvar": "cu", "treatment": "platform", "k": 1},
        {"depvar": "cu", "treatment": "platform", "k": 3},
        {"depvar": "cu", "treatment": "platform", "k": 1, "exact": ["province_code", "ind2"]},
        {"depvar": "cu", "treatment": "platform", "k": 3, "weighted": True},
    ],
}


@pytest.fixture(scope="module")
def table():
    return psm_table(simulate(n_firms=3000, seed=7), SPEC, COMMON, "table4", seed=3)


def test_default_is_unweighted_and_the_weighted_variant_recovers_the_effect(table):
    est = [c["estimator"] for c in table["columns"]]
    assert est == ["feols"] * 3 + ["feols_weighted"]
    for c in table["columns"]:
        assert c["stats"]["n_matched"] > 0 and "n_clusters" in c["stats"]
    w = table["columns"][3]["coef"]["platform"]
    assert abs(w["b"] - TAU) < 1.96 * w["se"] + 0.005, w
    assert len(table["balance"]) == 4
    note = table["notes"]
    assert "unweighted, as in the paper" in note and "except columns (4)" in note
    assert "1 / that firm's number of matches" in note
    assert "number of times a control is used" not in note
    assert "whole cleaned ASIF" in note


def test_all_weighted_note():
    spec = {**SPEC, "weighted": True, "columns": SPEC["columns"][:1]}
    t = psm_table(simulate(n_firms=800, seed=2), spec, COMMON, "table4", seed=3)
    assert t["columns"][0]["estimator"] == "feols_weighted"
    assert "regressions weighted by the matching weight" in t["notes"]


def test_missing_concentration_stops_with_file_and_column():
    df = simulate(n_firms=300, seed=2).drop("ind_conc")
    with pytest.raises(InputError, match=r"sample.parquet, column 'ind_conc'"):
        psm_table(df, SPEC, COMMON, "table4", seed=3)


def _pyfixest(sample, weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(
            "cu ~ platform | firm_id + year",
            data=sample.to_pandas(),
            weights=weights,
            vcov={"CRV1": "firm_id"},
            demeaner=MapDemeaner(fixef_tol=1e-12, fixef_maxiter=100_000),
        )


@pytest.mark.parametrize(("i", "weights"), [(1, None), (3, "psm_weight")])
def test_column_equals_pyfixest_on_the_matched_sample(table, i, weights):
    df = add_psm_covariates(simulate(n_firms=3000, seed=7))
    res = match(df, treat="platform", covariates=PSM_COVARIATES, k=3, seed=3)
    fit = _pyfixest(res.sample, weights)
    col = table["columns"][i]
    assert col["nobs"] == fit._N
    assert col["coef"]["platform"]["b"] == pytest.approx(fit.coef()["platform"], rel=1e-5)
    assert col["coef"]["platform"]["se"] == pytest.approx(fit.se()["platform"], rel=1e-4)
    assert col["r2"] == pytest.approx(fit._r2, rel=1e-5)

"""Table 4 builder: matching per column, then the weighted FE regression on the matched sample."""

from __future__ import annotations

import warnings

import pyfixest as pf
import pytest
from analysis.test_psm import TAU, simulate
from pyfixest.demeaners import MapDemeaner

from cbec.analysis.psm import PSM_COVARIATES, add_psm_covariates, match
from cbec.tables.psm_table import psm_table

COMMON = {"fixed_effects": ["firm_id", "year"], "cluster": "firm_id", "controls": []}
SPEC = {
    "covariates": PSM_COVARIATES,
    "weighted": True,
    "columns": [
        {"depvar": "cu", "treatment": "platform", "k": 1},
        {"depvar": "cu", "treatment": "platform", "k": 3},
        {"depvar": "cu", "treatment": "platform", "k": 1, "exact": ["province_code", "ind2"]},
    ],
}


@pytest.fixture(scope="module")
def table():
    return psm_table(simulate(n_firms=3000, seed=7), SPEC, COMMON, "table4", seed=3)


def test_matched_estimates_recover_planted_effect(table):
    assert [c["estimator"] for c in table["columns"]] == ["feols_weighted"] * 3
    for c in table["columns"]:
        b, se = c["coef"]["platform"]["b"], c["coef"]["platform"]["se"]
        assert abs(b - TAU) < 1.96 * se + 0.005, (b, se)
        assert c["stats"]["n_matched"] > 0 and "n_clusters" in c["stats"]
    assert len(table["balance"]) == 3


def test_column_equals_weighted_pyfixest_on_the_matched_sample(table):
    df = add_psm_covariates(simulate(n_firms=3000, seed=7))
    res = match(df, treat="platform", covariates=PSM_COVARIATES, k=3, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            "cu ~ platform | firm_id + year",
            data=res.sample.to_pandas(),
            weights="psm_weight",
            vcov={"CRV1": "firm_id"},
            demeaner=MapDemeaner(fixef_tol=1e-12, fixef_maxiter=100_000),
        )
    col = table["columns"][1]
    assert col["nobs"] == fit._N
    assert col["coef"]["platform"]["b"] == pytest.approx(fit.coef()["platform"], rel=1e-5)
    assert col["coef"]["platform"]["se"] == pytest.approx(fit.se()["platform"], rel=1e-4)
    assert col["r2"] == pytest.approx(fit._r2, rel=1e-5)

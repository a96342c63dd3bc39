"""The bias budget telescopes from the pipeline's estimate to the world's oracle."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from cbec.estimation.fe import FESample, feols
from cbec.synth.generator import generate
from cbec.synth.params import ANALYSIS_EXCLUDED
from cbec.validation.bias_budget import (
    attach_truth,
    budget,
    population,
    precision_bound,
    stage_estimates,
)

SPEC = {
    "depvar": "cu",
    "treatment": "platform",
    "controls": ["c1", "c2"],
    "fixed_effects": ["firm_id", "ind2^year", "city_code^year"],
    "cluster": "firm_id",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("budget")
    generate({}, "tiny", 7, base / "raw", base / "truth")
    truth = base / "truth"
    return (
        pl.read_parquet(truth / "firm_year.parquet"),
        pl.read_parquet(truth / "firms.parquet"),
        json.loads((truth / "params.json").read_text()),
    )


def _pipeline(fy: pl.DataFrame, firms: pl.DataFrame, rng: np.random.Generator):
    """A stand-in for the pipeline's panel and analysis sample built from the truth: a
    subsample of the population, panel ids that are not the true ids, measured CU with
    error, 3 % of the platform links wrong, two controls."""
    pop = population(fy, firms, ANALYSIS_EXCLUDED)
    keep = rng.random(pop.height) < 0.8
    n = int(keep.sum())
    sample = (
        pop.filter(pl.Series(keep))
        .with_columns(
            firm_id=pl.col("firm_id") + 100_000,
            cu=pl.col("true_u") + rng.normal(0, 0.05, n),
            platform=(pl.col("true_platform") - pl.lit(rng.random(n) < 0.03)).abs(),
            c1=pl.lit(rng.normal(0, 1, n)),
            c2=pl.col("true_u") * 0.3 + rng.normal(0, 1, n),
        )
        .select("firm_id", "year", "ind2", "city_code", "cu", "platform", "c1", "c2")
    )
    panel = fy.filter(pl.col("asif_row").is_not_null()).select(
        (pl.col("year") * 10_000_000 + pl.col("asif_row")).alias("row_id"),
        "year",
        (pl.col("true_firm") + 100_000).alias("firm_id"),
    )
    return sample, panel, pop


def test_stages_add_up_to_the_gap_between_oracle_and_pipeline(world):
    fy, firms, params = world
    sample, panel, pop = _pipeline(fy, firms, np.random.default_rng(3))
    stages = stage_estimates(attach_truth(sample, panel, fy), pop, SPEC)
    oracle = params["calibration"]["utilization"]["oracle_twfe_alibaba"]
    b = budget(stages, oracle, 0)
    assert [s["stage"] for s in b["stages"]][0] == "pipeline"
    assert b["sum_of_steps"] == pytest.approx(b["gap"], abs=1e-12)
    # the first stage is the pipeline's estimate, the last re-estimates the world's oracle
    assert b["pipeline"] == pytest.approx(stages[0]["b"])
    assert b["oracle_reestimated"] == pytest.approx(oracle, abs=1e-6)
    assert b["gap"] == pytest.approx(oracle - b["pipeline"], abs=1e-6)
    # the stage with true links and true u but the sample's rows differs from the pipeline
    assert abs(b["stages"][2]["b"] - b["stages"][0]["b"]) > 1e-4
    # true links: every row of the stand-in is known to the truth
    known = attach_truth(sample, panel, fy)
    assert known["true_firm"].null_count() == 0
    assert (known["true_firm"] + 100_000 == known["firm_id"]).all()


def test_precision_bound_is_attained_by_errors_aligned_with_the_treatment(world):
    fy, firms, _ = world
    pop = population(fy, firms, ANALYSIS_EXCLUDED)
    fe = SPEC["fixed_effects"]
    sigma = 0.08
    pb = precision_bound(pop, fe, sigma)
    s = FESample.from_frame(pop, fe, ["true_platform"], cluster="firm_id", tol=1e-10)
    xt = s.demeaned(["true_platform"])[:, 0]
    gi = s.cluster_codes("firm_id")
    S, T = np.bincount(gi, weights=xt**2), np.bincount(gi)
    # errors proportional to the demeaned treatment, sd sigma within each switching firm,
    # with a random sign per firm (heterogeneous effects: no common slope to absorb)
    rng = np.random.default_rng(0)
    sign = rng.choice([-1.0, 1.0], S.size)
    scale = np.where(S > 0, sign * sigma * np.sqrt(T / np.where(S > 0, S, 1.0)), 0.0)
    worst = s.data.with_columns(y=pl.Series(scale[gi] * xt))
    iid = s.data.with_columns(y=pl.Series(rng.normal(0, sigma, s.nobs)))
    se_worst = _se(worst, fe)
    assert 0.9 * pb["max_se"] < se_worst < 1.05 * pb["max_se"]
    assert _se(iid, fe) < 0.7 * pb["max_se"]


def _se(df: pl.DataFrame, fe: list[str]) -> float:
    s = FESample.from_frame(df, fe, ["y", "true_platform"], cluster="firm_id", tol=1e-10)
    return feols(s, "y", ["true_platform"])["true_platform"]["se"]

"""Bias budget of Table 2 column (2): the truth substituted one stage at a time.

Stages are cumulative, so the steps telescope: the pipeline's estimate plus the sum of the
steps is exactly the last stage, which re-estimates the world's oracle (the paper's TWFE of
the true utilization on both platforms, on every analysis firm-year of the truth):

0. pipeline: measured CU on matched platform status with controls (Table 2 column (2));
1. true links: the platform status of each row's true firm instead of the matched one;
2. true utilization u instead of the measured (winsorized) CU;
3. without the controls;
4. population: every firm-year of the truth's analysis population (ASIF rows of direct
   exporters outside the excluded years, before cleaning and the customs merge), true firm
   identities, industries and cities;
5. oracle specification: Made-in-China.com membership as a second regressor, as the
   world's oracle (``oracle_twfe_alibaba`` of params.json) is defined.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from cbec.estimation.fe import FESample, feols
from cbec.matching.quality import row_truth

STAGES = [
    ("pipeline", "Pipeline: measured CU, matched links, controls (Table 2 col. 2)"),
    ("true_links", "True links: platform status of the row's true firm"),
    ("true_u", "True utilization u instead of measured CU"),
    ("no_controls", "Without controls"),
    ("population", "Full analysis population of the truth, true firm identities"),
    ("oracle", "Oracle specification: Made-in-China.com membership as a regressor"),
]


def attach_truth(sample: pl.DataFrame, panel: pl.DataFrame, firm_year: pl.DataFrame):
    """The sample with the true firm of each row and its true u, platform and platform_mic
    (null where the truth does not know the row)."""
    # one truth row per (firm_id, year) of the panel (the sample's key)
    rows = row_truth(panel.select("row_id", "year", "firm_id"), firm_year).unique(
        ["firm_id", "year"], keep="first", maintain_order=True
    )
    truth = firm_year.select(
        pl.col("true_firm").cast(pl.Int64),
        pl.col("year").cast(pl.Int64),
        pl.col("u").alias("true_u"),
        pl.col("platform").cast(pl.Float64).alias("true_platform"),
    )
    return (
        sample.with_columns(pl.col("year").cast(pl.Int64))
        .join(rows.select("firm_id", "year", "true_firm"), on=["firm_id", "year"], how="left")
        .join(truth, on=["true_firm", "year"], how="left")
    )


def population(firm_year: pl.DataFrame, firms: pl.DataFrame, excluded: list[int]) -> pl.DataFrame:
    """The truth's analysis population: ASIF rows of direct exporters outside ``excluded``,
    keyed by the true firm (as ``firm_id``) with its industry and city."""
    return (
        firm_year.filter(pl.col("in_asif") & ~pl.col("year").is_in(excluded))
        .join(firms.select("true_firm", "ind2", "city_code", "exporter"), on="true_firm")
        .filter(pl.col("exporter"))
        .select(
            pl.col("true_firm").cast(pl.Int64).alias("firm_id"),
            pl.col("year").cast(pl.Int64),
            "ind2",
            "city_code",
            pl.col("u").alias("true_u"),
            pl.col("platform").cast(pl.Float64).alias("true_platform"),
            pl.col("platform_mic").cast(pl.Float64).alias("true_platform_mic"),
        )
    )


def first_coef(df: pl.DataFrame, y: str, x: list[str], fe: list[str], cluster: str) -> dict:
    """b, s.e. (clustered by ``cluster``), t and nobs of the first of ``x`` in the OLS of
    ``y`` on ``x`` with the fixed effects ``fe`` (the budget's one regression path)."""
    s = FESample.from_frame(df, fe, [y, *x], cluster=cluster, tol=1e-10)
    r = feols(s, y, x, vcov=f"CRV1:{cluster}")
    c = r[x[0]]
    return {"b": c["b"], "se": c["se"], "t": c["t"], "nobs": int(r.nobs)}


def stage_estimates(
    sample: pl.DataFrame,
    pop: pl.DataFrame,
    spec: dict[str, Any],
) -> list[dict[str, Any]]:
    """Estimate every stage. ``sample``: the analysis sample with the truth attached
    (:func:`attach_truth`); ``pop``: :func:`population`; ``spec``: depvar, treatment,
    controls, fixed_effects, cluster of Table 2 column (2)."""
    y, d, ctrl = spec["depvar"], spec["treatment"], list(spec["controls"])
    fe, cl = list(spec["fixed_effects"]), spec["cluster"]
    known = sample.filter(pl.col("true_firm").is_not_null())
    fits = [
        first_coef(sample, y, [d, *ctrl], fe, cl),
        first_coef(known, y, ["true_platform", *ctrl], fe, cl),
        first_coef(known, "true_u", ["true_platform", *ctrl], fe, cl),
        first_coef(known, "true_u", ["true_platform"], fe, cl),
        first_coef(pop, "true_u", ["true_platform"], fe, cl),
        first_coef(pop, "true_u", ["true_platform", "true_platform_mic"], fe, cl),
    ]
    return [
        {"stage": key, "label": label, **fit}
        for (key, label), fit in zip(STAGES, fits, strict=True)
    ]


def budget(stages: list[dict[str, Any]], oracle: float | None, n_unknown: int) -> dict:
    """The telescoping decomposition: each stage's step from the previous one; the steps sum
    to the gap between the last stage (the re-estimated oracle) and the pipeline."""
    steps = [
        {**s, "step": None if i == 0 else s["b"] - stages[i - 1]["b"]} for i, s in enumerate(stages)
    ]
    first, last = stages[0]["b"], stages[-1]["b"]
    return {
        "pipeline": first,
        "oracle_reestimated": last,
        "oracle_params_json": oracle,
        "gap": last - first,
        "sum_of_steps": sum(s["step"] for s in steps[1:]),
        "rows_without_truth": int(n_unknown),
        "stages": steps,
    }


def precision_bound(pop: pl.DataFrame, fe: list[str], sigma: float) -> dict[str, float]:
    """Largest firm-clustered s.e. of the TWFE platform coefficient that any error process
    with residual sd ``sigma`` can produce on ``pop``'s treatment pattern (Cauchy-Schwarz
    within each firm): sigma * sqrt(sum_g S_g T_g) / sum_g S_g, S_g = sum_t of the squared
    platform dummy net of the fixed effects, T_g the firm's firm-years."""
    s = FESample.from_frame(pop, fe, ["true_platform"], cluster="firm_id", tol=1e-10)
    xt = s.demeaned(["true_platform"])[:, 0]
    gi = s.cluster_codes("firm_id")
    S = np.bincount(gi, weights=xt**2)
    T = np.bincount(gi).astype(float)
    return {
        "sigma": float(sigma),
        "sum_S": float(S.sum()),
        "effective_switchers": float(S.sum() ** 2 / (S**2).sum()) if S.any() else 0.0,
        "max_se": float(sigma * np.sqrt((S * T).sum()) / S.sum()) if S.any() else float("nan"),
    }

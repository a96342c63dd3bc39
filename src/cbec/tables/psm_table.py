"""Table 4: the fixed-effects regression on propensity-score matched samples, with balance."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import polars as pl

from cbec.analysis.psm import add_psm_covariates, match
from cbec.estimation.fe import FESample, feols
from cbec.tables.build import column_regressors

log = logging.getLogger("cbec.tables.psm")


def weighted_feols(
    df: pl.DataFrame, depvar: str, regs: list[str], fe: list[str], cluster: str, weights: str | None
) -> dict[str, Any]:
    """Fixed-effects OLS (weighted by ``weights`` if given) as one estimates-JSON column.

    Uses the project's FE layer (:mod:`cbec.estimation.fe`): matched samples are thin, so the
    alternating projections converge slowly; its ``auto`` demeaner switches to LSMR after 50
    sweeps (pyfixest's MAP needed up to 10^6 sweeps here)."""
    sample = FESample.from_frame(df, fe, [depvar, *regs], cluster=cluster, weights=weights)
    res = feols(sample, depvar, regs, vcov=f"CRV1:{cluster}")
    if weights:
        res.estimator = "feols_weighted"
    col = res.to_dict()
    col.pop("label")
    return col


def psm_table(
    sample: pl.DataFrame, spec: dict, common: dict, name: str, *, seed: int
) -> dict[str, Any]:
    """Match per column (k neighbours, optional exact cells) and re-run the Table 2 model."""
    df = add_psm_covariates(sample)
    controls = list(common["controls"])
    fe = list(common["fixed_effects"])
    cols, balance = [], []
    for i, c in enumerate(spec["columns"], start=1):
        res = match(
            df,
            treat=c["treatment"],
            covariates=list(spec["covariates"]),
            k=int(c.get("k", 1)),
            exact=c.get("exact"),
            caliper=c.get("caliper"),
            seed=seed,
        )
        log.info(
            "%s (%d): %d treated, %d matched, %d controls used, unmatched %s",
            name,
            i,
            res.n_treated,
            res.n_matched,
            res.n_controls_used,
            res.n_unmatched,
        )
        regs = column_regressors(c, controls)
        weights = "psm_weight" if spec.get("weighted", True) else None
        col = weighted_feols(res.sample, c["depvar"], regs, fe, common["cluster"], weights)
        col.update(
            label=f"({i})",
            controls=bool(c.get("controls")),
            stats={
                **col["stats"],
                "n_treated": res.n_treated,
                "n_matched": res.n_matched,
                "n_controls_used": res.n_controls_used,
                "max_abs_smd_after": float(np.nanmax(np.abs(res.balance["smd_after"].to_numpy()))),
            },
        )
        if c.get("header"):
            col["header"] = c["header"]
        cols.append(col)
        balance.append({"label": f"({i})", "rows": res.balance.to_dicts()})
    return {
        "table": name,
        "title": spec.get("title", name),
        "columns": cols,
        "balance": balance,
        "notes": "Nearest-neighbour matching on the logit of the propensity score, with "
        "replacement; regressions weighted by the number of times a control is used"
        if spec.get("weighted", True)
        else "Nearest-neighbour matching on the logit of the propensity score, with replacement",
    }

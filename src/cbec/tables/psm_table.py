"""Table 4: the fixed-effects regression on propensity-score matched samples, with balance.

The paper's regression on the matched sample is unweighted (the default); ``weighted: true``
(in the spec or a column) is the named variant weighted by ``psm_weight``."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import polars as pl

from cbec.analysis.psm import add_psm_covariates, match
from cbec.errors import InputError
from cbec.estimation.fe import FESample, feols
from cbec.tables.build import column_regressors

log = logging.getLogger("cbec.tables.psm")

# covariates add_psm_covariates computes from the sample's columns
ADDED = ("asset_turnover", "leverage", "ln_assets")


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


NOTE_MATCH = "Nearest-neighbour matching on the logit of the propensity score, with replacement"
NOTE_UNWEIGHTED = (
    "the regressions are unweighted, as in the paper (a control used by several treated firms "
    "enters once)"
)
NOTE_WEIGHTED = (
    "weighted by the matching weight: 1 for a treated firm; for a control, the sum over the "
    "treated firms it serves of 1 / that firm's number of matches"
)
NOTE_CONC = (
    "industry concentration is the largest firm's share of its industry's sales in the whole "
    "cleaned ASIF industry-year"
)


def _notes(weighted: list[bool], covariates: list[str]) -> str:
    """The table note: matching, weighting per column, the concentration's population."""
    if all(weighted):
        how = f"regressions {NOTE_WEIGHTED}"
    elif not any(weighted):
        how = NOTE_UNWEIGHTED
    else:
        cols = ", ".join(f"({i})" for i, w in enumerate(weighted, start=1) if w)
        how = f"{NOTE_UNWEIGHTED}, except columns {cols}, {NOTE_WEIGHTED}"
    parts = [NOTE_MATCH, how] + ([NOTE_CONC] if "ind_conc" in covariates else [])
    return "; ".join(parts)


def _check_covariates(sample: pl.DataFrame, covariates: list[str]) -> None:
    missing = [c for c in covariates if c not in sample.columns]
    if missing:
        raise InputError(
            "results/analysis/sample.parquet",
            ", ".join(missing),
            "matching covariate not in the analysis sample (ind_conc is added by the rule "
            "analysis_sample from the whole panel)",
        )


def psm_table(
    sample: pl.DataFrame, spec: dict, common: dict, name: str, *, seed: int
) -> dict[str, Any]:
    """Match per column (k neighbours, optional exact cells) and re-run the Table 2 model:
    unweighted as the paper (default), weighted by ``psm_weight`` where the column or the
    spec says ``weighted: true``."""
    covariates = list(spec["covariates"])
    _check_covariates(sample, [c for c in covariates if c not in ADDED])
    df = add_psm_covariates(sample)
    controls = list(common["controls"])
    fe = list(common["fixed_effects"])
    cols, balance, weighted = [], [], []
    for i, c in enumerate(spec["columns"], start=1):
        i = int(c.get("label_at", i))
        res = match(
            df,
            treat=c["treatment"],
            covariates=covariates,
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
        weighted.append(bool(c.get("weighted", spec.get("weighted", False))))
        weights = "psm_weight" if weighted[-1] else None
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
        "notes": _notes(weighted, covariates),
    }

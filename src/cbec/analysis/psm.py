"""Propensity-score matching for the paper's Table 4 (PSM robustness of the platform effect).

What the paper does (section 5, "倾向得分匹配"): treated firms are firms that use the
cross-border e-commerce platform at some point in the sample period; controls are firms that
never use it in the whole period. A logit of treatment on LP TFP, asset turnover (sales /
total assets), leverage (liabilities / total assets), size (ln total assets) and industry
concentration (largest firm's share of its industry's sales, "行业内主营业务收入最高的企业的市场
份额": computed on the whole cleaned ASIF industry x year by the analysis sample rule, not on the
analysis sample, see :func:`industry_concentration_table`) gives the propensity score;
each treated firm gets its nearest neighbour (column 1: 1:1; column 2: 1:3), or, column 3, a
control from the same region and industry ("sequential matching", 谢申祥等 2021); the
fixed-effects regression of Table 2 is then re-run on the matched sample.

The paper does not say at which firm-year the covariates are taken. This module's design,
exactly (every step is counted in ``MatchResult``):

1. **Groups.** Firm ``unit`` is *treated* if ``treat`` = 1 in at least one of its rows.
   It is a *control* if ``treat`` = 0 in all its rows and its adoption year (``adopt_year``)
   is missing or later than the last year of the frame (it never uses the platform in the
   sample period). A firm with ``treat`` = 0 everywhere but an adoption year inside the
   period (it joined in a year in which it is not observed, e.g. after exit or in the
   dropped years 2008-2010) belongs to neither group and is counted in
   ``diagnostics["excluded_joined_unobserved"]``.
2. **Reference year.** A treated firm is matched on its covariates in its last observed year
   *before* adoption (adoption year = ``adopt_year``, else its first year with ``treat`` = 1);
   gaps are allowed (a 2011 joiner observed in 2007 uses 2007). A firm already on the platform
   in its first observed year has no pre-adoption year: with ``ref_fallback=True`` (default)
   its first observed year is used (its covariates may already reflect adoption; counted in
   ``diagnostics["ref_first_observed"]``), with ``ref_fallback=False`` it is left unmatched
   (reason ``no_pre_adoption_year``).
3. **Pool and score.** The matching pool holds the treated reference rows and every control
   firm-year of the same years (years without a treated reference row are left out: they
   would only separate perfectly in the logit). A logit of the treated indicator on the
   covariates plus dummies of ``score_by`` (default: the year) is fitted on the pool
   (:func:`propensity_score`). Rows with a missing covariate get no score (treated ones are
   unmatched, reason ``missing_covariates``).
4. **Matching.** Within each cell = (year, *exact* columns), each treated reference row gets
   its ``k`` nearest control firm-years by absolute distance in the **logit** of the score,
   **with replacement** (a control may serve several treated firms). Distance ties are
   broken by a per-control random key drawn from ``seed`` (then by unit id), so the result is
   a deterministic function of the data and the seed. With ``caliper`` = c, a neighbour
   farther than c x the pooled s.d. of the logit score (sqrt((var_T + var_C) / 2), Austin
   2011) is discarded. A cell with fewer than k controls gives fewer matches (recorded in
   ``pairs``); a treated row with none is unmatched with reason ``no_control_in_cell`` (no
   control in its cell), or ``caliper`` (controls, but none within the caliper). A missing
   value in an ``exact`` column is not a cell: such controls are never candidates, such
   treated rows are unmatched (reason ``missing_exact_key``).
5. **Sequential matching** (column 3): ``exact=["province_code", "ind2"]`` (or the city)
   matches only within region x industry x year cells. ``fallback`` optionally lists
   coarser exact sets tried in turn for treated firms still unmatched (e.g.
   ``[["ind2"]]``); by default there is no fallback, and treated firms whose cell has no
   control are dropped and counted. ``pairs["level"]`` says which level matched.
6. **Matched sample.** All firm-years of the matched treated firms and of every control firm
   used at least once (each firm once). Columns added: ``psm_group`` (1 treated, 0 control),
   ``psm_uses`` (times a control was used; 0 for treated), ``psm_weight`` (ATT weight: 1 for
   treated; for a control, the sum over the treated it serves of 1 / that treated firm's
   number of matches). The paper's Table 4 regression is the Table 2 fixed-effects model on
   this sample, unweighted (the paper prints no weights, which is what Stata's psmatch2
   followed by ``reg ... if _weight != .`` gives): the default of Table 4. ``psm_weight``
   gives the weighted variant (``weighted: true`` in the table spec). With replacement, the
   unweighted regression counts a control used by several treated firms once, so it does
   not reproduce the matched comparison: in the test simulation (planted effect 0.09, naive
   FE 0.145) the unweighted FE estimates are 0.100 (1:1) and 0.110 (1:3), the
   ``psm_weight``-weighted ones 0.092 and 0.093.
7. **Balance.** For every covariate and the logit score, on the reference rows: means of the
   treated and controls before matching (all treated with a score vs. all pool controls) and
   after (matched treated vs. their matched control firm-years, weighted 1 / number of
   matches), the standardized mean difference (mean_T - mean_C) / sqrt((var_T + var_C) / 2)
   with the *before-matching* variances as denominator in both columns (so that before and
   after are comparable; Stuart 2010), and variance ratios var_T / var_C.

Logit failures: with ``ridge=0`` (default) the score is a plain maximum-likelihood logit
(statsmodels ``Logit``, Newton); perfect or quasi-perfect separation, non-convergence or a
singular design raise :class:`PropensityScoreError` with the reason. ``ridge`` > 0 fits a
ridge-penalised logit instead (objective: log-likelihood - ridge/2 x sum of squared
coefficients on the standardized covariates and dummies; intercept unpenalised), which
always has a finite solution.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.special import expit

from cbec.errors import CbecError

PSM_COVARIATES = ["tfp_lp", "asset_turnover", "leverage", "ln_assets", "ind_conc"]
LOGIT_COL = "logit_pscore"


class PropensityScoreError(CbecError):
    """The propensity-score logit cannot be estimated as specified."""


# ----------------------------------------------------------------------------- covariates


def industry_concentration(
    df: pl.DataFrame, ind: str = "ind2", year: str = "year", sales: str = "sales"
) -> pl.Series:
    """Largest firm's share of industry-year sales: max(sales) / sum(sales) over (ind, year).

    Rows with missing sales still get their industry-year's value; industry-years whose
    sales sum is not positive get null. Aligned with the rows of ``df``.
    """
    s = pl.col(sales)
    s_pos = pl.when(s > 0).then(s)
    total = s_pos.sum().over([ind, year])
    top = s_pos.max().over([ind, year])
    return df.select(
        pl.when(total > 0).then(top / total).otherwise(None).alias("ind_conc")
    ).to_series()


def industry_concentration_table(
    population: pl.DataFrame, ind: str = "ind2", year: str = "year", sales: str = "sales"
) -> pl.DataFrame:
    """``ind_conc`` per (ind, year) of ``population``, which must be the whole cleaned ASIF
    (or the panel built from it): the paper's concentration is the largest firm's share of
    its industry's sales, not of the analysis sample's firms. Rows with a missing industry
    or year are left out; the output is sorted by (ind, year)."""
    pop = population.select(ind, year, sales).drop_nulls([ind, year])
    return (
        pop.with_columns(industry_concentration(pop, ind=ind, year=year, sales=sales))
        .group_by(ind, year)
        .agg(pl.col("ind_conc").first())
        .sort(ind, year)
    )


def add_psm_covariates(
    df: pl.DataFrame,
    *,
    sales: str = "sales",
    assets: str = "total_assets",
    liabilities: str = "total_liabilities",
) -> pl.DataFrame:
    """The paper's firm-level matching covariates besides TFP: asset_turnover = sales / total
    assets, leverage = liabilities / total assets, ln_assets = ln(total assets); non-positive
    total assets give nulls. ``ind_conc`` is not computed here: it needs the whole ASIF
    (:func:`industry_concentration_table`, joined by the analysis sample rule)."""
    a = pl.when(pl.col(assets) > 0).then(pl.col(assets))
    return df.with_columns(
        (pl.col(sales) / a).alias("asset_turnover"),
        (pl.col(liabilities) / a).alias("leverage"),
        a.log().alias("ln_assets"),
    )


# ----------------------------------------------------------------------------- score


def _finite_mask(df: pl.DataFrame, cols: list[str]) -> np.ndarray:
    ok = np.ones(df.height, dtype=bool)
    for c in cols:
        s = df[c]
        v = s.is_not_null().to_numpy()
        if s.dtype.is_float():
            v &= ~s.fill_null(0.0).is_nan().to_numpy()
            v &= ~s.fill_null(0.0).is_infinite().to_numpy()
        ok &= v
    return ok


def _design(df: pl.DataFrame, covariates: list[str], by: list[str]) -> tuple[np.ndarray, list[str]]:
    """Intercept, standardized covariates, and dummies (first category dropped) of ``by``."""
    n = df.height
    cols = [np.ones(n)]
    names = ["const"]
    for c in covariates:
        x = df[c].cast(pl.Float64).to_numpy()
        sd = x.std()
        if not np.isfinite(sd) or sd == 0:
            raise PropensityScoreError(
                f"covariate '{c}' is constant in the estimation sample: the logit is not identified"
            )
        cols.append((x - x.mean()) / sd)
        names.append(c)
    for b in by:
        _, codes = np.unique(df[b].to_numpy(), return_inverse=True)
        for level in range(1, codes.max() + 1 if n else 1):
            cols.append((codes == level).astype(float))
            names.append(f"{b}[{level}]")
    return np.column_stack(cols), names


def _ridge_logit(
    x: np.ndarray, y: np.ndarray, ridge: float, maxiter: int, tol: float = 1e-10
) -> np.ndarray:
    pen = np.full(x.shape[1], ridge)
    pen[0] = 0.0
    beta = np.zeros(x.shape[1])
    for _ in range(maxiter):
        p = expit(x @ beta)
        grad = x.T @ (y - p) - pen * beta
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(pen)
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            return beta
    raise PropensityScoreError(f"ridge logit did not converge in {maxiter} Newton steps")


def _ml_logit(x: np.ndarray, y: np.ndarray, names: list[str], maxiter: int) -> np.ndarray:
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    hint = " (pass ridge > 0 for a penalised logit, or drop/merge the offending covariates)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sm.Logit(y, x).fit(method="newton", maxiter=maxiter, disp=0)
        except PerfectSeparationError as exc:
            raise PropensityScoreError(f"perfect separation in the logit{hint}") from exc
        except np.linalg.LinAlgError as exc:
            raise PropensityScoreError(f"singular logit design (collinear terms){hint}") from exc
    for w in caught:
        if issubclass(w.category, PerfectSeparationWarning):
            raise PropensityScoreError(f"perfect separation in the logit: {w.message}{hint}")
    converged = bool(res.mle_retvals.get("converged", False))
    beta = np.asarray(res.params, dtype=float)
    if not converged or not np.all(np.isfinite(beta)):
        msgs = "; ".join(
            str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)
        )
        raise PropensityScoreError(f"logit did not converge{(': ' + msgs) if msgs else ''}{hint}")
    big = np.abs(beta[1:]) > 15
    if big.any():
        terms = [n for n, b in zip(names[1:], big, strict=True) if b]
        raise PropensityScoreError(
            f"quasi-complete separation: coefficients diverge for {terms}{hint}"
        )
    return beta


def propensity_score(
    df: pl.DataFrame,
    treat: str,
    covariates: list[str],
    by: list[str] | None = None,
    *,
    ridge: float = 0.0,
    logit: bool = False,
    maxiter: int = 100,
) -> pl.Series:
    """Propensity score P(treat = 1 | covariates, dummies of ``by``) from a logit on ``df``.

    ``treat`` is a 0/1 column; ``by`` lists categorical columns entered as dummies (e.g.
    ``["year"]``). Rows with a missing ``treat``, covariate or ``by`` value are not used and get
    null. Covariates are standardized before fitting (the score is unchanged for ``ridge=0``).
    ``ridge=0``: maximum likelihood (statsmodels Logit); separation or non-convergence raise
    :class:`PropensityScoreError`. ``ridge>0``: ridge-penalised logit (see module doc).
    Returns the probability (``pscore``) or, with ``logit=True``, the linear index
    (``logit_pscore``), aligned with the rows of ``df``.
    """
    by = list(by or [])
    ok = _finite_mask(df, [treat, *covariates, *by])
    est = df.filter(pl.Series(ok))
    if est.height == 0:
        raise PropensityScoreError("no row with a complete treatment and covariates")
    y = est[treat].cast(pl.Float64).to_numpy()
    if not np.isin(y, (0.0, 1.0)).all():
        raise PropensityScoreError(f"treatment column '{treat}' must be 0/1")
    if y.min() == y.max():
        raise PropensityScoreError(f"treatment column '{treat}' has no variation")
    for b in by:
        g = est.group_by(b).agg(pl.col(treat).cast(pl.Float64).mean().alias("_m"))
        const = g.filter((pl.col("_m") == 0) | (pl.col("_m") == 1))
        if const.height:
            raise PropensityScoreError(
                f"dummies of '{b}' separate perfectly: the treatment is constant within "
                f"{sorted(const[b].to_list())[:10]}; drop those rows first"
            )
    x, names = _design(est, covariates, by)
    if ridge > 0:
        beta = _ridge_logit(x, y, ridge, maxiter)
    else:
        beta = _ml_logit(x, y, names, maxiter)
    eta = x @ beta
    out = np.full(df.height, np.nan)
    out[ok] = eta if logit else expit(eta)
    name = LOGIT_COL if logit else "pscore"
    return pl.Series(name, out).fill_nan(None)


# ----------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class MatchResult:
    """Outcome of :func:`match` (see the module docstring for the definitions).

    pairs: one row per (treated, control) match: ``treated``, ``control`` (unit ids), the
    reference ``time``, ``rank`` (1 = nearest), ``distance`` (|logit difference|), ``level``
    (0 = the ``exact`` cells, i = i-th fallback), ``logit_treated``, ``logit_control``.
    sample: matched firm-years with ``psm_group``, ``psm_uses``, ``psm_weight``.
    balance: covariate, mean_treated, mean_control_before, smd_before, var_ratio_before,
    mean_treated_after, mean_control_after, smd_after, var_ratio_after.
    unmatched: treated units left unmatched and why.
    """

    pairs: pl.DataFrame
    sample: pl.DataFrame
    balance: pl.DataFrame
    unmatched: pl.DataFrame
    n_treated: int
    n_matched: int
    n_unmatched: dict[str, int]
    n_controls_used: int
    diagnostics: dict[str, Any] = field(default_factory=dict)


def _cell_ids(frame: pl.DataFrame, cols: list[str]) -> np.ndarray:
    """Integer cell id per row (cells sorted by key); -1 where a key column is missing."""
    keys = frame.select(cols).drop_nulls().unique().sort(cols).with_row_index("_cell")
    ids = frame.select(cols).join(keys, on=cols, how="left", maintain_order="left")["_cell"]
    return ids.cast(pl.Int64).fill_null(-1).to_numpy()


def _nearest(
    t_cell: np.ndarray,
    t_score: np.ndarray,
    c_cell: np.ndarray,
    c_score: np.ndarray,
    c_tiekey: np.ndarray,
    k: int,
    width: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k nearest controls (same cell) for each treated row; returns (index into controls
    or -1, distance, cell_has_controls). Inputs need not be sorted."""
    nt = t_cell.size
    idx = np.full((nt, k), -1, dtype=np.int64)
    dist = np.full((nt, k), np.inf)
    if nt == 0:
        return idx, dist, np.zeros(0, dtype=bool)
    if c_cell.size == 0:
        return idx, dist, np.zeros(nt, dtype=bool)
    # exact integer composite key (cell, dense rank of the score): searchsorted per cell
    _, rank = np.unique(np.concatenate([t_score, c_score]), return_inverse=True)
    m = np.int64(rank.max() + 2)
    t_key = t_cell.astype(np.int64) * m + rank[:nt]
    c_key = c_cell.astype(np.int64) * m + rank[nt:]
    order = np.lexsort((c_tiekey, c_key))
    c_key, c_s, c_tie = c_key[order], c_score[order], c_tiekey[order]
    start = np.searchsorted(c_key, t_cell.astype(np.int64) * m, side="left")
    end = np.searchsorted(c_key, (t_cell.astype(np.int64) + 1) * m, side="left")
    pos = np.searchsorted(c_key, t_key, side="left")
    # the k nearest in a sorted array lie in [pos - k, pos + k - 1]
    cand = pos[:, None] + np.arange(-k, k)[None, :]
    valid = (cand >= start[:, None]) & (cand < end[:, None])
    cand_c = np.clip(cand, 0, c_key.size - 1)
    d = np.where(valid, np.abs(c_s[cand_c] - t_score[:, None]), np.inf)
    tie = np.where(valid, c_tie[cand_c], np.iinfo(np.int64).max)
    pick = np.lexsort((tie, d), axis=1)[:, :k]
    rows = np.arange(nt)[:, None]
    d_pick = d[rows, pick]
    j_pick = cand_c[rows, pick]
    keep = np.isfinite(d_pick) & (d_pick <= width)
    idx[keep] = order[j_pick[keep]]
    dist[keep] = d_pick[keep]
    return idx, dist, end > start


def _wmean_var(x: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    if x.size == 0:
        return float("nan"), float("nan")
    if w is None:
        w = np.ones_like(x)
    mu = float(np.average(x, weights=w))
    var = float(np.average((x - mu) ** 2, weights=w))
    n = x.size
    if n > 1:  # reliability-weights correction -> unbiased when all weights equal
        v1, v2 = w.sum(), (w**2).sum()
        var *= v1**2 / (v1**2 - v2) if v1**2 > v2 else 1.0
    return mu, var


def balance_table(
    before_t: pl.DataFrame,
    before_c: pl.DataFrame,
    after_t: pl.DataFrame,
    after_c: pl.DataFrame,
    covariates: list[str],
    *,
    weight_t: str | None = None,
    weight_c: str | None = None,
) -> pl.DataFrame:
    """Means, standardized mean differences and variance ratios before and after matching.

    SMD = (mean_T - mean_C) / sqrt((var_T,before + var_C,before) / 2) in both columns.
    ``weight_*`` name optional weight columns of the after-matching frames.
    """
    rows = []
    for c in covariates:
        bt = before_t[c].cast(pl.Float64).to_numpy()
        bc = before_c[c].cast(pl.Float64).to_numpy()
        at = after_t[c].cast(pl.Float64).to_numpy()
        ac = after_c[c].cast(pl.Float64).to_numpy()
        wt = after_t[weight_t].to_numpy() if weight_t else None
        wc = after_c[weight_c].to_numpy() if weight_c else None
        mt, vt = _wmean_var(bt)
        mc, vc = _wmean_var(bc)
        mta, vta = _wmean_var(at, wt)
        mca, vca = _wmean_var(ac, wc)
        sd = np.sqrt((vt + vc) / 2)
        rows.append(
            {
                "covariate": c,
                "mean_treated": mt,
                "mean_control_before": mc,
                "smd_before": (mt - mc) / sd if sd > 0 else float("nan"),
                "var_ratio_before": vt / vc if vc > 0 else float("nan"),
                "mean_treated_after": mta,
                "mean_control_after": mca,
                "smd_after": (mta - mca) / sd if sd > 0 else float("nan"),
                "var_ratio_after": vta / vca if vca > 0 else float("nan"),
            }
        )
    return pl.DataFrame(rows)


def _classify(
    df: pl.DataFrame, treat: str, unit: str, time: str, adopt_year: str | None
) -> pl.DataFrame:
    """Per unit: group (1 treated, 0 control, null excluded) and adoption year."""
    t_max = df[time].max()
    aggs = [
        pl.col(treat).max().alias("_ever"),
        pl.col(time).filter(pl.col(treat) == 1).min().alias("_first_treated"),
    ]
    if adopt_year is not None:
        aggs.append(pl.col(adopt_year).min().alias("_adopt_col"))
    g = df.group_by(unit).agg(aggs)
    adopt = (
        pl.min_horizontal("_adopt_col", "_first_treated")
        if adopt_year is not None
        else pl.col("_first_treated")
    )
    g = g.with_columns(adopt.alias("_adopt"))
    joined_in_period = (
        pl.col("_adopt_col").is_not_null() & (pl.col("_adopt_col") <= t_max)
        if adopt_year is not None
        else pl.lit(False)
    )
    return g.with_columns(
        pl.when(pl.col("_ever") == 1)
        .then(1)
        .when(joined_in_period)
        .then(None)
        .otherwise(0)
        .cast(pl.Int8)
        .alias("_group")
    ).select(unit, "_group", "_adopt")


def match(
    df: pl.DataFrame,
    *,
    treat: str,
    covariates: list[str],
    k: int = 1,
    exact: list[str] | None = None,
    fallback: list[list[str]] | None = None,
    caliper: float | None = None,
    seed: int = 0,
    unit: str = "firm_id",
    time: str = "year",
    adopt_year: str | None = "join_year",
    score_by: list[str] | None = None,
    ridge: float = 0.0,
    ref_fallback: bool = True,
) -> MatchResult:
    """Nearest-neighbour propensity-score matching of treated firms to never-treated firms.

    ``df`` is a firm-year panel (one row per ``unit`` x ``time``); ``treat`` the 0/1
    time-varying treatment (e.g. ``platform``); ``adopt_year`` the firm's adoption year column
    (None: first year with ``treat`` = 1); ``k`` neighbours per treated firm, with replacement;
    ``exact`` columns matched exactly besides the year (sequential matching); ``fallback``
    coarser exact sets tried in turn for the still unmatched; ``caliper`` in s.d. of the logit
    score; ``score_by`` dummies in the logit (default ``[time]``; ``[]`` for none);
    ``ridge`` > 0 for a penalised logit. Design: module docstring.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    exact = list(exact or [])
    levels = [exact, *[list(f) for f in (fallback or [])]]
    score_by = [time] if score_by is None else list(score_by)
    _check_frame(df, unit, time, treat, covariates, levels, score_by, adopt_year)
    rng = np.random.default_rng(seed)

    groups = _classify(df, treat, unit, time, adopt_year)
    n_excluded = int(groups["_group"].null_count())
    panel = df.join(groups, on=unit, how="left")
    ref, treated_units, unmatched_parts, n_ref_first = _reference_rows(
        panel, unit, time, ref_fallback
    )
    pt, pc, lost = _scored_pool(panel, ref, covariates, score_by, unit, time, ridge)
    unmatched_parts += lost
    sd_logit = _pooled_sd(pt[LOGIT_COL].to_numpy(), pc[LOGIT_COL].to_numpy())
    width = np.inf if caliper is None else caliper * sd_logit
    pc = _with_tie_keys(pc, unit, rng)

    pairs, remaining, reason, n_empty_cells = _match_levels(pt, pc, levels, unit, time, k, width)
    unmatched_parts.append(
        pl.DataFrame(
            {unit: pt[unit].filter(pl.Series(remaining)), "reason": reason[remaining].astype(str)}
        )
    )
    unmatched = _stack_unmatched(unmatched_parts, unit, pt.schema[unit])
    pairs = pairs.with_columns((1.0 / pl.len().over("treated")).alias("_w"))
    sample, n_controls_used = _matched_sample(df, pairs, unit, time)

    balance = _reference_balance(pt, pc, pairs, [*covariates, LOGIT_COL], unit)
    counts = unmatched.group_by("reason").len().sort("reason")
    diagnostics = {
        "n_control_units": int(groups.filter(pl.col("_group") == 0).height),
        "n_pool_control_rows": pc.height,
        "excluded_joined_unobserved": n_excluded,
        "ref_first_observed": n_ref_first,
        "treated_cells_without_controls": n_empty_cells,
        "sd_logit": sd_logit,
        "caliper_width": None if caliper is None else width,
        **_match_settings(pairs, k, levels, seed),
    }
    return MatchResult(
        pairs=pairs.drop("_ci", "_w"),
        sample=sample,
        balance=balance,
        unmatched=unmatched,
        n_treated=int(treated_units.height),
        n_matched=int(pairs["treated"].n_unique()),
        n_unmatched=dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True)),
        n_controls_used=n_controls_used,
        diagnostics=diagnostics,
    )


def _match_settings(
    pairs: pl.DataFrame, k: int, levels: list[list[str]], seed: int
) -> dict[str, Any]:
    """The diagnostics that describe the matching itself: how many controls each treated
    firm got (``[(n, treated firms)]``), ``k``, the exact and fallback sets, the seed."""
    per_treated = pairs.group_by("treated").len()["len"].value_counts().sort("len").rows()
    return {
        "matches_per_treated": per_treated,
        "k": k,
        "exact": levels[0],
        "fallback": levels[1:],
        "seed": seed,
    }


def _pooled_sd(lt: np.ndarray, lc: np.ndarray) -> float:
    """Pooled s.d. of the logit score, sqrt((var_T + var_C) / 2) (the caliper's unit)."""
    return float(np.sqrt((lt.var(ddof=1) + lc.var(ddof=1)) / 2)) if lt.size > 1 else float("nan")


def _reference_balance(
    pt: pl.DataFrame, pc: pl.DataFrame, pairs: pl.DataFrame, cols: list[str], unit: str
) -> pl.DataFrame:
    """Balance on the reference rows: all treated and pool controls before matching; the
    matched treated and their matched controls (weight ``_w``) after."""
    after_t = pt.join(pairs.select(pl.col("treated").unique().alias(unit)), on=unit, how="semi")
    after_c = pc[pairs["_ci"].to_numpy()].with_columns(pairs["_w"].alias("_w"))
    return balance_table(pt, pc, after_t, after_c, cols, weight_c="_w")


def _stack_unmatched(parts: list[pl.DataFrame], unit: str, dtype: pl.DataType) -> pl.DataFrame:
    """One frame of the unmatched treated units and their reasons, sorted by unit."""
    return pl.concat(
        [u.select(pl.col(unit).cast(dtype), pl.col("reason").cast(pl.String)) for u in parts]
    ).sort(unit)


def _check_frame(
    df: pl.DataFrame,
    unit: str,
    time: str,
    treat: str,
    covariates: list[str],
    levels: list[list[str]],
    score_by: list[str],
    adopt_year: str | None,
) -> None:
    """Raise ValueError when a needed column is missing or (unit, time) is not unique."""
    need = [unit, time, treat, *covariates, *{c for lv in levels for c in lv}, *score_by]
    if adopt_year is not None:
        need.append(adopt_year)
    missing = [c for c in dict.fromkeys(need) if c not in df.columns]
    if missing:
        raise ValueError(f"match: columns not in the frame: {missing}")
    if df.select(pl.struct(unit, time).is_duplicated().any()).item():
        raise ValueError(f"match: duplicated ({unit}, {time}) rows")


def _reference_rows(
    panel: pl.DataFrame, unit: str, time: str, ref_fallback: bool
) -> tuple[pl.DataFrame, pl.DataFrame, list[pl.DataFrame], int]:
    """Reference row of each treated unit: its last year before adoption, else (with
    ``ref_fallback``) its first observed year. Returns the rows, the treated units, the
    unmatched so far (no pre-adoption year) and the number of first-year references."""
    tr = panel.filter(pl.col("_group") == 1)
    pre = (
        tr.filter(pl.col(time) < pl.col("_adopt"))
        .sort([unit, time])
        .group_by(unit, maintain_order=True)
        .last()
    )
    treated_units = tr.select(unit).unique().sort(unit)
    no_pre = treated_units.join(pre.select(unit), on=unit, how="anti")
    if not ref_fallback:
        unmatched = [no_pre.with_columns(pl.lit("no_pre_adoption_year").alias("reason"))]
        return pre, treated_units, unmatched, 0
    first = (
        tr.join(no_pre, on=unit, how="semi")
        .sort([unit, time])
        .group_by(unit, maintain_order=True)
        .first()
    )
    ref = pl.concat([pre, first.select(pre.columns)])
    return ref, treated_units, [], no_pre.height


def _scored_pool(
    panel: pl.DataFrame,
    ref: pl.DataFrame,
    covariates: list[str],
    score_by: list[str],
    unit: str,
    time: str,
    ridge: float,
) -> tuple[pl.DataFrame, pl.DataFrame, list[pl.DataFrame]]:
    """The matching pool with its logit score: treated reference rows (sorted by unit) and
    control firm-years of the same years; and the treated left out (missing covariates,
    no control in their year)."""
    ref_years = ref.select(time).unique()
    ctrl = panel.filter(pl.col("_group") == 0).join(ref_years, on=time, how="semi")
    pool = pl.concat(
        [
            ref.with_columns(pl.lit(1, dtype=pl.Int8).alias("_t")),
            ctrl.with_columns(pl.lit(0, dtype=pl.Int8).alias("_t")),
        ],
        how="diagonal_relaxed",
    ).sort([unit, time])  # fixed row order: the fit does not depend on the input's order
    ok = _finite_mask(pool, [*covariates, *score_by])
    miss = pool.filter(pl.Series(~ok) & (pl.col("_t") == 1)).select(unit)
    pool = pool.filter(pl.Series(ok))
    # years whose remaining pool is all treated or all control cannot enter the logit
    pool = pool.filter(pl.col("_t").n_unique().over(time) == 2) if time in score_by else pool
    lost = ref.join(pool.filter(pl.col("_t") == 1).select(unit), on=unit, how="anti").join(
        miss, on=unit, how="anti"
    )
    left_out = [
        miss.with_columns(pl.lit("missing_covariates").alias("reason")),
        lost.select(unit).with_columns(pl.lit("no_control_in_cell").alias("reason")),
    ]
    pool = pool.with_columns(
        propensity_score(pool, "_t", covariates, by=score_by, ridge=ridge, logit=True).alias(
            LOGIT_COL
        )
    )
    pt = pool.filter(pl.col("_t") == 1).sort(unit)
    pc = pool.filter(pl.col("_t") == 0)
    return pt, pc, left_out


def _with_tie_keys(pc: pl.DataFrame, unit: str, rng: np.random.Generator) -> pl.DataFrame:
    """Per-control tie key ``_tie`` from the seed, attached to the unit (independent of the
    row order)."""
    c_units = pc.select(unit).unique().sort(unit)
    c_units = c_units.with_columns(
        pl.Series("_tie", rng.permutation(c_units.height).astype(np.int64))
    )
    return pc.join(c_units, on=unit, how="left", maintain_order="left")


def _match_levels(
    pt: pl.DataFrame,
    pc: pl.DataFrame,
    levels: list[list[str]],
    unit: str,
    time: str,
    k: int,
    width: float,
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, dict[int, int]]:
    """Match within (year, exact) cells, then the fallback levels for the still unmatched.

    Returns the pairs (with ``_ci``, the control's row in ``pc``), the mask of treated rows
    still unmatched, their reasons and the number of treated cells without controls per
    level."""
    lt, lc, c_tie = pt[LOGIT_COL].to_numpy(), pc[LOGIT_COL].to_numpy(), pc["_tie"].to_numpy()
    pair_parts: list[pl.DataFrame] = []
    remaining = np.ones(pt.height, dtype=bool)
    reason = np.full(pt.height, "", dtype=object)
    n_empty_cells = {}
    for lvl, ex in enumerate(levels):
        cols = [time, *ex]
        cells = _cell_ids(
            pl.concat([pt.select(cols), pc.select(cols)], how="vertical_relaxed"), cols
        )
        t_cell, c_cell = cells[: pt.height], cells[pt.height :]
        c_ok = c_cell >= 0  # controls with a missing exact key are no candidates
        c_pos = np.flatnonzero(c_ok)
        sel = np.flatnonzero(remaining)
        idx, dist, has_c = _nearest(
            t_cell[sel], lt[sel], c_cell[c_ok], lc[c_ok], c_tie[c_ok], k, width
        )
        idx = np.where(idx >= 0, c_pos[np.maximum(idx, 0)], -1)
        got = (idx >= 0).any(axis=1)
        no_key = t_cell[sel] < 0
        n_empty_cells[lvl] = int(np.unique(t_cell[sel][~has_c & ~no_key]).size)
        reason[sel[~got]] = np.where(
            no_key[~got],
            "missing_exact_key",
            np.where(has_c[~got], "caliper", "no_control_in_cell"),
        )
        reason[sel[got]] = ""
        remaining[sel[got]] = False
        r, kk = np.nonzero(idx >= 0)
        ci = idx[r, kk]
        ti = sel[r]
        pair_parts.append(
            pl.DataFrame(
                {
                    "treated": pt[unit].gather(ti),
                    "control": pc[unit].gather(ci),
                    time: pt[time].gather(ti),
                    "rank": (kk + 1).astype(np.int32),
                    "distance": dist[r, kk],
                    "level": np.full(ti.size, lvl, dtype=np.int32),
                    "logit_treated": lt[ti],
                    "logit_control": lc[ci],
                    "_ci": ci,
                }
            )
        )
        if not remaining.any():
            break
    pairs = pl.concat(pair_parts).sort(["treated", "rank"])
    return pairs, remaining, reason, n_empty_cells


def _matched_sample(
    df: pl.DataFrame, pairs: pl.DataFrame, unit: str, time: str
) -> tuple[pl.DataFrame, int]:
    """All firm-years of the matched treated and the used controls, with ``psm_group``,
    ``psm_uses`` and ``psm_weight``; and the number of controls used."""
    cw = pairs.group_by("control").agg(
        pl.len().cast(pl.Int64).alias("psm_uses"), pl.col("_w").sum().alias("psm_weight")
    )
    tw = pairs.select(pl.col("treated").unique().alias(unit)).with_columns(
        pl.lit(1, dtype=pl.Int8).alias("psm_group"),
        pl.lit(0, dtype=pl.Int64).alias("psm_uses"),
        pl.lit(1.0).alias("psm_weight"),
    )
    cw = cw.rename({"control": unit}).select(
        unit, pl.lit(0, dtype=pl.Int8).alias("psm_group"), "psm_uses", "psm_weight"
    )
    sample = df.join(pl.concat([tw, cw]), on=unit, how="inner").sort([unit, time])
    return sample, int(cw.height)

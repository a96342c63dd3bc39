"""Heterogeneity-robust event studies for staggered platform adoption (Table 8, event-study figure).

Platform adoption is staggered (2001-2015) and its effect on capacity utilization plausibly grows
with membership tenure, which is where a static two-way fixed-effects (TWFE) coefficient becomes
a badly weighted average (negative weights on long-treated cells used as controls). This module
estimates the effect by years relative to joining with

* :func:`dynamic_twfe`  -- binned dynamic TWFE with event-time dummies (ref. -1);
* :func:`sun_abraham`   -- Sun & Abraham (2021) interaction-weighted estimator: a fully saturated
  cohort x event-time regression aggregated with cohort-share weights;
* :func:`did2s`         -- Gardner (2021) two-stage DiD (first stage FE on untreated firm-years,
  second stage event-time dummies) with the Butts-Gardner GMM cluster-robust variance;
* :func:`static_twfe`   -- the single-dummy TWFE benchmark.

Fixed effects. Every estimator takes the paper's fixed effects (default ``PAPER_FE`` =
firm + ind2^year + city^year) and one-way clustering. Interacted effects ``a^b`` are turned into
one combined factor column before estimation, because pyfixest's ``did2s`` (which needs
``Feols.fixef()`` to predict the first stage) rejects ``^`` terms
("fixef() ... not supported for models with '^' transformations"); with the combined columns
``pf.did2s`` accepts the paper's FE. pyfixest's own ``event_study(estimator="saturated")``
(``SaturatedEventStudy``) hard-codes ``unit + time`` FE, ignores ``xfml`` and dates cohorts by the
first *observed* treated year (wrong when 2008-2010 are missing), so :func:`sun_abraham` builds the
saturated regression itself (accepting any FE); the tests check that it reproduces pyfixest's
``SaturatedEventStudy.aggregate()`` where both apply. The TWFE and Sun-Abraham regressions run on
the project's FE layer (:mod:`cbec.estimation.fe`), not ``pf.feols``: with the paper's
``city^year`` effects and firms that move between cities, pyfixest's MAP needs thousands of
sweeps per column (85 s and 176 s on the paper preset); the FE layer switches to LSMR.
``pf.did2s`` builds dense dummy matrices for its variance (n x #FE levels: infeasible at the
paper's 233,819 rows and ~60k firms), so ``did2s(engine="cbec")`` (default) computes the same
GMM variance with sparse algebra; ``engine="pyfixest"`` calls ``pf.did2s`` itself (small data);
the tests check both agree.

Event time is in calendar years (``year - cohort``), so gaps in the panel (2008-2010 are absent
from the analysis sample) are handled: a firm joining in 2009 is first seen at event time +2.
Never-treated firms (cohort null or <= 0) have no event-time dummies (coded as the reference).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import polars as pl
import pyfixest as pf
from scipy import sparse, stats
from scipy.linalg import cho_factor, cho_solve

from cbec.estimation.fe import FESample, drop_singletons, encode_fe, unidentified
from cbec.estimation.fe import feols as fe_feols

PAPER_FE: list[str] = ["firm_id", "ind2^year", "city^year"]
DEFAULT_WINDOW: tuple[int, int] = (-5, 5)

__all__ = [
    "DEFAULT_WINDOW",
    "PAPER_FE",
    "EventDesign",
    "EventStudyResult",
    "did2s",
    "dynamic_twfe",
    "event_time",
    "static_twfe",
    "sun_abraham",
]


# --------------------------------------------------------------------------- event time


def event_time(
    df: pl.DataFrame,
    unit: str,
    time: str,
    cohort: str,
    window: tuple[int, int] = DEFAULT_WINDOW,
    ref: int = -1,
) -> pl.DataFrame:
    """Add event-time columns to a firm-year panel.

    ``cohort`` is the adoption year (null or <= 0: never treated); it must be constant within
    ``unit``. Adds ``ever_treated`` (bool), ``rel_time_raw`` (``time - cohort``, null if never
    treated), ``rel_time`` (raw event time binned into ``window``: leads below ``window[0]`` and lags
    above ``window[1]`` are pooled into the endpoints; never-treated coded as ``ref``) and
    ``treated`` (bool, ``rel_time_raw >= 0``: the post-adoption indicator).
    """
    lo, hi = window
    if not lo < ref < hi:
        raise ValueError(f"reference period {ref} must lie strictly inside window {window}")
    n_coh = df.group_by(unit).agg(pl.col(cohort).n_unique().alias("k")).filter(pl.col("k") > 1)
    if n_coh.height:
        raise ValueError(f"column {cohort!r} varies within {unit!r} for {n_coh.height} units")
    g = pl.col(cohort)
    ever = g.is_not_null() & (g > 0)
    raw = pl.when(ever).then(pl.col(time).cast(pl.Int64) - g.cast(pl.Int64)).otherwise(None)
    return (
        df.with_columns(ever.fill_null(False).alias("ever_treated"), raw.alias("rel_time_raw"))
        .with_columns(
            pl.col("rel_time_raw").clip(lo, hi).fill_null(ref).cast(pl.Int64).alias("rel_time"),
            (pl.col("rel_time_raw") >= 0).fill_null(False).alias("treated"),
        )
        .with_columns(
            pl.when(pl.col("ever_treated"))
            .then(pl.col("rel_time"))
            .otherwise(ref)
            .cast(pl.Int64)
            .alias("rel_time")
        )
    )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EventDesign:
    """What an event study estimates: outcome ``y`` of ``unit`` in ``time`` by years since
    adoption (``cohort``: the adoption year; null or <= 0 never treated), absorbing ``fe``
    (``a^b`` interacted), with ``controls``, CRV1 by ``cluster``, event times binned at the
    ``window``'s endpoints and measured against period ``ref``."""

    y: str
    unit: str
    time: str
    cohort: str
    fe: Sequence[str] = tuple(PAPER_FE)
    cluster: str = "firm_id"
    window: tuple[int, int] = DEFAULT_WINDOW
    controls: Sequence[str] | None = None
    ref: int = -1


@dataclass
class EventStudyResult:
    """Event-study estimates of one estimator.

    ``path``: one row per event time in the window (estimator, rel_time, estimate, se, ci_low,
    ci_high, n_obs, is_reference; the reference row has estimate 0 and null se).
    ``att``: post-period average (event times >= 0 weighted by their number of treated
    firm-years) with delta-method se. ``pretrend``: joint Wald test that all leads
    (``window[0]`` .. ``ref - 1``) are zero (``wald`` chi2 statistic, ``f_stat`` = wald / df,
    ``p_value`` from F(df, G-1), ``p_chi2``). ``sample``: the (unit, time) keys actually used.
    """

    estimator: str
    path: pl.DataFrame
    att: dict[str, float]
    pretrend: dict[str, float]
    fixed_effects: list[str]
    vcov: str
    nobs: int
    n_clusters: int
    sample: pl.DataFrame
    notes: list[str] = field(default_factory=list)
    # Sun-Abraham: the reference event time of each cohort (-1, or its latest observed lead)
    reference_periods: dict[int, int] = field(default_factory=dict)

    def tidy(self) -> pl.DataFrame:
        """Path rows plus one ``ATT`` row (rel_time null), with a ``term`` column."""
        path = self.path.with_columns(pl.format("rel::{}", pl.col("rel_time")).alias("term")).drop(
            "is_reference"
        )
        att = pl.DataFrame(
            {
                "estimator": [self.estimator],
                "rel_time": pl.Series([None], dtype=pl.Int64),
                "estimate": [self.att["estimate"]],
                "se": [self.att["se"]],
                "ci_low": [self.att["ci_low"]],
                "ci_high": [self.att["ci_high"]],
                "n_obs": pl.Series([self.att["n_treated"]], dtype=pl.Int64),
                "term": ["ATT"],
            }
        )
        return pl.concat([path, att.select(path.columns)], how="vertical_relaxed")

    def to_dict(self) -> dict:
        """JSON-ready summary (for ``results/estimates/table8.json``)."""
        return {
            "estimator": self.estimator,
            "fixed_effects": self.fixed_effects,
            "vcov": self.vcov,
            "nobs": self.nobs,
            "n_clusters": self.n_clusters,
            "path": self.path.to_dicts(),
            "att": self.att,
            "pretrend": self.pretrend,
            "notes": self.notes,
            "reference_periods": {str(g): r for g, r in sorted(self.reference_periods.items())},
        }


# --------------------------------------------------------------------------- helpers


def _combined_fe(fe: Sequence[str]) -> tuple[list[pl.Expr], list[str]]:
    """Polars expressions turning ``a^b`` into one string factor column; plain names pass."""
    exprs, names = [], []
    for f in fe:
        parts = [p.strip() for p in f.split("^")]
        if len(parts) == 1:
            names.append(parts[0])
            continue
        name = "__fe_" + "_x_".join(parts)
        exprs.append(
            pl.concat_str([pl.col(p).cast(pl.String) for p in parts], separator="|").alias(name)
        )
        names.append(name)
    return exprs, names


def _fe_sources(fe: Sequence[str]) -> list[str]:
    return sorted({p.strip() for f in fe for p in f.split("^")})


def _prepare(
    df: pl.DataFrame, design: EventDesign, drop_singleton_obs: bool = True
) -> tuple[pl.DataFrame, list[str]]:
    """Select, drop incomplete rows (noted), drop firm-years alone in a fixed-effect group
    (iteratively, noted; as the tables' FE layer does, so that N and the clusters agree with
    Table 2's) and add event time."""
    y, unit, time, cohort, fe = design.y, design.unit, design.time, design.cohort, design.fe
    cluster, controls = design.cluster, list(design.controls or [])
    cols = list(dict.fromkeys([unit, time, cohort, y, cluster, *controls, *_fe_sources(fe)]))
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in data: {missing}")
    d = df.select(cols)
    need = [c for c in cols if c != cohort]
    n0 = d.height
    d = d.drop_nulls(need).filter(pl.all_horizontal(pl.col(y, *controls).is_finite()))
    notes = []
    if d.height < n0:
        notes.append(f"dropped {n0 - d.height} rows with missing {y}/controls/FE/cluster")
    if drop_singleton_obs and fe and d.height:
        keep = drop_singletons(encode_fe(d, list(fe)))
        if not keep.all():
            notes.append(f"dropped {int((~keep).sum())} singleton firm-years")
            d = d.filter(pl.Series(keep))
    return event_time(d, unit, time, cohort, design.window, design.ref), notes


def _tag(b: int) -> str:
    return f"m{-b}" if b < 0 else f"p{b}"


def _bins(window: tuple[int, int], ref: int) -> list[int]:
    return [b for b in range(window[0], window[1] + 1) if b != ref]


def _crit(n_clusters: int, level: float = 0.95) -> float:
    return float(stats.t.ppf(0.5 + level / 2, max(n_clusters - 1, 1)))


def _summarise(
    estimator: str,
    bins: list[int],
    beta: np.ndarray,
    vcov: np.ndarray,
    n_bin: dict[int, int],
    n_clusters: int,
    window: tuple[int, int],
    ref: int,
) -> tuple[pl.DataFrame, dict[str, float], dict[str, float]]:
    """Path frame, post-period ATT and lead Wald test from bin-level estimates and vcov.

    ``bins``/``beta``/``vcov`` may omit bins that were not estimable (reported with null
    estimate). ATT weights: number of treated firm-years per post bin (delta-method se)."""
    crit = _crit(n_clusters)
    se = np.sqrt(np.clip(np.diag(vcov), 0.0, None)) if len(bins) else np.array([])
    pos = {b: i for i, b in enumerate(bins)}
    rows = []
    for b in range(window[0], window[1] + 1):
        if b == ref:
            rows.append((b, 0.0, None, None, None, n_bin.get(b, 0), True))
        elif b in pos:
            e, s = float(beta[pos[b]]), float(se[pos[b]])
            rows.append((b, e, s, e - crit * s, e + crit * s, n_bin.get(b, 0), False))
        else:
            rows.append((b, None, None, None, None, n_bin.get(b, 0), False))
    path = pl.DataFrame(
        rows,
        schema={
            "rel_time": pl.Int64,
            "estimate": pl.Float64,
            "se": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "n_obs": pl.Int64,
            "is_reference": pl.Boolean,
        },
        orient="row",
    ).select(pl.lit(estimator).alias("estimator"), pl.all())

    att = _att(bins, beta, vcov, n_bin, crit)
    return path, att, _pretrend(bins, beta, vcov, ref, n_clusters)


def _att(
    bins: list[int], beta: np.ndarray, vcov: np.ndarray, n_bin: dict[int, int], crit: float
) -> dict[str, float]:
    """Post-period average of the bin estimates weighted by treated firm-years (delta-method
    se, CI with critical value ``crit``)."""
    w = np.zeros(len(bins))
    for i, b in enumerate(bins):
        if b >= 0:
            w[i] = n_bin.get(b, 0)
    n_treated = int(w.sum())
    w = w / n_treated if n_treated else w
    att_b = float(w @ beta)
    att_se = float(np.sqrt(max(w @ vcov @ w, 0.0)))
    return {
        "estimate": att_b,
        "se": att_se,
        "ci_low": att_b - crit * att_se,
        "ci_high": att_b + crit * att_se,
        "n_treated": n_treated,
    }


def _pretrend(
    bins: list[int], beta: np.ndarray, vcov: np.ndarray, ref: int, n_clusters: int
) -> dict[str, float]:
    """Joint Wald test that the leads (bins before ``ref``) are zero: chi2, and F with
    (leads, G-1) degrees of freedom; NaN without leads."""
    leads = [i for i, b in enumerate(bins) if b < ref]
    if not leads:
        nan = float("nan")
        return {"wald": nan, "df": 0, "f_stat": nan, "dfd": 0, "p_value": nan, "p_chi2": nan}
    bl = beta[leads]
    vl = vcov[np.ix_(leads, leads)]
    wald = float(bl @ np.linalg.pinv(vl) @ bl)
    q = len(leads)
    dfd = max(n_clusters - 1, 1)
    return {
        "wald": wald,
        "df": q,
        "f_stat": wald / q,
        "dfd": dfd,
        "p_value": float(stats.f.sf(wald / q, q, dfd)),
        "p_chi2": float(stats.chi2.sf(wald, q)),
    }


def _bin_counts(d: pl.DataFrame) -> dict[int, int]:
    """Firm-years of ever-treated units per binned event time."""
    c = d.filter(pl.col("ever_treated")).group_by("rel_time").len()
    return dict(zip(c["rel_time"].to_list(), c["len"].to_list(), strict=True))


def _unidentified(sample: FESample, names: list[str], check: Sequence[str]) -> list[str]:
    """The regressors of ``check`` (a subset of ``names``) not identified given the sample's
    fixed effects and the identified regressors before them in ``names``: the FE layer's
    scale-free check (:func:`cbec.estimation.fe.unidentified`, pivots against each column's own
    variation, not an absolute tolerance that depends on how far the iterative demeaning
    converged). Unidentified columns outside ``check`` are left to the OLS."""
    if not check:
        return []
    return [n for n in unidentified(sample, names) if n in check]


def _fit_feols(
    d: pl.DataFrame,
    y: str,
    regressors: list[str],
    fe: Sequence[str],
    cluster: str,
    check: Sequence[str] = (),
) -> tuple[pd.Series, np.ndarray, list[str]]:
    """OLS absorbing ``fe`` with CRV1 by ``cluster`` via the project's FE layer
    (:mod:`cbec.estimation.fe`: integer-encoded ``a^b`` effects, MAP then LSMR when MAP is slow,
    pyfixest's small-sample conventions); singletons are dropped by the callers (``_prepare``),
    so here none remain (kept if any: pyfixest's ``fixef_rm="none"``).
    Collinear regressors are dropped (not in the returned names); so are the regressors of
    ``check`` that fail the scale-free identification check :func:`_unidentified`."""
    sample = FESample.from_frame(
        d, list(fe), [y, *regressors], cluster=cluster, drop_singleton_obs=False
    )
    bad = set(_unidentified(sample, list(regressors), check))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # collinear dummies: reported by callers
        res = fe_feols(sample, y, [r for r in regressors if r not in bad], vcov=f"CRV1:{cluster}")
    return pd.Series(res.params, index=res.names), res.cov, list(res.names)


def _keys(d: pl.DataFrame, unit: str, time: str) -> pl.DataFrame:
    return d.select(unit, time)


def _result(
    estimator: str,
    summary: tuple,
    design: EventDesign,
    d: pl.DataFrame,
    g: int,
    notes: list[str],
    vcov: str = "CRV1",
    **extra: Any,
) -> EventStudyResult:
    """An event-study result on the estimation rows ``d`` (path, ATT, pre-trend from
    ``_summarise``), ``vcov`` by the design's cluster with ``g`` clusters."""
    path, att, pre = summary
    return EventStudyResult(
        estimator,
        path,
        att,
        pre,
        list(design.fe),
        f"{vcov}:{design.cluster}",
        d.height,
        g,
        _keys(d, design.unit, design.time),
        notes,
        **extra,
    )


# --------------------------------------------------------------------------- estimators


def static_twfe(df: pl.DataFrame, design: EventDesign) -> dict[str, float]:
    """Static TWFE: ``y ~ 1[time >= cohort] + controls | fe``, CRV1 by ``cluster`` (the
    design's window and reference period play no part).

    Returns estimate, se, ci_low, ci_high (t(G-1) critical value), nobs, n_clusters."""
    y, fe, cluster, controls = design.y, design.fe, design.cluster, design.controls
    d, _ = _prepare(df, replace(design, window=(-2, 1), ref=-1))
    d = d.with_columns(pl.col("treated").cast(pl.Float64).alias("post_treat"))
    b, v, names = _fit_feols(d, y, ["post_treat", *(controls or [])], fe, cluster)
    g = int(d[cluster].n_unique())
    est, se = (
        float(b["post_treat"]),
        float(np.sqrt(v[names.index("post_treat"), names.index("post_treat")])),
    )
    crit = _crit(g)
    return {
        "estimate": est,
        "se": se,
        "ci_low": est - crit * se,
        "ci_high": est + crit * se,
        "nobs": d.height,
        "n_clusters": g,
    }


def dynamic_twfe(df: pl.DataFrame, design: EventDesign) -> EventStudyResult:
    """Dynamic TWFE: ``y ~ sum_b 1[rel_time = b] + controls | fe`` with binned endpoints, ref. -1.

    One fixed-effects OLS fit (:func:`_fit_feols`); all FE (including ``a^b``) and CRV1 accepted.
    Bins the fixed effects leave unidentified (:func:`_unidentified`) are dropped (noted).
    Not robust to heterogeneous effects: long-treated firm-years serve as implicit controls."""
    y, fe, cluster, controls = design.y, design.fe, design.cluster, design.controls
    window, ref = design.window, design.ref
    d, notes = _prepare(df, design)
    n_bin = _bin_counts(d)
    bins = [b for b in _bins(window, ref) if n_bin.get(b, 0) > 0]
    d = d.with_columns(
        [
            (pl.col("ever_treated") & (pl.col("rel_time") == b))
            .cast(pl.Float64)
            .alias(f"es_{_tag(b)}")
            for b in bins
        ]
    )
    regs = [f"es_{_tag(b)}" for b in bins]
    beta, vcov, names = _fit_feols(d, y, [*(controls or []), *regs], fe, cluster, check=regs)
    keep = [i for i, b in enumerate(bins) if regs[i] in names]
    if len(keep) < len(bins):
        notes.append(
            f"collinear event-time dummies dropped: {[bins[i] for i in range(len(bins)) if i not in keep]}"
        )
    bins = [bins[i] for i in keep]
    idx = [names.index(f"es_{_tag(b)}") for b in bins]
    g = int(d[cluster].n_unique())
    path, att, pre = _summarise(
        "twfe", bins, beta.iloc[idx].to_numpy(), vcov[np.ix_(idx, idx)], n_bin, g, window, ref
    )
    return _result("twfe", (path, att, pre), design, d, g, notes)


def sun_abraham(df: pl.DataFrame, design: EventDesign) -> EventStudyResult:
    """Sun-Abraham interaction-weighted event study.

    One fixed-effects OLS fit (:func:`_fit_feols`) of ``y`` on a dummy for every observed
    (cohort, raw event time) cell of the treated cohorts except each cohort's reference period, plus controls, absorbing ``fe``
    (any FE, including ``a^b``; CRV1 by ``cluster``). Control group: never-treated firms (if
    there are none, the last-adopting cohort, with firm-years from its adoption on dropped).
    The reference period of a cohort is ``ref`` (-1) if observed, else its latest observed
    lead (e.g. -4 for 2011 joiners when 2008-2010 are missing); cohorts with no observed lead
    (already members in their first observed year) are dropped (noted). Cells are saturated at
    the raw event time, then averaged into the window's bins with weights n(cohort, cell) /
    n(bin) (the IW cohort shares; far leads / lags pooled the same way); the ATT weights all
    post cells by their firm-years. Cells that the fixed effects leave unidentified (exactly or
    nearly collinear: :func:`_unidentified`, a scale-free rank check) are dropped before the
    fit and left out of the aggregation, the remaining cells' shares renormalised (noted).
    Standard errors treat the cohort shares as fixed (as
    pyfixest's ``SaturatedEventStudy.aggregate``): the variance of the estimated shares (Sun &
    Abraham 2021, Prop. 6) is not added. ``reference_periods`` lists each cohort's reference."""
    y, time, cohort, fe, cluster = design.y, design.time, design.cohort, design.fe, design.cluster
    window, controls, ref = design.window, design.controls, design.ref
    d, notes = _prepare(df, design)
    d = _sa_control_group(d, time, cohort, notes)
    d, ref_g = _sa_reference_periods(d, cohort, ref, notes)
    cells = _sa_cells(d, cohort, ref_g)
    names_c = cells["name"].to_list()
    gcol = pl.col(cohort).cast(pl.Int64)
    d = d.with_columns(
        [
            (pl.col("ever_treated") & (gcol == g) & (pl.col("rel_time_raw") == r))
            .cast(pl.Float64)
            .alias(nm)
            for g, r, nm in zip(cells[cohort], cells["rel_time_raw"], names_c, strict=True)
        ]
    )
    regs = [*(controls or []), *names_c]  # cells checked net of the controls
    beta, vcov, names = _fit_feols(d, y, regs, fe, cluster, check=names_c)
    dropped = cells.filter(~pl.col("name").is_in(names))
    if dropped.height:
        notes.append(
            f"cohort x event-time cells not identified given the fixed effects dropped, "
            f"the other cells' weights renormalised: {dropped['name'].to_list()} "
            f"({int(dropped['n'].sum())} treated firm-years)"
        )
    cells = cells.filter(pl.col("name").is_in(names))
    n_bin = _bin_counts(d)
    bins = [b for b in _bins(window, ref) if (cells["bin"] == b).any()]
    R = _sa_weights(cells, bins, names)
    n_bin_est = {b: int(cells.filter(pl.col("bin") == b)["n"].sum()) for b in bins}
    n_bin = {b: n_bin_est.get(b, 0) if b != ref else n_bin.get(b, 0) for b in n_bin}
    g = int(d[cluster].n_unique())
    b_vec = R @ beta.to_numpy()
    path, att, pre = _summarise("sun_abraham", bins, b_vec, R @ vcov @ R.T, n_bin, g, window, ref)
    ref_periods = dict(sorted(ref_g.items()))
    summary = (path, att, pre)
    return _result("sun_abraham", summary, design, d, g, notes, reference_periods=ref_periods)


def _sa_control_group(d: pl.DataFrame, time: str, cohort: str, notes: list[str]) -> pl.DataFrame:
    """Without never-treated units, the last-adopting cohort becomes the control group (its
    firm-years from adoption on dropped)."""
    if (~d["ever_treated"]).any():
        return d
    last = int(d.filter(pl.col("ever_treated"))[cohort].max())
    n0 = d.height
    d = d.filter(pl.col(time) < last).with_columns(
        (pl.col("ever_treated") & (pl.col(cohort) != last)).alias("ever_treated")
    )
    notes.append(
        f"no never-treated units: cohort {last} used as control ({n0 - d.height} rows dropped)"
    )
    return d


def _sa_reference_periods(
    d: pl.DataFrame, cohort: str, ref: int, notes: list[str]
) -> tuple[pl.DataFrame, dict[int, int]]:
    """Reference period per cohort: ``ref`` if observed, else its latest observed lead;
    cohorts without an observed lead are dropped (noted)."""
    tr = d.filter(pl.col("ever_treated"))
    leads = (
        tr.filter(pl.col("rel_time_raw") < 0)
        .group_by(pl.col(cohort).cast(pl.Int64))
        .agg(
            pl.col("rel_time_raw").max().alias("latest"),
            (pl.col("rel_time_raw") == ref).any().alias("has_ref"),
        )
    )
    ref_g = {
        int(g): ref if has else int(latest)
        for g, latest, has in zip(leads[cohort], leads["latest"], leads["has_ref"], strict=True)
    }
    cohorts_all = sorted(int(g) for g in tr[cohort].unique().to_list())
    no_pre = [g for g in cohorts_all if g not in ref_g]
    if no_pre:
        n0 = d.height
        d = d.filter(~pl.col(cohort).is_in(no_pre) | ~pl.col("ever_treated"))
        notes.append(
            f"cohorts without an observed pre-period dropped: {no_pre} ({n0 - d.height} rows)"
        )
    nondefault = sorted((g, r) for g, r in ref_g.items() if r != ref)
    if nondefault:
        notes.append(
            f"cohorts not observed at event time {ref} use their latest observed pre-joining "
            "year as reference: "
            + ", ".join(f"joined {g}: {r} (year {g + r})" for g, r in nondefault)
        )
    return d, ref_g


def _sa_cells(d: pl.DataFrame, cohort: str, ref_g: dict[int, int]) -> pl.DataFrame:
    """Observed (cohort, raw event time) cells of the treated except each cohort's reference:
    firm-years ``n``, window bin and dummy ``name``."""
    cells = (
        d.filter(pl.col("ever_treated"))
        .group_by(cohort, "rel_time_raw")
        .agg(pl.len().alias("n"), pl.col("rel_time").first().alias("bin"))
        .with_columns(pl.col(cohort).cast(pl.Int64))
        .filter(pl.col("rel_time_raw") != pl.col(cohort).replace_strict(ref_g, default=None))
        .sort(cohort, "rel_time_raw")
    )
    return cells.with_columns(
        pl.format(
            "sa_g{}_{}",
            pl.col(cohort),
            pl.col("rel_time_raw").map_elements(_tag, return_dtype=pl.String),
        ).alias("name")
    )


def _sa_weights(cells: pl.DataFrame, bins: list[int], names: list[str]) -> np.ndarray:
    """Aggregation matrix (bins x coefficients): cohort shares n(cohort, cell) / n(bin)."""
    R = np.zeros((len(bins), len(names)))
    for i, b in enumerate(bins):
        cb = cells.filter(pl.col("bin") == b)
        w = cb["n"].to_numpy().astype(float)
        for nm, wi in zip(cb["name"], w / w.sum(), strict=True):
            R[i, names.index(nm)] = wi
    return R


def _one_hot(codes: np.ndarray, n_levels: int) -> sparse.csr_matrix:
    n = codes.shape[0]
    return sparse.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, n_levels))


def _solve_fe_normal(X10: sparse.csr_matrix, p1: int, rhs: np.ndarray) -> np.ndarray:
    """A solution B of the singular, consistent system (X10'X10) B = rhs.

    The first ``p1`` columns of ``X10`` are the one-hot of one factor (diagonal Gram block D);
    the rest (other FE, controls; m columns) are handled by the dense Schur complement
    S = A22 - A12' D^-1 A12, factorised with a tiny ridge and iteratively refined (the
    collinearity of FE makes S singular; for a consistent right-hand side any solution gives
    the same X10 B)."""
    Xa, Xb = X10[:, :p1], X10[:, p1:]
    d = np.asarray(Xa.multiply(Xa).sum(axis=0)).ravel()
    dinv = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
    r1, r2 = rhs[:p1], rhs[p1:]
    if Xb.shape[1] == 0:
        return dinv[:, None] * r1
    A12 = (Xa.T @ Xb).tocsr()
    A22 = np.asarray((Xb.T @ Xb).todense())
    S = A22 - np.asarray((A12.T @ sparse.diags(dinv) @ A12).todense())
    rs = r2 - A12.T @ (dinv[:, None] * r1)
    eps = 1e-10 * max(float(np.abs(np.diag(S)).max()), 1.0)
    for _ in range(6):
        try:
            cf = cho_factor(S + eps * np.eye(S.shape[0]), lower=True)
            break
        except np.linalg.LinAlgError:
            eps *= 100
    x2 = cho_solve(cf, rs)
    tol = 1e-12 * max(float(np.abs(rs).max()), 1.0)
    for _ in range(50):
        res = rs - S @ x2
        if np.abs(res).max() <= tol:
            break
        x2 = x2 + cho_solve(cf, res)
    x1 = dinv[:, None] * (r1 - A12 @ x2)
    return np.vstack([x1, x2])


def _did2s_vcov_sparse(
    X1: sparse.csr_matrix,
    p1: int,
    untreated: np.ndarray,
    X2: np.ndarray,
    u1: np.ndarray,
    u2: np.ndarray,
    clusters: np.ndarray,
) -> np.ndarray:
    """Butts-Gardner GMM variance of the second-stage coefficients (as ``pf.did2s``), sparse.

    V = (X2'X2)^-1 [sum_g W_g W_g'] (X2'X2)^-1 with W_g = X2_g'u2_g - (X2'X1)(X10'X10)^- X10_g'u1_g,
    X10 = X1 on untreated rows; ``X1``'s first ``p1`` columns are the largest FE's one-hot."""
    X10 = (sparse.diags(untreated.astype(float)) @ X1).tocsr()
    rhs = np.asarray((X1.T @ sparse.csr_matrix(X2)).todense())
    B = _solve_fe_normal(X10, p1, rhs)
    Z = X10 @ B
    scores = X2 * u2[:, None] - Z * u1[:, None]
    _, cl = np.unique(clusters, return_inverse=True)
    Sg = np.zeros((cl.max() + 1, X2.shape[1]))
    np.add.at(Sg, cl, scores)
    bread = np.linalg.inv(X2.T @ X2)
    return bread @ (Sg.T @ Sg) @ bread


def did2s(
    df: pl.DataFrame,
    design: EventDesign,
    engine: Literal["cbec", "pyfixest"] = "cbec",
    drop_singletons: bool = False,
) -> EventStudyResult:
    """Gardner two-stage DiD event study.

    Stage 1: ``y ~ controls | fe`` on untreated firm-years (never-treated and not-yet-treated;
    any FE, ``a^b`` combined into one factor). Stage 2: the stage-1 residual of every firm-year on
    the window's event-time dummies (leads and binned lags, ref. -1; never-treated have none).
    Firm-years whose FE levels never occur untreated (e.g. firms already members when first
    observed) cannot be imputed and are dropped (noted), and so are those whose FE sum is not
    estimable from the untreated rows (:func:`non_estimable`; noted). Stage 1 runs on the
    project's FE layer (:func:`did2s_first_stage`: LSMR demeaning, then the FE estimates). Variance: Butts-Gardner GMM, clustered by
    ``cluster`` (no small-sample factor, as ``pf.did2s``). ``engine="pyfixest"`` runs
    ``pf.did2s`` itself (dense variance; small data only; its stage 1 drops FE singletons, which
    breaks it unless singletons are removed first, so ``drop_singletons`` is forced: untreated
    firm-years that are singletons in an FE are removed iteratively); ``"cbec"`` runs the
    stage-1 ``pf.feols`` (keeping singletons unless ``drop_singletons``) and computes the same
    variance with sparse matrices."""
    y, fe, cluster, window, ref = design.y, design.fe, design.cluster, design.window, design.ref
    d, notes = _prepare(df, design, drop_singleton_obs=False)
    # pyfixest's feols().fixef()/predict (stage 1) rejects `a^b`: one combined factor column each
    exprs, fe_cols = _combined_fe(fe)
    if exprs:
        d = d.with_columns(exprs)
    if not fe_cols:
        raise ValueError("did2s needs fixed effects in the first stage")
    controls = list(design.controls or [])
    if drop_singletons or engine == "pyfixest":
        d = _drop_untreated_singletons(d, fe_cols, notes)
    d = _drop_unimputable(d, fe_cols, notes)
    d = _drop_non_estimable(d, fe_cols, notes)
    controls = _stage1_controls(d, controls, fe_cols, notes)
    n_bin = _bin_counts(d)
    bins = [b for b in _bins(window, ref) if n_bin.get(b, 0) > 0]
    regs = [f"es_{_tag(b)}" for b in bins]
    d = d.with_columns(
        [
            (pl.col("ever_treated") & (pl.col("rel_time") == b)).cast(pl.Float64).alias(r)
            for b, r in zip(bins, regs, strict=True)
        ]
    )
    ts = _TwoStage(d.to_pandas(), y, controls, fe_cols, regs, cluster)
    g = int(d[cluster].n_unique())
    if engine == "pyfixest":
        beta, vcov = _did2s_pyfixest(ts)
    elif engine == "cbec":
        beta, vcov = _did2s_cbec(ts)
    else:
        raise ValueError(f"unknown engine {engine!r}")
    summary = _summarise("did2s", bins, beta, vcov, n_bin, g, window, ref)
    return _result("did2s", summary, design, d, g, notes, vcov="CRV1(GMM)")


def _stage1_controls(
    d: pl.DataFrame, controls: list[str], fe_cols: list[str], notes: list[str]
) -> list[str]:
    """The stage-1 controls identified on the untreated firm-years given the fixed effects
    (the FE layer's scale-free check :func:`cbec.estimation.fe.unidentified`); the others
    are dropped (noted), as a collinear control would make stage 1's coefficients arbitrary."""
    if not controls:
        return []
    unt = d.filter(~pl.col("treated"))
    s = FESample.from_frame(unt, fe_cols, controls, cluster=None, drop_singleton_obs=False)
    bad = unidentified(s, controls)
    if bad:
        notes.append(
            f"first-stage controls not identified on the untreated firm-years dropped: {bad}"
        )
    return [c for c in controls if c not in bad]


def _drop_untreated_singletons(
    d: pl.DataFrame, fe_cols: list[str], notes: list[str]
) -> pl.DataFrame:
    """Remove untreated firm-years that are singletons in an FE, iteratively (noted)."""
    n0 = d.height
    while True:
        single = pl.lit(False)
        for c in fe_cols:
            single = single | (pl.len().over(c, "treated") == 1)
        nxt = d.filter(~(single & ~pl.col("treated")))
        if nxt.height == d.height:
            break
        d = nxt
    if d.height < n0:
        notes.append(f"dropped {n0 - d.height} untreated singleton firm-years")
    return d


def _drop_unimputable(d: pl.DataFrame, fe_cols: list[str], notes: list[str]) -> pl.DataFrame:
    """Drop firm-years whose FE levels never occur untreated (stage 1 cannot impute them)."""
    unt = d.filter(~pl.col("treated"))
    n0 = d.height
    for c in fe_cols:
        d = d.filter(pl.col(c).is_in(unt[c].unique().implode()))
    if d.height < n0:
        notes.append(
            f"dropped {n0 - d.height} treated firm-years with FE levels not seen untreated"
        )
    return d


def non_estimable(pdf: pd.DataFrame, fe_cols: list[str], untreated: np.ndarray) -> np.ndarray:
    """Rows whose fixed-effect sum is not estimable from the untreated rows: their imputed
    outcome would depend on which of the many stage-1 solutions is taken (e.g. a firm that
    moves to another city after joining, when the two cities are linked only through it).

    A row x is estimable iff x'n = 0 for every n with D_u n = 0 (D_u: the dummies of the
    untreated rows). Two generic null vectors n = z - w, (D_u'D_u) w = D_u'D_u z, with fixed
    deterministic z, test it (no random draws)."""
    onehots = _fe_onehots(pdf, fe_cols)
    D = sparse.hstack(onehots, format="csr")
    Du = D[np.flatnonzero(untreated)]
    k = np.arange(D.shape[1], dtype=float)
    z = np.column_stack([np.cos(1.0 + 0.7548776662 * k), np.sin(2.0 + 0.5698402910 * k)])
    w = _solve_fe_normal(Du, onehots[0].shape[1], np.asarray(Du.T @ (Du @ z)))
    n = z - w
    xn = np.abs(D @ n)
    return (xn > 1e-7 * max(float(np.abs(n).max()), 1e-300)).any(axis=1)


def _drop_non_estimable(d: pl.DataFrame, fe_cols: list[str], notes: list[str]) -> pl.DataFrame:
    """Drop treated firm-years whose imputation is not unique (:func:`non_estimable`; noted)."""
    pdf = d.select(fe_cols).to_pandas()
    bad = non_estimable(pdf, fe_cols, ~d["treated"].to_numpy())
    if bad.any():
        notes.append(
            f"dropped {int(bad.sum())} treated firm-years whose fixed effects are not "
            "estimable from the untreated firm-years (imputation not unique)"
        )
        d = d.filter(pl.Series(~bad))
    return d


class _TwoStage(NamedTuple):
    """A did2s fit's data (one row per firm-year, ``treated`` 0/1) and its columns: outcome,
    stage-1 controls and fixed effects, stage-2 event-time dummies, cluster."""

    pdf: pd.DataFrame
    y: str
    controls: list[str]
    fe_cols: list[str]
    regs: list[str]
    cluster: str


def _did2s_pyfixest(ts: _TwoStage) -> tuple[np.ndarray, np.ndarray]:
    """Second-stage coefficients and variance of ``regs`` from ``pf.did2s`` (dense)."""
    pdf, y, controls, fe_cols, regs, cluster = ts
    fit = pf.did2s(
        pdf,
        yname=y,
        first_stage=f"~ {' + '.join(controls) if controls else '0'} | {' + '.join(fe_cols)}",
        second_stage="~ " + " + ".join(regs),
        treatment="treated",
        cluster=cluster,
    )
    names = [str(c) for c in fit._coefnames]
    idx = [names.index(r) for r in regs]
    return np.asarray(fit._beta_hat)[idx], np.asarray(fit._vcov)[np.ix_(idx, idx)]


def _fe_onehots(pdf: pd.DataFrame, fe_cols: list[str]) -> list[sparse.csr_matrix]:
    """One-hot matrices of the fixed effects, the largest first (its Gram block is diagonal)."""
    onehots = []
    for c in fe_cols:
        codes, uniq = pd.factorize(pdf[c])
        onehots.append(_one_hot(codes, len(uniq)))
    onehots.sort(key=lambda m: -m.shape[1])
    return onehots


def did2s_first_stage(
    pdf: pd.DataFrame,
    y: str,
    controls: list[str],
    fe_cols: list[str],
    untreated: np.ndarray,
    tol: float = 1e-10,
) -> np.ndarray:
    """Gardner's stage 1 on the project's FE layer: the fit of ``y ~ controls | fe`` on the
    untreated rows, predicted for every row (the imputed untreated outcome).

    The control coefficients come from the demeaned untreated rows
    (:func:`cbec.estimation.fe.demean`, LSMR, ``tol``); the fixed-effect part on the untreated
    rows, f = y - X b - e (e the demeaned residual), is then solved for the fixed-effect
    coefficients with the sparse dummy matrix D of the untreated rows, (D'D) a = D'f (largest
    FE eliminated, dense Schur complement for the others: :func:`_solve_fe_normal`). Every FE
    level of ``pdf`` must occur untreated (:func:`_drop_unimputable`). Raises RuntimeError when
    D a does not reproduce f (a failed solve; never a silent fallback)."""
    from cbec.estimation.fe import demean

    codes = np.column_stack([pd.factorize(pdf[c])[0] for c in fe_cols]).astype(np.uint32)
    Y = pdf[[y, *controls]].to_numpy(float)
    Yu = Y[untreated]
    dm = demean(Yu, codes[untreated], tol=tol, method="lsmr")
    if controls:
        b = np.linalg.lstsq(dm[:, 1:], dm[:, 0], rcond=None)[0]
    else:
        b = np.zeros(0)
    f = Yu[:, 0] - Yu[:, 1:] @ b - (dm[:, 0] - dm[:, 1:] @ b)
    onehots = _fe_onehots(pdf, fe_cols)
    D = sparse.hstack(onehots, format="csr")
    Du = D[np.flatnonzero(untreated)]
    a = _solve_fe_normal(Du, onehots[0].shape[1], np.asarray(Du.T @ f)[:, None])[:, 0]
    gap = float(np.abs(Du @ a - f).max())
    scale = max(float(np.abs(f).max()), 1.0)
    if not gap <= 1e-7 * scale:
        raise RuntimeError(
            f"did2s stage 1: the fixed-effect estimates do not reproduce the fitted values "
            f"(max gap {gap:.3g})"
        )
    return Y[:, 1:] @ b + D @ a


def _did2s_cbec(ts: _TwoStage) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1 on the FE layer (:func:`did2s_first_stage`), stage 2 by OLS on the residuals,
    and the Butts-Gardner variance with sparse algebra (:func:`_did2s_vcov_sparse`)."""
    pdf, y, controls, fe_cols, regs, cluster = ts
    untreated = ~pdf["treated"].to_numpy(bool)
    u1 = pdf[y].to_numpy(float) - did2s_first_stage(pdf, y, controls, fe_cols, untreated)
    X2 = pdf[regs].to_numpy(float)
    beta = np.linalg.solve(X2.T @ X2, X2.T @ u1)
    u2 = u1 - X2 @ beta
    onehots = _fe_onehots(pdf, fe_cols)
    blocks = onehots + ([sparse.csr_matrix(pdf[controls].to_numpy(float))] if controls else [])
    X1 = sparse.hstack(blocks, format="csr")
    p1 = onehots[0].shape[1]
    vcov = _did2s_vcov_sparse(X1, p1, untreated, X2, u1, u2, pdf[cluster].to_numpy())
    return beta, vcov

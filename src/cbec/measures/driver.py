"""Per-industry estimation of TFP and capacity utilization (the ``measures`` stage).

One call of :func:`estimate_industry` estimates every firm-level measure of one 2-digit CIC
industry; the workflow runs one job per industry (rule ``measure_industry``) and gathers
them with :func:`gather_measures` / :func:`gather_diagnostics` (rules ``tfp``, ``cu``,
``measures_diagnostics``).

Measures (column: method)
    ``tfp_lp``     Levinsohn–Petrin on ``ln_va``: free ``ln_l``, state ``ln_k``, proxy ``ln_m``
    ``tfp_op``     Olley–Pakes on ``ln_va``: free ``ln_l``, state ``ln_k``, proxy ``ln_inv``
                   (rows with non-positive investment have a null ``ln_inv`` and leave the
                   estimation sample, but still get a TFP: ``tfp = ln_va - b_l ln_l - b_k ln_k``)
    ``cu``         Yu–Jin–Zhang (2018) capital utilization, :func:`cbec.measures.cu.estimate_cu_yjz`
                   (null where the depreciation rate is missing, i.e. 2008–2010 in ASIF)
    ``cu_sfa_cd``  Battese–Coelli E[exp(-u)|e] of a Cobb–Douglas stochastic frontier of
                   ``measures.sfa_output`` (default ``ln_va``): by default
                   (``measures.sfa_kind: capacity``) a capacity frontier in the quasi-fixed
                   inputs ``measures.sfa_capacity_inputs`` (default ``ln_k``, ``ln_l``), so
                   CU = observed / capacity output; with ``sfa_kind: technical_efficiency``
                   the frontier in every input ``measures.sfa_inputs`` (default ``ln_k``,
                   ``ln_l``, ``ln_m``), i.e. efficiency given the inputs used
                   (docs/methods.md, "SFA capacity utilization")
    ``cu_sfa_tl``  the same with a translog frontier in the inputs
    Both frontiers add year dummies (first year of the estimation sample is the base) as extra
    linear regressors when ``measures.sfa_year_dummies`` is true: the frontier shifts with
    the year (common technical change and deflator error) and only the within-year shortfall
    counts as under-utilization. The translog terms (frontierQuad parameterisation: ½x_i²,
    x_i·x_j) are built by :func:`~cbec.measures.sfa.fit_sfa_measure` and passed to
    :func:`~cbec.measures.sfa.fit_sfa` as a Cobb–Douglas design, so the dummies never enter
    squares or interactions.

Fallbacks (never a crash, never a silent null)
    A measure is first estimated on the industry's own rows. The attempt fails when fewer than
    ``min_obs`` rows are usable for it, when the estimator raises (too few lags, collinear
    design), when it reports non-convergence, when a production-function elasticity
    (``b_l``, ``b_k``) falls outside ``elasticity_range``, or, for SFA, when the ML optimum
    is the no-inefficiency boundary (gamma = 0: every efficiency would be 1) or, on the
    industry's own rows, the OLS residuals have the wrong (positive) skew (Waldman 1982); a
    pooled frontier with gamma > 0 is kept despite a mild positive skew (noted). The measure is then estimated on the pools of ``measures.fallback`` in order:
    ``group`` (the industries of the same 1-digit group, e.g. 30–39 for "35") and ``all``
    (every configured industry: all manufacturing). The pooled fit's values for the
    industry's own rows are used: for TFP the pooled elasticities applied to the industry's
    rows; for SFA the pooled frontier with an intercept dummy per industry of the pool (the
    industry keeps its own frontier level, the slopes and the inefficiency distribution are
    pooled); for YJZ the pooled theta, with the level ``a`` of delta = a u^theta normalized
    within the industry as for every other industry (there is no default theta: an
    industry whose every pool fails has a missing CU). Every attempt and why it failed is logged and kept
    in the diagnostics ``message``; ``fallback`` records the pool used
    (``none`` | ``group`` | ``all``), or ``failed`` when every pool failed (the measure is
    then null for the industry, logged as an error), or ``empty`` for an industry without rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from cbec.errors import InputError
from cbec.measures.cu import LEVEL_CONTROL, cu_yjz
from cbec.measures.gather import (
    CU_COLUMNS,
    DIAGNOSTICS_SCHEMA,
    KEYS,
    MEASURES,
    MEASURES_SCHEMA,
    TFP_COLUMNS,
    empty_diagnostics,
    empty_measures,
    gather_diagnostics,
    gather_measures,
)
from cbec.measures.outcome import REQUIRED_COLUMNS, MeasureFit
from cbec.measures.prodfn import estimate_prodfn
from cbec.measures.sfa import SFA_INPUTS, SFA_OUTPUT, fit_sfa_measure, sfa_variables

__all__ = [
    "CU_COLUMNS",
    "DIAGNOSTICS_SCHEMA",
    "MEASURES",
    "MEASURES_SCHEMA",
    "REQUIRED_COLUMNS",
    "TFP_COLUMNS",
    "empty_diagnostics",
    "empty_measures",
    "estimate_industry",
    "gather_diagnostics",
    "gather_measures",
    "industry_group",
    "measure_columns",
    "read_panel",
]

METHODS = {
    "tfp_op": "op",
    "tfp_lp": "lp",
    "cu": "yjz",
    "cu_sfa_cd": "sfa-cd",
    "cu_sfa_tl": "sfa-translog",
}
_ROW = "__row"
_EST_ERRORS = (ValueError, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError)


def industry_group(ind2: str) -> str:
    """1-digit group of a 2-digit CIC code ("35" -> "3")."""
    return str(ind2)[0]


# ----------------------------------------------------------------------------- estimators


def _usable(df: pl.DataFrame, cols: list[str]) -> int:
    """Rows with every column finite."""
    if df.height == 0:
        return 0
    mask = pl.all_horizontal(
        [pl.col(c).cast(pl.Float64).is_finite().fill_null(False) for c in cols]
    )
    return int(df.select(mask.sum()).item())


def _in_range(coef: dict[str, float], rng: tuple[float, float]) -> str:
    bad = [f"{k} = {v:.4g}" for k, v in coef.items() if not rng[0] <= v <= rng[1]]
    return f"elasticity outside [{rng[0]:g}, {rng[1]:g}]: {', '.join(bad)}" if bad else ""


def _fit_prodfn(pool: pl.DataFrame, method: str, cfg: dict) -> MeasureFit:
    proxy = "ln_inv" if method == "op" else "ln_m"
    res = estimate_prodfn(
        pool,
        method=method,
        y="ln_va",
        free=["ln_l"],
        state=["ln_k"],
        proxy=proxy,
        id="firm_id",
        time="year",
        poly_degree=cfg["poly_degree"],
    )
    b_l, b_k = res.coef["ln_l"], res.coef["ln_k"]
    problem = _in_range({"b_l": b_l, "b_k": b_k}, tuple(cfg["elasticity_range"]))
    if not res.converged:
        problem = "not converged: " + res.message
    return MeasureFit.of(res.tfp, res, problem, {"b_l": b_l, "b_k": b_k})


_USABLE = {
    "tfp_op": ["ln_va", "ln_l", "ln_k", "ln_inv"],
    "tfp_lp": ["ln_va", "ln_l", "ln_k", "ln_m"],
    "cu": ["ln_va", "ln_l", "ln_m", "dep_rate"],  # + measures.yjz.capital
    "cu_sfa_cd": [SFA_OUTPUT, *SFA_INPUTS],  # replaced by the configured variables
    "cu_sfa_tl": [SFA_OUTPUT, *SFA_INPUTS],
}


def _usable_cols(measure: str, cfg: dict) -> list[str]:
    if measure in ("cu_sfa_cd", "cu_sfa_tl"):
        y, x = sfa_variables(cfg)
        return [y, *x]
    if measure == "cu":
        level = [LEVEL_CONTROL] if cfg["yjz"].get("level_control") else []
        return [*_USABLE["cu"], cfg["yjz"]["capital"], *level]
    return _USABLE[measure]


def _fitter(
    measure: str, cfg: dict, own_n: int, noise_var: float | None = None
) -> Callable[[pl.DataFrame], MeasureFit]:
    if measure == "tfp_op":
        return lambda p: _fit_prodfn(p, "op", cfg)
    if measure == "tfp_lp":
        return lambda p: _fit_prodfn(p, "lp", cfg)
    if measure == "cu":
        return lambda p: cu_yjz(p, cfg, own_n, noise_var)
    if measure == "cu_sfa_cd":
        return lambda p: fit_sfa_measure(p, "cd", cfg, own_n)
    if measure == "cu_sfa_tl":
        return lambda p: fit_sfa_measure(p, "translog", cfg, own_n)
    raise ValueError(f"unknown measure {measure!r}")


# ----------------------------------------------------------------------------- driver


def _pools(ind2: str, present: list[str], cfg: dict) -> list[tuple[str, list[str]]]:
    """Estimation samples to try in order: own industry, then the configured fallbacks."""
    out = [("none", [ind2])]
    for level in cfg["fallback"]:
        if level == "group":
            members = [i for i in present if industry_group(i) == industry_group(ind2)]
        elif level == "all":
            members = list(present)
        else:
            raise ValueError(f"unknown fallback level {level!r} (use 'group' or 'all')")
        members = sorted(set(members) | {ind2})
        if all(set(members) != set(m) for _, m in out):
            out.append((level, members))
    return out


def _fmt(d: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in d.items() if v is not None and np.isfinite(v))


def _estimate_measure(
    measure: str,
    own: pl.DataFrame,
    others: pl.DataFrame,
    ind2: str,
    pools: list[tuple[str, list[str]]],
    cfg: dict,
    log: logging.Logger,
    noise_var: float | None = None,
) -> tuple[np.ndarray, dict]:
    """Values for the industry's rows and the diagnostics row of one measure."""
    t0 = time.perf_counter()
    fit_fn = _fitter(measure, cfg, own.height, noise_var)
    notes: list[str] = []
    first_skew = float("nan")
    for level, members in pools:
        pool = (
            own
            if level == "none"
            else pl.concat([own, others.filter(pl.col("ind2").is_in(members))])
        )
        label = f"{measure} ind2={ind2} pool={level}"
        fit = _try_pool(fit_fn, pool, _usable_cols(measure, cfg), cfg, level, label, notes, log)
        if fit is None:
            continue
        if level == "none":
            first_skew = fit.diag.get("skewness", float("nan"))
        if not fit.ok:
            notes.append(f"{level}: {fit.message}")
            log.warning("%s: rejected: %s", label, fit.message)
            continue
        if level != "none":
            log.warning(
                "%s: FALLBACK to the %s pool (%s) after: %s",
                f"{measure} ind2={ind2}",
                level,
                ",".join(members),
                " | ".join(notes),
            )
        values, diag = _accepted(fit, own.height, level, members, notes, first_skew)
        break
    else:
        log.error(
            "%s ind2=%s: every pool failed, the measure is null for this industry: %s",
            measure,
            ind2,
            " | ".join(notes),
        )
        values = np.full(own.height, np.nan)
        diag = _failed(notes, first_skew)
    elapsed = time.perf_counter() - t0
    diag.update(
        ind2=ind2,
        measure=measure,
        method=METHODS[measure],
        n_rows=own.height,
        elapsed_s=elapsed,
    )
    log.info(
        "%s ind2=%s: done in %.1f s, fallback=%s, %d/%d values",
        measure,
        ind2,
        elapsed,
        diag["fallback"],
        diag["n_values"],
        own.height,
    )
    return values, diag


def _try_pool(
    fit_fn: Callable[[pl.DataFrame], MeasureFit],
    pool: pl.DataFrame,
    usable_cols: list[str],
    cfg: dict,
    level: str,
    label: str,
    notes: list[str],
    log: logging.Logger,
) -> MeasureFit | None:
    """Fit one pool; None (with a note) when it has too few usable rows or the estimator
    raises one of the expected estimation errors."""
    n_use = _usable(pool, usable_cols)
    if n_use < cfg["min_obs"]:
        note = f"{level}: {n_use} usable rows < min_obs {cfg['min_obs']}"
        notes.append(note)
        log.warning("%s: %s", label, note)
        return None
    t1 = time.perf_counter()
    try:
        fit = fit_fn(pool)
    except _EST_ERRORS as err:
        note = f"{level}: estimation failed: {type(err).__name__}: {err}"
        notes.append(note)
        log.warning("%s: %s", label, note)
        return None
    log.info(
        "%s: n=%d (usable %d), %.1f s, converged=%s, %s",
        label,
        pool.height,
        fit.nobs,
        time.perf_counter() - t1,
        fit.converged,
        _fmt(fit.diag),
    )
    return fit


def _accepted(
    fit: MeasureFit,
    n_own: int,
    level: str,
    members: list[str],
    notes: list[str],
    first_skew: float,
) -> tuple[np.ndarray, dict]:
    """The industry's values and diagnostics from the fit that was kept."""
    values = fit.values[:n_own]
    values = np.where(np.isfinite(values), values, np.nan)
    diag = {
        **dict.fromkeys(DIAGNOSTICS_SCHEMA),
        **fit.diag,
        "n_est": fit.nobs,
        "n_values": int(np.isfinite(values).sum()),
        "converged": fit.converged,
        "fallback": level,
        "pool": ",".join(members),
        "message": " | ".join([*notes, f"{level}: {fit.message}" if fit.message else level]),
    }
    if level != "none" and "skewness" in fit.diag:
        diag["skewness"] = first_skew
    return values, diag


def _failed(notes: list[str], first_skew: float) -> dict:
    """Diagnostics of a measure for which every pool failed."""
    return {
        **dict.fromkeys(DIAGNOSTICS_SCHEMA),
        "n_est": 0,
        "n_values": 0,
        "converged": False,
        "fallback": "failed",
        "pool": "",
        "message": " | ".join(notes),
        "skewness": first_skew,
    }


def measure_columns(cfg: dict) -> list[str]:
    """The panel columns the measures of ``cfg`` (config.yaml's ``measures``) read:
    :data:`REQUIRED_COLUMNS`, the YJZ law-of-motion controls (e.g. ``platform``) and, with
    ``yjz.level_control``, its column."""
    yjz = cfg.get("yjz", {})
    extra = [*yjz.get("law_of_motion_controls", [])]
    extra += [LEVEL_CONTROL] if yjz.get("level_control") else []
    return [*REQUIRED_COLUMNS, *(c for c in extra if c not in REQUIRED_COLUMNS)]


def read_panel(
    path: str | Path, industries: list[str], columns: list[str] | None = None
) -> pl.DataFrame:
    """The columns of the panel the measures need (``columns``, default
    :data:`REQUIRED_COLUMNS`), rows of ``industries`` only.

    Raises :class:`~cbec.errors.InputError` naming the file and the column when a column is
    missing or is not of a numeric type.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "file does not exist")
    schema = pl.read_parquet_schema(path)
    columns = REQUIRED_COLUMNS if columns is None else columns
    for col in columns:
        if col not in schema:
            raise InputError(path, col, "required column is missing (needed by the measures)")
        dtype = schema[col]
        ok = (
            dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
            if col == "ind2"
            else dtype.is_numeric()
        )
        if not ok:
            raise InputError(path, col, f"unexpected type {dtype}")
    return (
        pl.scan_parquet(path)
        .select(columns)
        .filter(pl.col("ind2").is_in(list(industries)))
        .collect()
    )


def _check_columns(df: pl.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"panel lacks the columns the measures need: {missing}")


def estimate_industry(
    df: pl.DataFrame,
    ind2: str,
    cfg: dict,
    log: logging.Logger,
    measures: list[str] | None = None,
    noise_var: float | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Estimate every measure for industry ``ind2``.

    ``df`` is the firm-year panel (at least :data:`REQUIRED_COLUMNS`); rows of other
    industries are used only by the fallback pools (rows whose ``ind2`` is not in
    ``cfg["industries"]`` never are). ``cfg`` is config.yaml's ``measures`` block.
    ``measures`` restricts the measures computed (default: all of :data:`MEASURES`; the
    others are null and absent from the diagnostics). ``noise_var``: the variance of the
    book noise in ln depreciation rate (rule book_noise) that ``norm_method: deconvolved``
    removes (None: estimated within each estimation pool).

    Returns ``(measures, diagnostics)``: one row per firm-year of the industry with
    :data:`MEASURES_SCHEMA`, and one row per measure with :data:`DIAGNOSTICS_SCHEMA`.
    """
    _check_columns(df, measure_columns(cfg))
    todo = list(MEASURES if measures is None else measures)
    unknown = set(todo) - set(MEASURES)
    if unknown:
        raise ValueError(f"unknown measures {sorted(unknown)}; choose from {MEASURES}")
    data = _estimation_data(df, cfg["industries"], measure_columns(cfg))
    own = data.filter(pl.col("ind2") == ind2).sort(KEYS)
    others = data.filter(pl.col("ind2") != ind2)
    if own.height == 0:
        log.warning("ind2=%s: no rows in the panel: writing empty measures", ind2)
        return empty_measures(), _absent_diagnostics(ind2, todo)
    present = sorted(data.get_column("ind2").unique().to_list())
    pools = _pools(ind2, present, cfg)
    log.info(
        "ind2=%s: %d firm-years, %d firms, years %d-%d; fallback pools: %s",
        ind2,
        own.height,
        own.get_column("firm_id").n_unique(),
        own.get_column("year").min(),
        own.get_column("year").max(),
        "; ".join(f"{lvl}={len(m)} industries" for lvl, m in pools),
    )
    cols: dict[str, np.ndarray] = {}
    diags = []
    for m in todo:
        cols[m], d = _estimate_measure(m, own, others, ind2, pools, cfg, log, noise_var)
        diags.append(d)
    out = own.select(KEYS).with_columns(
        [
            pl.Series(m, cols[m], dtype=pl.Float64).fill_nan(None)
            if m in cols
            else pl.lit(None, dtype=pl.Float64).alias(m)
            for m in MEASURES
        ]
    )
    diag = pl.DataFrame(diags, schema=DIAGNOSTICS_SCHEMA).with_columns(
        pl.col(c).fill_nan(None) for c, t in DIAGNOSTICS_SCHEMA.items() if t == pl.Float64()
    )
    return out.select(list(MEASURES_SCHEMA)), diag


def _estimation_data(df: pl.DataFrame, industries: list[str], columns: list[str]) -> pl.DataFrame:
    """The measures' ``columns`` with their types, rows of the configured industries only."""
    data = df.select(columns).with_columns(
        pl.col("firm_id").cast(pl.Int64),
        pl.col("year").cast(pl.Int64),
        pl.col("ind2").cast(pl.String),
        *[pl.col(c).cast(pl.Float64) for c in columns[3:]],
    )
    return data.filter(pl.col("ind2").is_in(list(industries)))


def _absent_diagnostics(ind2: str, todo: list[str]) -> pl.DataFrame:
    """Diagnostics of an industry without rows: one ``empty`` row per measure."""
    return pl.DataFrame(
        [
            {
                **dict.fromkeys(DIAGNOSTICS_SCHEMA),
                "ind2": ind2,
                "measure": m,
                "method": METHODS[m],
                "n_rows": 0,
                "n_est": 0,
                "n_values": 0,
                "converged": False,
                "fallback": "empty",
                "pool": "",
                "elapsed_s": 0.0,
                "message": "industry absent from the panel",
            }
            for m in todo
        ],
        schema=DIAGNOSTICS_SCHEMA,
    )

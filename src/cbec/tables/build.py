"""Build the estimates of a table (the JSON of docs/architecture.md) from its declarative spec.

A table spec (``config.yaml: tables.<name>``) lists columns; each column names a dependent
variable, the treatment, optional interactions, whether the paper's controls enter, and
optionally its own fixed effects or a required non-missing variable. A column's rows are those
where every variable it uses is non-missing (as Stata and pyfixest, per model); columns with
the same fixed effects and the same rows share one :class:`~cbec.estimation.fe.FESample`: the
interacted fixed effects are encoded once and each variable is demeaned once for all of them.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import polars as pl

from cbec.estimation.fe import CollinearityError, FESample, RegResult, feols
from cbec.estimation.iv import iv2sls
from cbec.estimation.weakiv import MOP_CRIT_TAU10
from cbec.estimation.wild import wild_cluster_bootstrap

log = logging.getLogger("cbec.tables")


def interaction_name(treatment: str, moderator: str) -> str:
    return f"{treatment}:{moderator}"


def add_interactions(df: pl.DataFrame, columns: list[dict]) -> pl.DataFrame:
    """Create the ``treatment:moderator`` product columns the specs ask for."""
    exprs = {}
    for col in columns:
        for mod in col.get("interactions", []):
            name = interaction_name(col["treatment"], mod)
            exprs[name] = (pl.col(col["treatment"]) * pl.col(mod)).alias(name)
    return df.with_columns(list(exprs.values())) if exprs else df


def column_regressors(col: dict, controls: list[str]) -> list[str]:
    """Regressors of a column: treatment, interactions and their moderators, controls."""
    treat = col.get("treatment")
    regs = [treat] if treat else []
    for mod in col.get("interactions", []):
        regs += [interaction_name(treat, mod), mod]
    regs += list(col.get("exog", []))
    if col.get("controls", False):
        regs += controls
    return list(dict.fromkeys(regs))


class SampleCache:
    """One FESample per distinct set of rows among the columns of a table.

    ``keys`` are the columns' :func:`_column_key` (fixed effects, variables). Keys whose rows
    coincide (same fixed effects, same non-missing pattern over their variables, e.g. Table 6's
    TFP and new-product columns) share one sample holding all their variables, so the fixed
    effects are encoded and each control demeaned once."""

    def __init__(self, df: pl.DataFrame, cluster: str, keys: list[tuple]) -> None:
        self.df = df
        self.cluster = cluster
        self._cache: dict[tuple, FESample] = {}
        self._group: dict[tuple, tuple] = {}
        self._columns: dict[tuple, set[str]] = {}
        heads: dict[tuple, tuple] = {}
        for key in dict.fromkeys(keys):
            fe, cols = list(key[0]), key[1]
            need = [c for c in dict.fromkeys([*cols, *_fe_columns(fe), cluster]) if c in df.columns]
            ok = pl.all_horizontal(
                [
                    pl.col(c).is_not_null() & ~pl.col(c).is_nan()
                    if df.schema[c].is_float()
                    else pl.col(c).is_not_null()
                    for c in need
                ]
            )
            mask = df.select(ok).to_series().to_numpy()
            head = heads.setdefault((key[0], np.packbits(mask).tobytes()), key)
            self._group[key] = head
            self._columns.setdefault(head, set()).update(cols)

    def get(self, key: tuple) -> FESample:
        """The sample of the column with this key (built on first use)."""
        head = self._group[key]
        s = self._cache.get(head)
        if s is None:
            fe = list(head[0])
            cols = sorted(self._columns[head] - set(_fe_columns(fe)))
            s = FESample.from_frame(self.df, fe, columns=cols, cluster=self.cluster)
            log.info(
                "sample fe=%s: %d rows (%d dropped missing, %d singletons)",
                "+".join(fe) or "none",
                s.nobs,
                s.n_dropped_missing,
                s.n_dropped_singletons,
            )
            self._cache[head] = s
        return s


def _fe_columns(fe: list[str]) -> list[str]:
    return [p for f in fe for p in f.split("^")]


def _prepare(df: pl.DataFrame, spec: dict, common: dict) -> tuple[list[dict], list[str]]:
    cols = spec["columns"]
    controls = list(common["controls"])
    return cols, controls


def _column_key(c: dict, controls: list[str], common: dict) -> tuple:
    """(fixed effects, every variable of the column): a column's rows are those where all its
    variables are non-missing (as Stata and pyfixest, per model)."""
    fe = c.get("fixed_effects", common["fixed_effects"])
    need = {c["depvar"], *c.get("require", []), *column_regressors(c, controls)}
    need |= set(c.get("instruments", [])) | ({c["endog"]} if c.get("endog") else set())
    return (tuple(fe), tuple(sorted(need)))


def _not_estimated(c: dict, fe: list[str], vcov: str, nobs: int, label_i: int, err: str) -> list:
    """The first-stage and 2SLS columns of an IV model that could not be estimated: in the
    table, empty, with the reason in the JSON."""
    out = []
    for est in ("first_stage", "iv2sls"):
        out.append(
            {
                "label": f"({label_i})",
                "depvar": c["endog"] if est == "first_stage" else c["depvar"],
                "estimator": est,
                "fixed_effects": fe,
                "vcov": vcov,
                "coef": {},
                "nobs": nobs,
                "r2": None,
                "stats": {"not_estimated": err},
                "controls": bool(c.get("controls")),
                **({"header": c["header"]} if c.get("header") else {}),
            }
        )
        label_i += 1
    return out


FIRST_STAGE_STATS = ("kp_lm", "kp_lm_p", "kp_wald_f", "eff_f", "weak_iv")


def _iv_columns(
    c: dict, key: tuple, sample: FESample, controls: list[str], vcov: str, name: str, label_i: int
) -> list[dict]:
    """The first-stage and 2SLS columns of one IV model (labels ``label_i``, ``label_i + 1``)."""
    fe = list(key[0])
    try:
        if sample.nobs == 0:
            raise ValueError(
                f"no firm-year with all of the column's variables ({', '.join(key[1])}) non-missing"
            )
        exog = column_regressors({**c, "treatment": None}, controls)
        res = iv2sls(sample, c["depvar"], c["endog"], c["instruments"], exog, vcov=vcov)
        gone = res.dropped_collinear
        if gone:
            log.warning("%s: collinear with the fixed effects, dropped: %s", name, gone)
    except ValueError as err:
        # e.g. an instrument without variation after the fixed effects (a tiny panel):
        # the columns stay in the table, empty, with the reason in the JSON and log
        log.error("%s: %s not estimated: %s", name, c["instruments"], err)
        return _not_estimated(c, fe, vcov, sample.nobs, label_i, str(err))
    first = res.first_stage.to_dict(f"({label_i})")
    first.update(estimator="first_stage", controls=bool(c.get("controls")), absorbed=gone)
    first["stats"].update({k: res.stats[k] for k in FIRST_STAGE_STATS if k in res.stats})
    second = res.to_dict(f"({label_i + 1})")
    second.update(estimator="iv2sls", controls=bool(c.get("controls")), absorbed=gone)
    for col in (first, second):
        if c.get("header"):
            col["header"] = c["header"]
    log.info("%s (%d-%d): %s", name, label_i, label_i + 1, res.summary().splitlines()[1])
    if "eff_f" in res.stats:
        log.info(
            "%s (%d): effective F %.3f, Anderson-Rubin 95%% set %s",
            name,
            label_i + 1,
            res.stats["eff_f"],
            res.stats["ar_ci"],
        )
    return [first, second]


def _ols_column(sample: FESample, c: dict, regs: list[str], vcov: str, where: str) -> RegResult:
    """The OLS fit of one column. Regressors collinear with the fixed effects or the ones
    before them are dropped and logged (the FE layer's scale-free check; the table note names
    them); the treatment and its interactions must stay: if not, the run stops naming them."""
    treat = c.get("treatment")
    required = [treat, *(interaction_name(treat, m) for m in c.get("interactions", []))]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the dropped ones: logged below
            res = feols(sample, c["depvar"], regs, vcov=vcov, required=required if treat else ())
    except CollinearityError as err:
        raise CollinearityError(f"{where}: {err}") from err
    if res.dropped_collinear:
        log.warning(
            "%s: collinear with the fixed effects, dropped: %s", where, res.dropped_collinear
        )
    return res


def _wild_stats(
    sample: FESample, c: dict, regs: list[str], common: dict, seed: int, label_i: int, name: str
) -> dict[str, Any]:
    """The restricted wild cluster bootstrap p-value and confidence interval of a column."""
    wb_cfg = common["wild_bootstrap"]
    wb = wild_cluster_bootstrap(
        sample,
        c["depvar"],
        regs,
        c["treatment"],
        rng=np.random.default_rng([seed, label_i]),
        cluster=common["cluster"],
        B=int(wb_cfg["reps"]),
        weights=wb_cfg["weights"],
        redemean=wb_cfg["method"] == "exact",
    )
    log.info(
        "%s (%d): wild cluster bootstrap p = %.4f, CI %s (B = %d, %s)",
        name,
        label_i,
        wb.pvalue,
        wb.conf_int,
        wb.B,
        wb.weights,
    )
    return {
        "wild_p": wb.pvalue,
        "wild_ci": list(wb.conf_int or ()),
        "wild_reps": wb.B,
        "wild_method": wb.method,
        "wild_weights": wb.weights,
    }


def weak_iv_notes(columns: list[dict]) -> dict[str, str] | None:
    """The table note on weak-instrument-robust inference (en, zh; ASCII in English), naming
    the 2SLS columns whose instruments are weak by the Montiel Olea-Pflueger effective F."""
    iv = [c for c in columns if c.get("estimator") == "iv2sls" and "eff_f" in c.get("stats", {})]
    if not iv:
        return None
    en = (
        "Weak-instrument-robust inference (not in the paper): Anderson-Rubin 95% confidence set "
        "(clustered Wald form, inverted exactly) and the Montiel Olea-Pflueger effective F "
        "(clustered; with one instrument it equals the clustered first-stage F)."
    )
    zh = (
        "弱工具变量稳健推断(原文未报告):Anderson-Rubin 95%置信集(聚类稳健,精确反演)"
        "与Montiel Olea-Pflueger有效F统计量(聚类稳健;单一工具变量时等于第一阶段聚类稳健F)。"
    )
    for c in iv:
        st = c["stats"]
        if st.get("weak_iv"):
            f = f"{st['eff_f']:.2f}"
            en += (
                f" Column {c['label']}: weak instrument (effective F {f} < {MOP_CRIT_TAU10:.1f}, "
                "the 5% critical value for a worst-case 2SLS bias of 10%); its 2SLS t statistic "
                "is unreliable, the Anderson-Rubin set is valid."
            )
            zh += (
                f"第{c['label']}列为弱工具变量(有效F为{f},低于10%最大偏误的5%临界值"
                f"{MOP_CRIT_TAU10:.1f}),其2SLS的t统计量不可靠,Anderson-Rubin置信集仍然有效。"
            )
    return {"en": en, "zh": zh}


def regression_table(
    df: pl.DataFrame, spec: dict, common: dict, name: str, seed: int = 0
) -> dict[str, Any]:
    """Fixed-effects OLS and 2SLS columns of one table, as the estimates JSON.

    A column with ``wild_bootstrap: true`` also gets the restricted wild cluster bootstrap
    p-value and confidence interval of its treatment (``common["wild_bootstrap"]``: reps,
    weights), drawn from a generator seeded by ``seed``. 2SLS columns get the weak-instrument
    -robust statistics and a note (:func:`weak_iv_notes`). Columns are labelled (1), (2), …
    in order; a column's ``label_at`` (an int, for callers that estimate a subset of a
    table's columns) sets its label and the count goes on from there.
    """
    cols, controls = _prepare(df, spec, common)
    df = add_interactions(df, cols)
    keys = [_column_key(c, controls, common) for c in cols]
    cache = SampleCache(df, common["cluster"], keys)
    vcov = f"CRV1:{common['cluster']}"
    out_cols: list[dict] = []
    label_i = 1
    for c, key in zip(cols, keys, strict=True):
        label_i = int(c.get("label_at", label_i))
        sample = cache.get(key)
        if c.get("endog"):
            new = _iv_columns(c, key, sample, controls, vcov, name, label_i)
            out_cols += new
            label_i += len(new)
            continue
        regs = column_regressors(c, controls)
        res = _ols_column(sample, c, regs, vcov, f"{name} ({label_i})")
        gone = res.dropped_collinear
        regs = [r for r in regs if r not in gone]
        d = res.to_dict(f"({label_i})")
        d.update(controls=bool(c.get("controls")), absorbed=gone)
        if c.get("wild_bootstrap"):
            kept = [r for r in regs if r in res.names]
            d["stats"].update(_wild_stats(sample, c, kept, common, seed, label_i, name))
        if c.get("header"):
            d["header"] = c["header"]
        out_cols.append(d)
        log.info("%s (%d): %s", name, label_i, res.summary().splitlines()[1])
        label_i += 1
    out = {"table": name, "title": spec.get("title", name), "columns": out_cols}
    notes = weak_iv_notes(out_cols)
    return {**out, "notes": notes} if notes else out

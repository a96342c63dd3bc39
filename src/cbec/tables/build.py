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
from typing import Any

import numpy as np
import polars as pl

from cbec.estimation.fe import FESample, feols
from cbec.estimation.iv import iv2sls
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


def absorbed(sample: FESample, names: list[str], rel_tol: float = 1e-5) -> list[str]:
    """Variables the fixed effects absorb: after demeaning (to the sample's tolerance) their
    standard deviation is below ``rel_tol`` times the raw one (e.g. a firm-level dummy under
    firm fixed effects)."""
    if not names:
        return []
    d = sample.demeaned(names)
    out = []
    for i, n in enumerate(names):
        raw_sd = float(sample.column(n).std())
        if raw_sd == 0 or float(d[:, i].std()) <= rel_tol * raw_sd:
            out.append(n)
    return out


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


def regression_table(
    df: pl.DataFrame, spec: dict, common: dict, name: str, seed: int = 0
) -> dict[str, Any]:
    """Fixed-effects OLS and 2SLS columns of one table, as the estimates JSON.

    A column with ``wild_bootstrap: true`` also gets the restricted wild cluster bootstrap
    p-value and confidence interval of its treatment (``common["wild_bootstrap"]``: reps,
    weights), drawn from a generator seeded by ``seed``.
    """
    cols, controls = _prepare(df, spec, common)
    df = add_interactions(df, cols)
    keys = [_column_key(c, controls, common) for c in cols]
    cache = SampleCache(df, common["cluster"], keys)
    vcov = f"CRV1:{common['cluster']}"
    out_cols: list[dict] = []
    label_i = 1
    for c, key in zip(cols, keys, strict=True):
        fe = list(key[0])
        sample = cache.get(key)
        if c.get("endog"):
            try:
                if sample.nobs == 0:
                    raise ValueError(
                        "no firm-year with all of the column's variables "
                        f"({', '.join(key[1])}) non-missing"
                    )
                exog = column_regressors({**c, "treatment": None}, controls)
                gone = absorbed(sample, exog)
                if gone:
                    log.warning("%s: absorbed by the fixed effects, dropped: %s", name, gone)
                    exog = [v for v in exog if v not in gone]
                res = iv2sls(sample, c["depvar"], c["endog"], c["instruments"], exog, vcov=vcov)
            except ValueError as err:
                # e.g. an instrument without variation after the fixed effects (a tiny panel):
                # the columns stay in the table, empty, with the reason in the JSON and log
                log.error("%s: %s not estimated: %s", name, c["instruments"], err)
                for est in ("first_stage", "iv2sls"):
                    out_cols.append(
                        {
                            "label": f"({label_i})",
                            "depvar": c["endog"] if est == "first_stage" else c["depvar"],
                            "estimator": est,
                            "fixed_effects": fe,
                            "vcov": vcov,
                            "coef": {},
                            "nobs": sample.nobs,
                            "r2": None,
                            "stats": {"not_estimated": str(err)},
                            "controls": bool(c.get("controls")),
                            **({"header": c["header"]} if c.get("header") else {}),
                        }
                    )
                    label_i += 1
                continue
            first = res.first_stage.to_dict(f"({label_i})")
            first.update(estimator="first_stage", controls=bool(c.get("controls")), absorbed=gone)
            first["stats"].update(
                {k: res.stats[k] for k in ("kp_lm", "kp_lm_p", "kp_wald_f") if k in res.stats}
            )
            if c.get("header"):
                first["header"] = c["header"]
            out_cols.append(first)
            label_i += 1
            second = res.to_dict(f"({label_i})")
            second.update(estimator="iv2sls", controls=bool(c.get("controls")), absorbed=gone)
            if c.get("header"):
                second["header"] = c["header"]
            out_cols.append(second)
            label_i += 1
            log.info(
                "%s (%d-%d): %s", name, label_i - 2, label_i - 1, res.summary().splitlines()[1]
            )
            continue
        regs = column_regressors(c, controls)
        gone = absorbed(sample, [r for r in regs if r != c.get("treatment")])
        if gone:
            log.warning("%s (%d): absorbed by the fixed effects, dropped: %s", name, label_i, gone)
            regs = [r for r in regs if r not in gone]
        res = feols(sample, c["depvar"], regs, vcov=vcov)
        d = res.to_dict(f"({label_i})")
        d.update(controls=bool(c.get("controls")), absorbed=gone)
        if c.get("wild_bootstrap"):
            wb_cfg = common["wild_bootstrap"]
            wb = wild_cluster_bootstrap(
                sample,
                c["depvar"],
                [r for r in regs if r in res.names],
                c["treatment"],
                rng=np.random.default_rng([seed, label_i]),
                cluster=common["cluster"],
                B=int(wb_cfg["reps"]),
                weights=wb_cfg["weights"],
                redemean=wb_cfg["method"] == "exact",
            )
            d["stats"].update(
                wild_p=wb.pvalue,
                wild_ci=list(wb.conf_int or ()),
                wild_reps=wb.B,
                wild_method=wb.method,
                wild_weights=wb.weights,
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
        if c.get("header"):
            d["header"] = c["header"]
        out_cols.append(d)
        log.info("%s (%d): %s", name, label_i, res.summary().splitlines()[1])
        label_i += 1
    return {"table": name, "title": spec.get("title", name), "columns": out_cols}

"""Table 8 (``kind: event_study``): the effect of joining the platform on CU by years relative
to joining.

Runs the heterogeneity-robust event-study estimators of :mod:`cbec.estimation.staggered`
(dynamic TWFE, Sun-Abraham, did2s) and the static TWFE benchmark on the analysis sample and
returns the estimates JSON (docs/architecture.md column format: one column per estimator, coefficients
``rel_-5`` .. ``rel_5`` and ``att``; ``stats`` with the joint pre-trend test) plus a tidy
``path`` list, from which the event-study figure is drawn.

Cohort: the adoption year column (``join_year``). Firms joining after the last sample year
are never observed treated; by default (``late_cohorts="never"``) they are coded as never
treated, so that their pre-joining years do not enter the lead coefficients as if the
adoption were within the panel (``"keep"`` keeps them as cohorts).
"""

from __future__ import annotations

import logging
import math
import re
import time as time_mod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from cbec.estimation import staggered as st

__all__ = [
    "ESTIMATORS",
    "event_study_estimates",
    "prepare_cohort",
    "render_options",
    "resolve_spec",
    "sample_columns",
]

# estimator key -> (header, function)
ESTIMATORS: dict[str, tuple[str, Callable[..., st.EventStudyResult]]] = {
    "twfe": ("Dynamic TWFE", st.dynamic_twfe),
    "sun_abraham": ("Sun-Abraham", st.sun_abraham),
    "did2s": ("did2s (Gardner)", st.did2s),
}
SA_SE_NOTE = (
    "sun_abraham: standard errors treat the cohort shares as fixed (the variance of the "
    "estimated shares, Sun and Abraham 2021 Prop. 6, is not added; as pyfixest)"
)
DEFAULT_TITLE = "Event study: effect of joining the platform by years since joining"

log = logging.getLogger("cbec.tables.event_study")


def resolve_spec(spec: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
    """The table's spec with the common table settings: fixed effects, clustering and (with
    ``controls: true``) the control variables."""
    return {
        **spec,
        "fixed_effects": common["fixed_effects"],
        "cluster": common["cluster"],
        "controls": common["controls"] if spec.get("controls") else [],
    }


def sample_columns(spec: Mapping[str, Any]) -> list[str]:
    """The analysis-sample columns a (resolved) event-study spec reads."""
    need = {
        spec.get("depvar", "cu"),
        spec.get("cohort", "join_year"),
        spec.get("unit", "firm_id"),
        spec.get("time", "year"),
        spec.get("cluster", "firm_id"),
        *(spec.get("controls") or []),
        *(p.strip() for f in spec.get("fixed_effects", st.PAPER_FE) for p in f.split("^")),
    }
    return sorted(need)


def render_options(est: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(estimates as rendered, keyword arguments of ``write_table``): notes on one line, the
    coefficients in event-time order, the pre-trend test and cluster count."""
    table_est = dict(est, notes="; ".join(est["notes"]))
    return table_est, {
        "coef_order": [k for c in est["columns"] for k in c["coef"]],
        "stats_keys": ["pretrend_f", "pretrend_p", "n_clusters"],
    }


def prepare_cohort(
    sample: pl.DataFrame,
    cohort: str = "join_year",
    time: str = "year",
    late_cohorts: str = "never",
) -> pl.DataFrame:
    """Add the column ``cohort_es``: the adoption year, null for never-treated firms and (with
    ``late_cohorts="never"``) for firms joining after the sample's last year."""
    if cohort not in sample.columns:
        raise KeyError(f"cohort column {cohort!r} not in the analysis sample")
    g = pl.col(cohort).cast(pl.Int64)
    if late_cohorts == "never":
        last = int(sample[time].max())
        g = pl.when(g <= last).then(g).otherwise(None)
    elif late_cohorts != "keep":
        raise ValueError(f"late_cohorts must be 'never' or 'keep', got {late_cohorts!r}")
    return sample.with_columns(g.alias("cohort_es"))


@dataclass(frozen=True)
class _Design:
    """The settings of an event-study spec, defaults filled in."""

    y: str
    cohort: str
    unit: str
    time: str
    fe: list[str]
    cluster: str
    window: tuple[int, int]
    ref: int
    controls: list[str]
    late_cohorts: str

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> _Design:
        lo, hi = spec.get("window", st.DEFAULT_WINDOW)
        return cls(
            y=spec.get("depvar", "cu"),
            cohort=spec.get("cohort", "join_year"),
            unit=spec.get("unit", "firm_id"),
            time=spec.get("time", "year"),
            fe=list(spec.get("fixed_effects", st.PAPER_FE)),
            cluster=spec.get("cluster", "firm_id"),
            window=(int(lo), int(hi)),
            ref=int(spec.get("ref", -1)),
            controls=list(spec.get("controls") or []),
            late_cohorts=spec.get("late_cohorts", "never"),
        )

    def event_design(self) -> st.EventDesign:
        """The estimators' design (the adoption year in ``cohort_es``, see :func:`prepare_cohort`)."""
        return st.EventDesign(
            y=self.y,
            unit=self.unit,
            time=self.time,
            cohort="cohort_es",
            fe=list(self.fe),
            cluster=self.cluster,
            window=self.window,
            controls=self.controls or None,
            ref=self.ref,
        )


def _coef(b: float | None, se: float | None, dfd: int) -> dict[str, float | None]:
    from scipy import stats

    if b is None or se is None or not se > 0:
        return {"b": b, "se": se, "t": None, "p": None}
    t = b / se
    return {"b": b, "se": se, "t": t, "p": float(2 * stats.t.sf(abs(t), max(dfd, 1)))}


def _canonical_note(note: str) -> str:
    """Sort ``{2010: -3, 2009: -2}``-style mappings inside a note (their order comes from a
    parallel group-by and would make the JSON differ between identical runs)."""

    def sort_map(m: re.Match[str]) -> str:
        pairs = re.findall(r"(-?\d+): (-?\d+)", m.group(0))
        return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(pairs, key=lambda p: int(p[0]))) + "}"

    return re.sub(r"\{-?\d+: -?\d+(?:, -?\d+: -?\d+)*\}", sort_map, note)


def _run_one(
    key: str,
    fn: Callable[..., st.EventStudyResult],
    data: pl.DataFrame,
    design: st.EventDesign,
) -> tuple[st.EventStudyResult | None, list[str]]:
    """Fit with the paper's fixed effects. An estimator that fails is left out of the table
    with the reason in a note (never re-estimated with other fixed effects)."""
    try:
        return fn(data, design), []
    except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
        return None, [f"{key}: not estimated with the paper's fixed effects: {err}"]


def _estimator_column(label: str, key: str, res: st.EventStudyResult, y: str) -> dict[str, Any]:
    """The JSON column of one event-study estimator: ``rel_k`` coefficients and the ATT."""
    dfd = max(res.n_clusters - 1, 1)
    coef = {
        f"rel_{row['rel_time']}": _coef(row["estimate"], row["se"], dfd)
        for row in res.path.iter_rows(named=True)
        if not row["is_reference"]
    }
    coef["att"] = _coef(res.att["estimate"], res.att["se"], dfd)
    return {
        "label": label,
        "header": ESTIMATORS[key][0],
        "depvar": y,
        "estimator": key,
        "fixed_effects": res.fixed_effects,
        "vcov": res.vcov,
        "coef": coef,
        "nobs": res.nobs,
        "stats": {
            "pretrend_f": res.pretrend["f_stat"],
            "pretrend_p": res.pretrend["p_value"],
            "n_clusters": res.n_clusters,
        },
        "att": res.att,
        "pretrend": res.pretrend,
        **(
            {"reference_periods": res.to_dict()["reference_periods"]}
            if key == "sun_abraham"
            else {}
        ),
    }


def _event_study_columns(
    d: pl.DataFrame, design: _Design, estimators: Sequence[str], name: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(columns, tidy path, notes) of the event-study estimators, in the order given."""
    event_design = design.event_design()
    columns: list[dict[str, Any]] = []
    path: list[dict[str, Any]] = []
    notes: list[str] = []
    for i, key in enumerate(estimators):
        t0 = time_mod.perf_counter()
        log.info("%s: %s on %d firm-years ...", name, key, d.height)
        res, msgs = _run_one(key, ESTIMATORS[key][1], d, event_design)
        notes += msgs
        if res is None:
            log.warning("%s: %s not estimated: %s", name, key, msgs)
            continue
        log.info(
            "%s: %s done in %.1f s: ATT %.4f (s.e. %.4f), pre-trend p %.3f",
            name,
            key,
            time_mod.perf_counter() - t0,
            res.att["estimate"],
            res.att["se"],
            res.pretrend["p_value"],
        )
        notes += [f"{key}: {_canonical_note(n)}" for n in res.notes]
        if key == "sun_abraham":
            notes.append(SA_SE_NOTE)
        columns.append(_estimator_column(f"({i + 1})", key, res, design.y))
        path += res.tidy().to_dicts()
    return columns, path, notes


def _static_column(
    d: pl.DataFrame, design: _Design, label: str
) -> tuple[dict[str, Any], list[str]]:
    """The static TWFE benchmark column (the paper's fixed effects)."""
    s = st.static_twfe(d, design.event_design())
    column = {
        "label": label,
        "header": "Static TWFE",
        "depvar": design.y,
        "estimator": "static_twfe",
        "fixed_effects": list(design.fe),
        "vcov": f"CRV1:{design.cluster}",
        "coef": {"att": _coef(s["estimate"], s["se"], s["n_clusters"] - 1)},
        "nobs": s["nobs"],
        "stats": {"n_clusters": s["n_clusters"]},
    }
    return column, []


def _closing_notes(notes: list[str], design: _Design) -> list[str]:
    """Which fixed effects were used, and how to read the coefficients."""
    out = []
    if not any("not estimated" in n for n in notes):
        out.append("every estimator used the paper's fixed effects (" + " + ".join(design.fe) + ")")
    lo, hi = design.window
    out.append(
        "rel_k: effect k years after joining (reference k = "
        f"{design.ref}; endpoints {lo} and {hi} pool earlier / later years); att: average "
        "post-joining effect weighted by treated firm-years (static TWFE: the single post dummy); "
        "pretrend_f / pretrend_p: joint F test that all leads are zero"
    )
    return out


def event_study_estimates(
    sample: pl.DataFrame,
    spec: Mapping[str, Any],
    name: str = "table8",
) -> dict[str, Any]:
    """Estimates JSON of the event-study table.

    ``spec`` keys: depvar, cohort, unit, time, fixed_effects, cluster, window [lo, hi], ref,
    late_cohorts, controls (list of names, may be empty), estimators (subset of ESTIMATORS).
    """
    design = _Design.of(spec)
    d = prepare_cohort(sample, design.cohort, design.time, design.late_cohorts)
    notes = []
    n_late = d.filter(pl.col(design.cohort).is_not_null() & pl.col("cohort_es").is_null())[
        design.unit
    ].n_unique()
    if n_late:
        notes.append(
            f"{n_late} firms joining after {int(d[design.time].max())} coded as never treated"
        )
    estimators = spec.get("estimators", list(ESTIMATORS))
    columns, path, es_notes = _event_study_columns(d, design, estimators, name)
    static, static_notes = _static_column(d, design, f"({len(columns) + 1})")
    notes += es_notes + static_notes
    notes += _closing_notes(notes, design)
    return _finite(
        {
            "table": name,
            "title": spec.get("title", DEFAULT_TITLE),
            "columns": [*columns, static],
            "path": path,
            "window": list(design.window),
            "ref": design.ref,
            "notes": notes,
        }
    )


def _finite(obj: Any) -> Any:
    """Recursively replace NaN / inf by None (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj

"""Oracle tables: the paper's specifications re-estimated on the synthetic world's true data.

For the scorecard's truth to be like-for-like, a published cell is compared with the same
regression (same sample rows, fixed effects, controls, moderators, clustering) in which the
dependent variable and the platform dummies are replaced by the world's truth: true
utilization u instead of the measured CU, the true export value, market and product counts
and new-product share instead of the customs-matched and ASIF ones, and each row's true
platform status instead of the matched one. What the pipeline builds from the data as the
paper defines it (the controls, the Table 7 group dummies) stays as built, so the gap between
our estimate and the oracle is what measuring the outcome and linking the platform lists
cost, not what the paper's specification itself estimates (controls that respond to the
platform, TWFE weights, effects compressed at the upper bound of u are in both).

Table 4 (propensity-score matching) is re-run whole on the oracle sample: the treated and
never-treated groups, each treated firm's reference year before adoption and so the matched
sample itself follow the true platform status and the true join year, while the matching
covariates (LP TFP, asset turnover, leverage, size, concentration), the k, the exact cells
and the seed stay as the pipeline's. Keeping our matched sample and swapping only the
outcome and the dummy would not be the same specification: a firm wrongly linked to the
platform would stay a "treated" firm without treatment, a member we missed would serve as a
never-treated control, and reference years would be measured from the listed "N YRS".

Dependent variables without a true counterpart on the same scale (the SFA capacity
utilization of Table 3: observed over frontier output, which mixes u, inefficiency and
productivity) get no oracle; their cells have no like-for-like truth.
"""

from __future__ import annotations

import logging
from typing import Any

import polars as pl

from cbec.matching.quality import row_truth
from cbec.tables.build import regression_table
from cbec.tables.psm_table import psm_table
from cbec.validation.oracle_names import ORACLE_TABLES, oracle_names

log = logging.getLogger("cbec.validation.oracle")

# pipeline depvar -> its true counterpart, an expression over the truth's firm_year columns
TRUE_OUTCOME: dict[str, pl.Expr] = {
    "cu": pl.col("u"),
    "ln_export": pl.when(pl.col("export_usd") > 0).then(pl.col("export_usd").log()),
    "ln_markets": pl.when(pl.col("n_markets") > 0).then(pl.col("n_markets").cast(pl.Float64).log()),
    "ln_products": pl.when(pl.col("n_products") > 0).then(
        pl.col("n_products").cast(pl.Float64).log()
    ),
    "newprod_share": pl.col("newprod_share"),
}
# pipeline treatment -> the truth's firm_year column
TRUE_TREATMENT = {"platform": "platform", "platform_mic": "platform_mic"}
# truth's firms.parquet column -> the pipeline's adoption-year column it replaces
TRUE_TIMING = {"join_year": "join_year", "mic_join_year": "mic_join_year"}
# Table 7 moderator -> the truth's group dummy (firms.parquet) the world plants it on
TRUE_GROUP = {"sfhighict": "high_ict", "sfold": "early", "sfhighscore": "high_score"}


def _truth_columns(firm_year: pl.DataFrame) -> pl.DataFrame:
    """One row per (true_firm, year): the true outcomes and treatments, prefixed ``true__``."""
    exprs = [e.cast(pl.Float64).alias(f"true__{k}") for k, e in TRUE_OUTCOME.items()]
    exprs += [pl.col(v).cast(pl.Float64).alias(f"true__{k}") for k, v in TRUE_TREATMENT.items()]
    return firm_year.select(
        pl.col("true_firm").cast(pl.Int64), pl.col("year").cast(pl.Int64), *exprs
    )


def _true_timing(df: pl.DataFrame, firms: pl.DataFrame | None) -> list[pl.Expr]:
    """Expressions replacing the adoption years of :data:`TRUE_TIMING` present in ``df`` by
    the true firm's (``df`` carries them as ``true__<column>``)."""
    if firms is None:
        return []
    return [
        pl.col(f"true__{k}").cast(df.schema[k]).alias(k)
        for k in TRUE_TIMING
        if k in df.columns and f"true__{k}" in df.columns
    ]


def oracle_sample(
    sample: pl.DataFrame,
    panel: pl.DataFrame,
    firm_year: pl.DataFrame,
    firms: pl.DataFrame | None = None,
    *,
    treatment: bool = True,
) -> tuple[pl.DataFrame, int]:
    """The analysis sample with the outcomes of :data:`TRUE_OUTCOME` and the treatments of
    :data:`TRUE_TREATMENT` (and, given the truth's ``firms``, the adoption years of
    :data:`TRUE_TIMING`) replaced by the truth of each row's true firm, and the number of
    rows dropped because the truth does not know their firm. ``treatment=False``: the
    outcomes only (same rows), the pipeline's treatments and adoption years kept.

    A true outcome is kept only where the pipeline's variable is non-missing, so every column
    of an oracle table has exactly the rows of the pipeline's column (up to those dropped).
    ``panel``: row_id, year, firm_id (the rows' identities); ``firm_year``: the truth.
    """
    rows = row_truth(panel.select("row_id", "year", "firm_id"), firm_year).unique(
        ["firm_id", "year"], keep="first", maintain_order=True
    )
    df = (
        sample.with_columns(pl.col("year").cast(pl.Int64), pl.col("firm_id").cast(pl.Int64))
        .join(
            rows.select(
                pl.col("firm_id").cast(pl.Int64), pl.col("year").cast(pl.Int64), "true_firm"
            ),
            on=["firm_id", "year"],
            how="left",
        )
        .join(_truth_columns(firm_year), on=["true_firm", "year"], how="left")
    )
    if firms is not None:
        timing = firms.select(
            pl.col("true_firm").cast(pl.Int64),
            *[
                pl.col(v).cast(pl.Int64).alias(f"true__{k}")
                for k, v in TRUE_TIMING.items()
                if v in firms.columns
            ],
        )
        df = df.join(timing, on="true_firm", how="left")
    known = df.filter(pl.col("true_firm").is_not_null() & pl.col("true__platform").is_not_null())
    dropped = df.height - known.height
    repl = [
        pl.when(pl.col(k).is_not_null()).then(pl.col(f"true__{k}")).alias(k)
        for k in TRUE_OUTCOME
        if k in known.columns
    ]
    if treatment:
        repl += [
            pl.col(f"true__{k}").cast(known.schema[k]).alias(k)
            for k in TRUE_TREATMENT
            if k in known.columns
        ]
        repl += _true_timing(known, firms)
    out = known.with_columns(repl)
    return out.drop([c for c in out.columns if c.startswith("true__")] + ["true_firm"]), dropped


def has_oracle(col: dict[str, Any]) -> bool:
    """Whether a column of a table spec can be re-estimated on true data: OLS (no 2SLS) with
    a dependent variable the truth knows."""
    return not col.get("endog") and col["depvar"] in TRUE_OUTCOME


def oracle_table(
    df: pl.DataFrame, spec: dict[str, Any], common: dict[str, Any], name: str, seed: int = 0
) -> dict[str, Any]:
    """The estimates JSON of table ``name`` on the oracle sample: one entry per column of the
    spec (None where the column has no oracle); no wild bootstrap. A ``psm`` table is matched
    again on the oracle sample (true treatment and join year, the pipeline's covariates,
    ``seed`` for the ties as the table rule's), without its balance statistics."""
    cols = [{k: v for k, v in c.items() if k != "wild_bootstrap"} for c in spec["columns"]]
    # each column keeps the label it has in the table (a 2SLS model takes two), so the
    # oracle's log lines name the table's columns
    at = 1
    for c in cols:
        c["label_at"], at = at, at + (2 if c.get("endog") else 1)
    keep = [i for i, c in enumerate(cols) if has_oracle(c)]
    out: list[dict[str, Any] | None] = [None] * len(cols)
    if keep:
        sub = {**spec, "columns": [cols[i] for i in keep]}
        if spec.get("kind") == "psm":
            est = psm_table(df, sub, common, name, seed=seed)
        else:
            est = regression_table(df, sub, common, name)
        for i, col in zip(keep, est["columns"], strict=True):
            out[i] = col
    return {"table": name, "columns": out}


def oracle_part(
    df: pl.DataFrame,
    outcome_only: pl.DataFrame,
    spec: dict[str, Any],
    common: dict[str, Any],
    name: str,
    dropped: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Table ``name``'s part of :func:`oracle_tables` (one job per table): the table on the
    oracle sample ``df`` and on ``outcome_only``, with the rows they share; the parts are
    put together by :func:`gather_oracle_tables`."""
    log.info("oracle %s on %d rows (%d without truth)", name, df.height, dropped)
    table = oracle_table(df, spec, common, name, seed)
    log.info("%s again on the true outcome, our platform status", name)
    return {
        "rows": df.height,
        "rows_without_truth": dropped,
        "table": table,
        "table_true_outcome": oracle_table(outcome_only, spec, common, name, seed),
    }


def gather_oracle_tables(
    parts: dict[str, dict[str, Any]], realized: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The oracle tables of the parts (:func:`oracle_part`, by table name, in the order of
    :func:`oracle_names`) as :func:`oracle_tables` writes them, with ``realized``
    (:func:`realized_interactions`) if given. The parts must share their rows."""
    if not parts:
        raise ValueError(f"no oracle table to gather (none of {', '.join(ORACLE_TABLES)})")
    counts = {(p["rows"], p["rows_without_truth"]) for p in parts.values()}
    if len(counts) > 1:
        raise ValueError(f"the oracle tables were estimated on different rows: {sorted(counts)}")
    ((rows, dropped),) = counts
    out: dict[str, Any] = {"rows": rows, "rows_without_truth": dropped}
    out["tables"] = {n: p["table"] for n, p in parts.items()}
    out["tables_true_outcome"] = {n: p["table_true_outcome"] for n, p in parts.items()}
    if realized is not None:
        out["realized_interactions"] = realized
    return out


def oracle_tables(
    df: pl.DataFrame,
    specs: dict[str, Any],
    common: dict[str, Any],
    dropped: int,
    seed: int = 0,
    outcome_only: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """Oracle estimates of every table of :data:`ORACLE_TABLES` present in ``specs`` whose
    kind is one of :data:`ORACLE_KINDS` (``seed``: the config seed, for the matching).
    Given ``outcome_only`` (:func:`oracle_sample` with ``treatment=False``), the tables also
    on it (``tables_true_outcome``; a matching table then matches as ours, on our platform
    status): the step between it and ours is what measuring the outcome costs, the step to
    the oracle what the platform links cost."""
    names = oracle_names(specs)
    tables = {name: oracle_table(df, specs[name], common, name, seed) for name in names}
    log.info("oracle tables %s on %d rows (%d without truth)", names, df.height, dropped)
    out = {"rows": df.height, "rows_without_truth": dropped, "tables": tables}
    if outcome_only is not None:
        log.info("the tables again on the true outcome, our platform status")
        out["tables_true_outcome"] = {
            name: oracle_table(outcome_only, specs[name], common, name, seed) for name in names
        }
    return out


def realized_interactions(
    firm_year: pl.DataFrame, firms: pl.DataFrame, excluded: list[int]
) -> dict[str, dict[str, float | None]]:
    """Per Table 7 moderator: the realized effects on u (``firm_year.tau_cu``, after the
    bounds of u) of the treated analysis firm-years (direct exporters in ASIF outside
    ``excluded``) in the truth's group 1 and group 0, and their difference, the realized
    counterpart of the interaction planted on the latent effect."""
    fy = firm_year.filter(
        pl.col("in_asif") & (pl.col("platform") == 1) & ~pl.col("year").is_in(excluded)
    ).join(firms.filter(pl.col("exporter")), on="true_firm")
    out: dict[str, dict[str, float | None]] = {}
    for mod, grp in TRUE_GROUP.items():
        m = {g: fy.filter(pl.col(grp) == g)["tau_cu"].mean() for g in (True, False)}
        one, zero = (None if v is None else float(v) for v in (m[True], m[False]))
        diff = None if one is None or zero is None else one - zero
        out[mod] = {"group1": one, "group0": zero, "difference": diff}
    return out

"""The measures' column and diagnostics schemas, and stacking the per-industry parts (rules
``tfp``, ``cu``, ``measures_diagnostics``). Kept apart from :mod:`cbec.measures.driver` so
that gathering does not import the estimators (scipy)."""

from __future__ import annotations

import polars as pl

TFP_COLUMNS = ["tfp_op", "tfp_lp"]
CU_COLUMNS = ["cu", "cu_sfa_cd", "cu_sfa_tl"]
MEASURES = [*TFP_COLUMNS, *CU_COLUMNS]
KEYS = ["firm_id", "year"]
MEASURES_SCHEMA: dict[str, pl.DataType] = {
    "firm_id": pl.Int64(),
    "year": pl.Int64(),
    **{m: pl.Float64() for m in MEASURES},
}
DIAGNOSTICS_SCHEMA: dict[str, pl.DataType] = {
    "ind2": pl.String(),
    "measure": pl.String(),
    "method": pl.String(),
    "n_rows": pl.Int64(),  # rows of the industry
    "n_est": pl.Int64(),  # observations used by the estimation that was kept (pool if any)
    "n_values": pl.Int64(),  # non-null values of the measure among the industry's rows
    "converged": pl.Boolean(),
    "fallback": pl.String(),  # none | group | all | failed | empty
    "pool": pl.String(),  # industries of the estimation sample, comma-separated
    "b_l": pl.Float64(),  # labour elasticity (translog: at the industry's mean inputs)
    "b_k": pl.Float64(),  # capital elasticity (idem)
    "gamma": pl.Float64(),  # SFA sigma_u^2 / sigma^2
    "sigma2": pl.Float64(),  # SFA sigma_u^2 + sigma_v^2
    "skewness": pl.Float64(),  # SFA OLS residual skewness (own industry's fit)
    "theta": pl.Float64(),  # YJZ depreciation-utilization elasticity
    "theta_se": pl.Float64(),  # its firm-clustered standard error (second stage)
    "elapsed_s": pl.Float64(),
    "message": pl.String(),
}


def empty_measures() -> pl.DataFrame:
    """A measures frame with no rows and the right schema."""
    return pl.DataFrame(schema=MEASURES_SCHEMA)


def empty_diagnostics() -> pl.DataFrame:
    """A diagnostics frame with no rows and the right schema."""
    return pl.DataFrame(schema=DIAGNOSTICS_SCHEMA)


def gather_measures(parts: list[pl.DataFrame], columns: list[str]) -> pl.DataFrame:
    """Stack per-industry measures, keeping ``firm_id, year`` and ``columns``.

    Empty parts are fine; a firm-year present twice (two industries) is an error.
    """
    unknown = set(columns) - set(MEASURES)
    if unknown:
        raise ValueError(f"unknown measure columns {sorted(unknown)}")
    keep = [*KEYS, *columns]
    frames = [empty_measures().select(keep)]
    for i, p in enumerate(parts):
        missing = [c for c in keep if c not in p.columns]
        if missing:
            raise ValueError(f"part {i} lacks columns {missing}")
        frames.append(p.select([pl.col(c).cast(MEASURES_SCHEMA[c]) for c in keep]))
    out = pl.concat(frames).sort(KEYS)
    dup = out.select(KEYS).is_duplicated()
    if dup.any():
        row = out.filter(dup).row(0, named=True)
        raise ValueError(
            f"firm-year ({row['firm_id']}, {row['year']}) appears in more than one industry"
        )
    return out


def gather_diagnostics(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Stack per-industry diagnostics (sorted by industry and measure order)."""
    frames = [empty_diagnostics()]
    for p in parts:
        frames.append(p.select([pl.col(c).cast(t) for c, t in DIAGNOSTICS_SCHEMA.items()]))
    order = {m: i for i, m in enumerate(MEASURES)}
    out = pl.concat(frames)
    return out.sort(["ind2", pl.col("measure").replace_strict(order, default=99)])

"""Table 1: descriptive statistics, with small-cell suppression for confidentiality."""

from __future__ import annotations

import polars as pl

#: the paper's order (Table 1)
TABLE1_VARS = ["cu", "platform", "lnqygm", "lnage", "sfgyqy", "sfwzqy", "percs", "fc"]


def describe(
    df: pl.DataFrame, variables: list[str], *, unit: str = "firm_id", min_units: int = 10
) -> dict:
    """Observations, mean, s.d., max, min per variable (the estimates JSON of a descriptive table).

    The extremes (max, min) describe single firms; every statistic of a variable observed on
    fewer than ``min_units`` distinct firms is suppressed (null) and listed in ``suppressed``.
    """
    rows, suppressed = [], []
    for v in variables:
        if v not in df.columns:
            raise KeyError(f"descriptive table: variable '{v}' is not in the sample")
        s = df.select(pl.col(v).cast(pl.Float64), pl.col(unit)).drop_nulls(v)
        n_units = s[unit].n_unique()
        x = s[v]
        row = {
            "var": v,
            "n": s.height,
            "mean": float(x.mean()) if s.height else None,
            "sd": float(x.std()) if s.height > 1 else None,
            "max": float(x.max()) if s.height else None,
            "min": float(x.min()) if s.height else None,
        }
        if n_units < min_units:
            row.update(mean=None, sd=None, max=None, min=None)
            suppressed.append({"var": v, "reason": f"fewer than {min_units} firms"})
        rows.append(row)
    return {"kind": "descriptive", "rows": rows, "suppressed": suppressed}

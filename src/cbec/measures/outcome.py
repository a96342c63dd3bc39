"""What a measure's estimator hands back to the driver, and the panel columns it may read.

Shared by :mod:`cbec.measures.driver` and the estimators' measure wrappers
(:func:`cbec.measures.cu.cu_yjz`, :func:`cbec.measures.sfa.fit_sfa_measure`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import polars as pl

# the panel columns the measures read (the driver selects these, in this order)
REQUIRED_COLUMNS = [
    "firm_id",
    "year",
    "ind2",
    "ln_va",
    "ln_y",
    "ln_l",
    "ln_k",
    "ln_m",
    "ln_inv",
    "dep_rate",
]


@dataclass
class MeasureFit:
    """Outcome of one estimation on one pool: values aligned to the pool's rows."""

    values: np.ndarray
    ok: bool
    converged: bool
    nobs: int
    message: str
    diag: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls, values: pl.Series, res: _Fitted, problem: str, diag: dict[str, float]
    ) -> MeasureFit:
        """The outcome of an estimator's result ``res`` with its ``values`` (nulls as NaN):
        usable when ``problem`` is empty, else ``problem`` is its message."""
        return cls(
            values=values.cast(pl.Float64).fill_null(np.nan).to_numpy(),
            ok=not problem,
            converged=res.converged,
            nobs=res.nobs,
            message=problem or res.message,
            diag=diag,
        )


class _Fitted(Protocol):
    converged: bool
    nobs: int
    message: str

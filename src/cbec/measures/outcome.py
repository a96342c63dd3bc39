"""What a measure's estimator hands back to the driver, and the panel columns it may read.

Shared by :mod:`cbec.measures.driver` and the estimators' measure wrappers
(:func:`cbec.measures.cu.cu_yjz`, :func:`cbec.measures.sfa.fit_sfa_measure`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# the panel columns the measures read (the driver selects these, in this order)
REQUIRED_COLUMNS = [
    "firm_id",
    "year",
    "ind2",
    "ln_va",
    "ln_y",
    "ln_l",
    "ln_k",
    "ln_k_use",
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

"""Small synthetic inputs for the report tests (no workflow run needed)."""

from __future__ import annotations

import numpy as np
import polars as pl


def sample_frame(n: int = 400, seed: int = 0, bartik_zero: bool = True) -> pl.DataFrame:
    """A toy analysis sample: platform raises cu by 0.09; iv_dist shifts platform."""
    rng = np.random.default_rng(seed)
    iv = rng.exponential(1.0, n)
    platform = (rng.random(n) < 0.05 + 0.1 * iv / (1 + iv)).astype(np.int8)
    cu = np.clip(0.7 + 0.09 * platform + rng.normal(0, 0.1, n), 0.2, 1.0)
    return pl.DataFrame(
        {
            "cu": cu,
            "platform": platform,
            "year": rng.choice([2001, 2002, 2003, 2011, 2012], n),
            "iv_dist": iv,
            "iv_bartik": np.zeros(n) if bartik_zero else rng.normal(0, 1, n),
        }
    )


BALANCE = [
    {
        "label": "(1)",
        "rows": [
            {"covariate": "tfp_lp", "smd_before": 0.30, "smd_after": 0.02},
            {"covariate": "ln_assets", "smd_before": -0.25, "smd_after": 0.05},
            {"covariate": "logit_pscore", "smd_before": 0.96, "smd_after": None},
        ],
    },
    {"label": "(2)", "rows": [{"covariate": "tfp_lp", "smd_before": 0.3, "smd_after": -0.01}]},
]

PATH = [
    {"estimator": e, "rel_time": k, "estimate": b, "se": s, "ci_low": lo, "ci_high": hi}
    for e, shift in (("twfe", 0.0), ("did2s", 0.005))
    for k in range(-3, 4)
    for b, s in [((0.0 if k < 0 else 0.09) + shift if k != -1 else 0.0, None if k == -1 else 0.01)]
    for lo, hi in [(None, None) if s is None else (b - 0.02, b + 0.02)]
]

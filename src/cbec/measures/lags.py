"""Within-id lags of panel rows (shared by the YJZ estimator and its normalization)."""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["lag_index"]


def lag_index(ids: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Row index of the same id at time t−1 (−1 where absent)."""
    frame = pl.DataFrame({"i": ids, "t": times}).with_row_index("r")
    prev = frame.select("i", (pl.col("t") + 1).alias("t"), pl.col("r").alias("lag"))
    out = frame.join(prev, on=["i", "t"], how="left").sort("r")
    return out["lag"].fill_null(-1).cast(pl.Int64).to_numpy()

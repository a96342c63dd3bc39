"""How much the controls move a treatment coefficient, and which control moves it.

Adding controls X to a fixed-effects regression of y on a treatment d changes d's coefficient
by exactly ``-sum_k gamma_k pi_k`` (Gelbach 2016): ``gamma_k`` is control k's coefficient in
the long regression (d and every control), ``pi_k`` the coefficient of d in the regression of
control k on d with the same fixed effects and rows. Unlike dropping or adding one control at
a time, the split does not depend on the order. A control carries a shift when it responds
to the treatment (``pi_k``) and is related to the outcome given d and the other controls
(``gamma_k``). The one-at-a-time variants are reported alongside.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from cbec.estimation.fe import FESample, feols


def shift_sample(
    df: pl.DataFrame, y: str, d: str, controls: list[str], fe: list[str], cluster: str
) -> FESample:
    """One estimation sample for every regression of :func:`controls_shift`: the rows where
    ``y``, ``d``, all ``controls``, the fixed effects and the cluster are known (singletons
    dropped), so the short and the long regressions use the same rows."""
    return FESample.from_frame(df, fe, [y, d, *controls], cluster=cluster, tol=1e-10)


def controls_shift(
    sample: FESample, y: str, d: str, controls: list[str], cluster: str
) -> dict[str, Any]:
    """The coefficient of ``d`` without and with ``controls`` on ``sample``
    (:func:`shift_sample`), their difference ``shift``, and per control: its coefficient
    ``gamma`` in the long regression, the treatment's coefficient ``pi`` on it, its exact
    share of the shift ``contribution`` (``-gamma * pi``; the contributions add up to
    ``shift``), and the shift of d's coefficient when only that control is dropped from the
    long regression (``drop_one``: long minus long-without-k) or only it is added to the
    short one (``add_one``: short-plus-k minus short). A control dropped as collinear with
    the fixed effects has ``gamma`` None and contributes nothing."""
    vcov = f"CRV1:{cluster}"

    def fit(yy: str, xs: list[str]):
        return feols(sample, yy, xs, vcov=vcov, required=[d])

    short, long = fit(y, [d]), fit(y, [d, *controls])
    b0, b1 = short[d]["b"], long[d]["b"]
    rows = []
    for k in controls:
        kept = k in long.names
        gamma = long[k]["b"] if kept else None
        pi = fit(k, [d])[d]["b"]
        others = [c for c in controls if c != k]
        rows.append(
            {
                "control": k,
                "gamma": gamma,
                "gamma_se": long[k]["se"] if kept else None,
                "pi": pi,
                "contribution": -gamma * pi if kept else 0.0,
                "drop_one": b1 - fit(y, [d, *others])[d]["b"],
                "add_one": fit(y, [d, k])[d]["b"] - b0,
            }
        )
    return {
        "nobs": int(short.nobs),
        "without": {"b": b0, "se": short[d]["se"], "r2": short.r2},
        "with": {"b": b1, "se": long[d]["se"], "r2": long.r2},
        "shift": b1 - b0,
        "sum_of_contributions": sum(r["contribution"] for r in rows),
        "controls": rows,
    }

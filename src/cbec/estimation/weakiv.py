"""Weak-instrument-robust inference for one endogenous regressor (Table 5, beyond the paper).

Inputs are the outcome ``y``, the endogenous regressor ``x`` and the excluded instruments
``Z`` (n x L), all partialled out with respect to the fixed effects and the included exogenous
regressors (FWL), and the cluster codes (``None``: heteroskedasticity-robust). The reduced
forms y = Z a + e_y and x = Z b + e_x give ``a``, ``b`` and the robust covariances
V_yy, V_yx, V_xx of (a, b), with the CRV1 small-sample factor (n-1)/(n-k) * G/(G-1) of the
first stage (``df_k`` = k; n/(n-k) without clusters), as pyfixest and :func:`~.fe.feols`.

* **Anderson-Rubin** (Anderson & Rubin 1949; robust Wald form, as ``weakiv``): under
  H0: beta = b0 the coefficients of Z in the regression of y - b0 x on Z are a - b0 b, with
  covariance V(b0) = V_yy - b0 (V_yx + V_yx') + b0^2 V_xx (the residuals are linear in b0).
  AR(b0) = (a - b0 b)' V(b0)^-1 (a - b0 b) / L is compared with F(L, G-1) (F(L, n-k) without
  clusters). Its size does not depend on the strength of the instruments. With one instrument
  the confidence set {b0 : AR(b0) <= c} solves a quadratic inequality and is, exactly, an
  interval (when the first-stage F exceeds c), the union of two rays, the whole line or
  empty; several instruments are inverted on a grid (:func:`ar_confidence_set`).
* **Effective F** (Montiel Olea & Pflueger 2013): F_eff = b' Z'Z b / tr(V_xx Z'Z). With one
  instrument it equals the robust (clustered) first-stage Wald F. It is compared with the
  simplified, conservative critical value 23.109 (5 % test that the worst-case 2SLS Nagar bias
  exceeds 10 % of the benchmark; MOP 2013, Table 1, tau = 10 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["MOP_CRIT_TAU10", "ARSet", "ReducedForms", "ar_confidence_set", "weak_iv_stats"]

# Montiel Olea-Pflueger simplified critical value, 5 % level, worst-case bias 10 %
MOP_CRIT_TAU10 = 23.109


@dataclass(frozen=True)
class ARSet:
    """An Anderson-Rubin confidence set: ``kind`` interval | rays (two rays
    (-inf, lo] U [hi, inf)) | line | empty | ray_up [lo, inf) | ray_down (-inf, hi]."""

    kind: str
    lo: float = math.nan
    hi: float = math.nan

    def contains(self, b0: float) -> bool:
        if self.kind == "interval":
            return self.lo <= b0 <= self.hi
        if self.kind == "rays":
            return b0 <= self.lo or b0 >= self.hi
        if self.kind == "ray_up":
            return b0 >= self.lo
        if self.kind == "ray_down":
            return b0 <= self.hi
        return self.kind == "line"

    def label(self, digits: int = 3) -> str | list[float]:
        """[lo, hi] for an interval, else the set in words (ASCII, for every table format)."""
        f = f"{{:.{digits}f}}"
        if self.kind == "interval":
            return [self.lo, self.hi]
        return {
            "rays": f"(-inf, {f.format(self.lo)}] U [{f.format(self.hi)}, +inf)",
            "ray_up": f"[{f.format(self.lo)}, +inf)",
            "ray_down": f"(-inf, {f.format(self.hi)}]",
            "line": "(-inf, +inf)",
            "empty": "empty",
        }[self.kind]


class ReducedForms:
    """Reduced-form coefficients of y and x on Z and their robust covariances."""

    def __init__(
        self,
        y: np.ndarray,
        x: np.ndarray,
        Z: np.ndarray,
        clusters: np.ndarray | None,
        df_k: int,
    ) -> None:
        Z = np.asarray(Z, dtype=np.float64).reshape(len(y), -1)
        n, self.L = Z.shape
        self.zz = Z.T @ Z
        zzi = np.linalg.inv(self.zz)
        self.a = zzi @ (Z.T @ y)
        self.b = zzi @ (Z.T @ x)
        sy = Z * (y - Z @ self.a)[:, None]
        sx = Z * (x - Z @ self.b)[:, None]
        if clusters is not None:
            g = int(np.asarray(clusters).max()) + 1
            sy, sx = _cluster_sums(sy, clusters, g), _cluster_sums(sx, clusters, g)
            ssc = (n - 1) / (n - df_k) * g / (g - 1)
            self.df2 = g - 1
        else:
            ssc = n / (n - df_k)
            self.df2 = n - df_k
        self.vyy = ssc * zzi @ (sy.T @ sy) @ zzi
        self.vyx = ssc * zzi @ (sy.T @ sx) @ zzi
        self.vxx = ssc * zzi @ (sx.T @ sx) @ zzi

    def ar(self, b0: float) -> float:
        """The Anderson-Rubin F statistic of H0: beta = b0."""
        d = self.a - b0 * self.b
        v = self.vyy - b0 * (self.vyx + self.vyx.T) + b0**2 * self.vxx
        return float(d @ np.linalg.solve(v, d)) / self.L

    def crit(self, level: float) -> float:
        return float(stats.f.ppf(level, self.L, self.df2))

    def effective_f(self) -> float:
        """Montiel Olea-Pflueger effective F of the first stage."""
        return float(self.b @ self.zz @ self.b / np.trace(self.vxx @ self.zz))


def _cluster_sums(s: np.ndarray, clusters: np.ndarray, g: int) -> np.ndarray:
    return np.column_stack([np.bincount(clusters, s[:, j], g) for j in range(s.shape[1])])


def _quadratic_set(A: float, B: float, C: float) -> ARSet:
    """{b : A b^2 + B b + C <= 0}."""
    scale = max(abs(A), abs(B), abs(C), 1e-300)
    if abs(A) <= 1e-12 * scale:
        if abs(B) <= 1e-12 * scale:
            return ARSet("line" if C <= 0 else "empty")
        r = -C / B
        return ARSet("ray_down", hi=r) if B > 0 else ARSet("ray_up", lo=r)
    disc = B * B - 4 * A * C
    if disc < 0:
        return ARSet("empty" if A > 0 else "line")
    r1, r2 = sorted(((-B - math.sqrt(disc)) / (2 * A), (-B + math.sqrt(disc)) / (2 * A)))
    return ARSet("interval", r1, r2) if A > 0 else ARSet("rays", r1, r2)


def _grid_set(rf: ReducedForms, c: float, center: float, half: float) -> ARSet:
    """Several instruments: scan 4001 points of center +- half and bisect the outermost
    changes between acceptance and rejection; an accepted grid end makes that side a ray
    (holes inside the set are reported as its hull)."""
    from scipy.optimize import brentq

    grid = np.linspace(center - half, center + half, 4001)
    acc = np.array([rf.ar(b) <= c for b in grid])
    if not acc.any():
        return ARSet("empty")
    if acc.all():
        return ARSet("line")

    def edge(i: int) -> float:
        return float(brentq(lambda b: rf.ar(b) - c, grid[i], grid[i + 1], xtol=1e-12))

    if acc[0] and acc[-1]:
        out = np.flatnonzero(~acc)
        return ARSet("rays", edge(out[0] - 1), edge(out[-1]))
    inside = np.flatnonzero(acc)
    if acc[0]:
        return ARSet("ray_down", hi=edge(inside[-1]))
    if acc[-1]:
        return ARSet("ray_up", lo=edge(inside[0] - 1))
    return ARSet("interval", edge(inside[0] - 1), edge(inside[-1]))


def ar_confidence_set(
    rf: ReducedForms, level: float = 0.95, center: float = 0.0, half: float = 10.0
) -> ARSet:
    """The Anderson-Rubin confidence set at ``level``: exact for one instrument; for several,
    a grid over ``center`` +- ``half`` (see :func:`_grid_set`)."""
    c = rf.crit(level)
    if rf.L == 1:
        a, b = float(rf.a[0]), float(rf.b[0])
        vyy, vyx, vxx = float(rf.vyy[0, 0]), float(rf.vyx[0, 0]), float(rf.vxx[0, 0])
        return _quadratic_set(b * b - c * vxx, -2 * (a * b - c * vyx), a * a - c * vyy)
    return _grid_set(rf, c, center, half)


def weak_iv_stats(
    y: np.ndarray,
    x: np.ndarray,
    Z: np.ndarray,
    clusters: np.ndarray | None,
    df_k: int,
    *,
    level: float = 0.95,
    center: float = 0.0,
    half: float = 10.0,
) -> dict[str, object]:
    """``eff_f`` (Montiel Olea-Pflueger), ``weak_iv`` (eff_f < 23.109), ``ar_p`` (AR p-value
    of beta = 0), ``ar_ci`` ([lo, hi] or the set in words), ``ar_set`` (its kind) and
    ``ar_bounds``; ``center`` +- ``half`` is the grid of several instruments."""
    rf = ReducedForms(y, x, Z, clusters, df_k)
    s = ar_confidence_set(rf, level, center=center, half=half)
    f_eff = rf.effective_f()
    bounds = [None if math.isinf(v) or math.isnan(v) else v for v in (s.lo, s.hi)]
    return {
        "eff_f": f_eff,
        "weak_iv": bool(f_eff < MOP_CRIT_TAU10),
        "ar_p": float(stats.f.sf(rf.ar(0.0), rf.L, rf.df2)),
        "ar_ci": s.label(),
        "ar_set": s.kind,
        "ar_bounds": bounds,
        "ar_level": level,
    }

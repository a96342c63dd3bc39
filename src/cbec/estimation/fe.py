"""Fast high-dimensional fixed-effects OLS with reusable demeaning (the Table 2-7 workhorse).

All fixed-effects models of the paper absorb ``firm_id + ind2^year + city^year`` and cluster
by firm. ``pyfixest.feols`` re-encodes interacted fixed effects (``a^b``) through string
operations on every call and demeans every model from scratch; here

* :func:`encode_fe` turns each fixed effect (plain column or interaction ``a^b``) into dense
  integer codes (integer arithmetic + an O(n) bincount lookup for integer keys, polars
  ``rank("dense")`` otherwise; no strings);
* :func:`drop_singletons` removes singleton observations iteratively, as fixest does;
* :class:`FESample` holds one estimation sample (rows kept, codes, cluster codes) and a cache
  of demeaned columns, so every model of a table that shares the sample and the fixed effects
  demeans each variable exactly once;
* :func:`demean` (method ``auto``) runs our conjugate-gradient demeaner
  (:mod:`cbec.estimation.cg`: CG on symmetric alternating projections, numba kernels, the
  columns on ``CBEC_THREADS`` threads with results identical for any number of threads;
  tolerance ``min(tol, AUTO_TOL)`` = 1e-10 of each column's scale by default), falling back
  to pyfixest's LSMR (``within``) for a column CG does not finish; with a few firms moving
  between cities plain alternating projections need > 10,000 sweeps, CG about a hundred
  iterations;
* :func:`collinear_columns` / :func:`unidentified` is the one scale-free identification check
  of the layer (1 - R^2 on the fixed effects and the earlier regressors <= ``COLLIN_TOL``),
  used by :func:`feols`, the 2SLS, did2s's stage 1 and the event studies;
* :func:`feols` is OLS on demeaned data with pyfixest's default small-sample conventions
  (``ssc(k_adj=True, k_fixef="nonnested", G_adj=True)``): for CRV1,
  V = (N-1)/(N-k) * G/(G-1) * (X'X)^-1 (sum_g s_g s_g') (X'X)^-1 with k = #regressors +
  #FE levels - (#FE - 1) - #levels of FE nested in the cluster + #FE nested in the cluster;
  t-based p-values with G-1 degrees of freedom. The tests check coefficients and standard errors
  against ``pyfixest.feols`` to 1e-8 (relative; both run with ``tol=1e-13``).

Speed (``benchmarks/bench_fe.py``): Table 2 column (2) on 3.96 M simulated rows takes a fraction
of a plain ``pyfixest.feols(... | firm_id + ind2^year + city^year)`` call and about half of its
memory; the remaining time is almost all the demeaning itself.

Sample convention: the sample is fixed when the :class:`FESample` is built (rows with a missing
value in any listed column are dropped first, then singletons), so all models on it use the
same rows. The table builder (:mod:`cbec.tables.build`) gives each column the rows where its
own variables exist, as ``pyfixest`` does per model, and shares a sample between columns
whose rows coincide.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import stats
from scipy.linalg import solve_triangular

from cbec.estimation.cg import Prepared, prepare, solve_columns

__all__ = [
    "COLLIN_TOL",
    "CollinearityError",
    "FESample",
    "RegResult",
    "collinear_columns",
    "demean",
    "drop_singletons",
    "encode_fe",
    "feols",
    "parse_vcov",
    "unidentified",
]


# ----------------------------------------------------------------------------- encoding


def _fe_parts(name: str) -> list[str]:
    return [p.strip() for p in name.split("^")]


def _dense_code_expr(df: pl.DataFrame, name: str) -> pl.Expr:
    """Polars expression giving dense 0-based codes for one fixed effect (maybe ``a^b^c``)."""
    parts = _fe_parts(name)
    if len(parts) == 1:
        return (pl.col(parts[0]).rank("dense") - 1).cast(pl.UInt32).alias(name)
    return (pl.struct(parts).rank("dense") - 1).cast(pl.UInt32).alias(name)


def _int_key(df: pl.DataFrame, name: str) -> tuple[np.ndarray, int] | None:
    """Mixed-radix integer key of an all-integer fixed effect and its range, else ``None``."""
    parts = _fe_parts(name)
    if not all(df.schema[p].is_integer() for p in parts):
        return None
    bounds = df.select(
        [pl.col(p).min().alias(f"lo{i}") for i, p in enumerate(parts)]
        + [pl.col(p).max().alias(f"hi{i}") for i, p in enumerate(parts)]
    ).row(0)
    lo, hi = bounds[: len(parts)], bounds[len(parts) :]
    card = 1
    for a, b in zip(lo, hi, strict=True):
        card *= int(b) - int(a) + 1
    if card > max(8 * df.height, 1 << 22):
        return None
    key = np.zeros(df.height, dtype=np.int64)
    for p, a, b in zip(parts, lo, hi, strict=True):
        key *= int(b) - int(a) + 1
        key += df.get_column(p).to_numpy().astype(np.int64, copy=False) - int(a)
    return key, card


def encode_fe(df: pl.DataFrame, fe: list[str]) -> np.ndarray:
    """Dense integer codes (``uint32``, shape ``(n, len(fe))``, Fortran order) of fixed effects.

    An entry ``"a^b"`` is the interaction of columns ``a`` and ``b``. Integer columns with a
    moderate range are combined arithmetically (key = (a - min a) * card(b) + (b - min b)) and
    made dense by a bincount lookup table (O(n), no sort, no strings); other fixed effects are
    ranked densely by polars (``rank("dense")`` on the column or on ``pl.struct(a, b)``). Codes
    are ``0..G_j-1`` in sorted order of the key. Columns must not contain nulls.
    """
    out = np.empty((df.height, len(fe)), dtype=np.uint32, order="F")
    if df.height == 0:
        return out
    slow: list[str] = []
    for j, f in enumerate(fe):
        ik = _int_key(df, f)
        if ik is None:
            slow.append(f)
            continue
        key, card = ik
        present = np.bincount(key, minlength=card) > 0
        remap = (np.cumsum(present, dtype=np.int64) - 1).astype(np.uint32)
        out[:, j] = remap[key]
    if slow:
        enc = df.select([_dense_code_expr(df, f) for f in slow])
        for f in slow:
            out[:, fe.index(f)] = enc.get_column(f).to_numpy()
    return out


def _redense(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recode each column to 0..G-1 (after rows were removed); return codes and G per column."""
    out = np.empty(codes.shape, dtype=np.uint32, order="F")
    sizes = np.empty(codes.shape[1], dtype=np.int64)
    for j in range(codes.shape[1]):
        c = codes[:, j]
        present = np.bincount(c, minlength=int(c.max()) + 1 if c.size else 0) > 0
        remap = np.cumsum(present, dtype=np.int64) - 1
        out[:, j] = remap[c]
        sizes[j] = int(present.sum())
    return out, sizes


def drop_singletons(codes: np.ndarray) -> np.ndarray:
    """Boolean mask of rows kept after iteratively removing singleton fixed-effect groups.

    A row is a singleton if it is the only row of some level of some fixed effect; removing
    it can create new singletons, so the procedure repeats until none is left (as fixest's
    ``fixef.rm = "singleton"`` and pyfixest's ``fixef_rm="singleton"``). Uses pyfixest's
    compiled ``detect_singletons`` (which iterates to the fixpoint; checked in the tests).
    """
    from pyfixest.core.detect_singletons import detect_singletons

    n = codes.shape[0]
    if n == 0 or codes.shape[1] == 0:
        return np.ones(n, dtype=bool)
    return ~np.asarray(detect_singletons(codes), dtype=bool)


# ----------------------------------------------------------------------------- demeaning


def demean(
    x: np.ndarray,
    codes: np.ndarray,
    weights: np.ndarray | None = None,
    tol: float = 1e-8,
    maxiter: int = 10_000,
    method: str = "auto",
    threads: int | None = None,
    prepared: Prepared | None = None,
) -> np.ndarray:
    """Residuals of each column of ``x`` on the fixed effects given by integer ``codes``.

    ``method``: ``"auto"`` (default): conjugate gradient (CG) on symmetric alternating
    projections at ``min(tol, AUTO_TOL)``, then pyfixest's LSMR at the same tolerance for
    any column CG did not finish in ``maxiter`` iterations. ``"cg"``: CG alone (:func:`cbec.estimation.cg.demean_cg`: conjugate
    gradient on symmetric alternating projections). ``"map"``: pyfixest's Rust alternating
    projections (``tol`` is its convergence criterion). ``"lsmr"``: pyfixest's ``within``
    LSMR solver (additive Schwarz preconditioning). For ``"auto"`` and ``"cg"``, ``tol``
    bounds the change one more symmetric sweep of alternating projections would make to any
    value, relative to the column's scale (``cg._unit_scale``); columns run in parallel on
    ``threads`` threads (default ``CBEC_THREADS`` or 1) with results identical for any number
    of threads; ``prepared`` (:func:`prepare`) reuses
    a sample's set-up. Raises ``RuntimeError`` if the chosen solver fails to converge.

    Why not projections alone: with the paper's fixed effects (firm + ind2^year + city^year)
    and a few firms moving between cities, projections converge slowly (on the paper
    preset's Table 2 sample MAP did not reach 1e-6 in 10,000 sweeps, 46 s); CG needs about a
    hundred iterations there, under ten without movers.
    """
    x = np.asarray(x, dtype=np.float64)
    one_d = x.ndim == 1
    x2 = x.reshape(-1, 1) if one_d else x
    codes = np.asarray(codes)
    if codes.ndim == 1:
        codes = codes.reshape(-1, 1)
    if codes.shape[1] == 0:
        return x.copy()
    if method not in ("auto", "cg", "map", "lsmr"):
        raise ValueError(f"unknown demeaning method {method!r}")
    if method == "map":
        out = _demean_map(np.ascontiguousarray(x2), codes, weights, tol, maxiter)
    elif method == "lsmr":
        out = _demean_lsmr(np.ascontiguousarray(x2), codes, weights, tol, maxiter)
    else:
        auto = method == "auto"
        ctol = min(tol, AUTO_TOL) if auto else tol
        it = maxiter
        # CG on x / scale (exact: powers of 2, ``cg._unit_scale``, computed in each column's
        # thread): the criterion is relative to each column's scale
        out, sweeps, scale = solve_columns(
            np.array(x2, order="F"), codes, weights, ctol, it, threads, prepared, unit=True
        )
        bad = np.flatnonzero(sweeps < 0)
        if bad.size and not auto:
            raise RuntimeError(f"CG demeaning did not converge in {it} iterations")
        if bad.size:
            warnings.warn(
                f"demeaning did not converge in {it} CG iterations for {bad.size} of "
                f"{x2.shape[1]} column(s); switching to LSMR for them",
                RuntimeWarning,
                stacklevel=2,
            )
            sub = np.ascontiguousarray(x2[:, bad] / scale[bad])
            out[:, bad] = _demean_lsmr(sub, codes, weights, ctol, maxiter) * scale[bad]
    return out.ravel() if one_d else out


# "auto" runs at min(tol, AUTO_TOL): stricter than the 1e-6 of MAP and 1e-8 of LSMR before it
# (CG's error is the criterion times the conditioning; at 1e-10 Table 2's coefficients and
# standard errors on a panel with many movers equal a 1e-13 pyfixest fit to 1e-8, tested)
AUTO_TOL = 1e-10


def _demean_map(
    x: np.ndarray, codes: np.ndarray, weights: np.ndarray | None, tol: float, maxiter: int
) -> np.ndarray:
    """pyfixest's Rust alternating projections (row-major uint64 codes are much faster)."""
    from pyfixest.core.demean import demean as _map

    w = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    res, ok = _map(x, np.ascontiguousarray(codes, dtype=np.uint64), w, tol, maxiter)
    if not ok:
        raise RuntimeError(f"MAP demeaning did not converge in {maxiter} iterations")
    return res


def _demean_lsmr(
    x: np.ndarray, codes: np.ndarray, weights: np.ndarray | None, tol: float, maxiter: int
) -> np.ndarray:
    """pyfixest's ``within`` LSMR (one Rayon thread in the workflow: deterministic)."""
    from pyfixest.core.demean import demean_within as _lsmr

    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    res, ok, _ = _lsmr(x, codes, w, tol, min(maxiter, 10_000))
    if not ok:
        raise RuntimeError("LSMR demeaning did not converge")
    return res


# ----------------------------------------------------------------------------- sample


@dataclass
class FESample:
    """One estimation sample with encoded fixed effects and a cache of demeaned columns.

    Build with :meth:`from_frame`. ``data`` holds the kept rows (only the needed columns),
    ``codes`` the dense fixed-effect codes (``uint32``, one column per fixed effect),
    ``fe_sizes`` the number of levels of each, ``clusters`` the cluster codes by variable.
    """

    data: pl.DataFrame
    fe: list[str]
    codes: np.ndarray
    fe_sizes: np.ndarray
    n_input: int
    n_dropped_missing: int
    n_dropped_singletons: int
    weights: np.ndarray | None = None
    tol: float = 1e-6
    maxiter: int = 10_000
    method: str = "auto"
    clusters: dict[str, np.ndarray] = field(default_factory=dict)
    _cache: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    _blocks: list[tuple[list[str], np.ndarray]] = field(default_factory=list, repr=False)
    _nested: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _prepared: Prepared | None = field(default=None, repr=False)

    @classmethod
    def from_frame(
        cls,
        df: pl.DataFrame,
        fe: list[str],
        columns: list[str],
        cluster: str | list[str] | None = "firm_id",
        *,
        drop_singleton_obs: bool = True,
        tol: float = 1e-6,
        maxiter: int = 10_000,
        method: str = "auto",
        weights: str | None = None,
    ) -> FESample:
        """Select ``columns`` + fixed-effect and cluster columns, drop missing rows, encode the
        fixed effects once, drop singletons (iteratively) and return the sample.

        ``weights`` names a column of analytic weights (pyfixest's ``aweights``): every model
        on the sample is then weighted least squares. Weights must be positive and finite."""
        clus = [] if cluster is None else ([cluster] if isinstance(cluster, str) else cluster)
        fe_cols = [p for f in fe for p in _fe_parts(f)]
        need = list(dict.fromkeys([*columns, *fe_cols, *clus, *([weights] if weights else [])]))
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise KeyError(f"columns not in frame: {missing}")
        sub = df.select(need)
        n_input = sub.height
        float_cols = [c for c in need if sub.schema[c].is_float()]
        if float_cols:
            sub = sub.with_columns([pl.col(c).fill_nan(None) for c in float_cols])
        if sub.null_count().sum_horizontal().item() > 0:
            sub = sub.drop_nulls()
        n_missing = n_input - sub.height
        codes = encode_fe(sub, fe) if fe else np.zeros((sub.height, 0), np.uint32)
        n_single = 0
        if fe and drop_singleton_obs:
            keep = drop_singletons(codes)
            n_single = int((~keep).sum())
            if n_single:
                sub = sub.filter(pl.Series(keep))
                codes = codes[keep]
        if fe:
            codes, sizes = _redense(codes)
        else:
            sizes = np.zeros(0, np.int64)
        w = None
        if weights:
            w = sub.get_column(weights).cast(pl.Float64).to_numpy()
            if not (np.isfinite(w).all() and (w > 0).all()):
                raise ValueError(f"weights column {weights!r} must be positive and finite")
        s = cls(
            data=sub,
            fe=list(fe),
            codes=codes,
            fe_sizes=sizes,
            n_input=n_input,
            n_dropped_missing=n_missing,
            n_dropped_singletons=n_single,
            weights=w,
            tol=tol,
            maxiter=maxiter,
            method=method,
        )
        for c in clus:
            s.cluster_codes(c)
        return s

    @property
    def nobs(self) -> int:
        return self.data.height

    def column(self, name: str) -> np.ndarray:
        """Raw (not demeaned) values of a column on the sample rows, float64."""
        return self.data.get_column(name).cast(pl.Float64).to_numpy()

    def tss(self, name: str) -> float:
        """Total sum of squares of a raw column around its mean (for the overall R2; weighted
        around the weighted mean when the sample has weights, as pyfixest)."""
        v = self.column(name)
        if self.weights is None:
            return float(((v - v.mean()) ** 2).sum())
        return float((self.weights * (v - np.average(v, weights=self.weights)) ** 2).sum())

    def cluster_codes(self, name: str) -> np.ndarray:
        """Dense codes of a cluster variable (cached; reuses fixed-effect codes if identical)."""
        if name not in self.clusters:
            if name in self.fe:
                self.clusters[name] = self.codes[:, self.fe.index(name)].astype(np.int64)
            else:
                self.clusters[name] = encode_fe(self.data, [name])[:, 0].astype(np.int64)
        return self.clusters[name]

    def demeaned(self, names: list[str]) -> np.ndarray:
        """Demeaned columns ``names`` as an ``(n, len(names))`` array; each column is demeaned at
        most once per sample (new columns are demeaned together in one call and kept as one
        block; asking for exactly that block again returns it without copying).

        With weights, the columns are the WLS transform ``sqrt(w) * (x - weighted FE means)``,
        so that every estimator on them (OLS, 2SLS, scores) is the weighted one."""
        new = [c for c in dict.fromkeys(names) if c not in self._cache]
        if new:
            sel = self.data.select([pl.col(c).cast(pl.Float64) for c in new])
            raw = sel.to_numpy(order="fortran")
            if self.fe:
                dm = demean(
                    raw,
                    self.codes,
                    self.weights,
                    self.tol,
                    self.maxiter,
                    self.method,
                    prepared=self.prepared(),
                )
            else:
                dm = raw
            if self.weights is not None:
                dm *= np.sqrt(self.weights)[:, None]
            self._blocks.append((new, dm))
            for j, c in enumerate(new):
                self._cache[c] = (len(self._blocks) - 1, j)
        for bnames, block in self._blocks:
            if bnames == list(names):
                return block
        return np.column_stack([self._blocks[b][1][:, j] for b, j in map(self._cache.get, names)])

    def prepared(self) -> Prepared | None:
        """The demeaning set-up shared by every column of the sample (codes in Fortran
        order, level weights) for methods ``auto`` and ``cg``."""
        if self._prepared is None and self.fe and self.method in ("auto", "cg"):
            self._prepared = prepare(self.codes, self.weights)
        return self._prepared

    def add_column(self, name: str, values: np.ndarray) -> None:
        """Add a derived column (e.g. an interaction) to the sample; clears its cache entry."""
        if name in self._cache:
            raise ValueError(f"column {name!r} is already demeaned in this sample")
        self.data = self.data.with_columns(pl.Series(name, np.asarray(values)))

    def nested_in(self, cluster: str) -> np.ndarray:
        """Boolean per fixed effect: every level lies within a single cluster (fully nested)."""
        if cluster in self._nested:
            return self._nested[cluster]
        cl = self.cluster_codes(cluster)
        out = np.zeros(len(self.fe), dtype=bool)
        for j, f in enumerate(self.fe):
            if f.replace("^", "_") == cluster:
                out[j] = True
                continue
            c = self.codes[:, j]
            first = np.empty(int(self.fe_sizes[j]), dtype=np.int64)
            first[c] = cl  # one cluster per level (the last written); nested iff all agree
            out[j] = bool(np.array_equal(first[c], cl))
        self._nested[cluster] = out
        return out


# ----------------------------------------------------------------------------- results


def parse_vcov(vcov: str | dict[str, str]) -> tuple[str, str | None]:
    """``"iid"``, ``"hetero"``/``"HC1"``, ``"CRV1:firm_id"`` or ``{"CRV1": "firm_id"}``."""
    if isinstance(vcov, dict):
        ((k, v),) = vcov.items()
        return k.upper(), v
    if ":" in vcov:
        k, v = vcov.split(":", 1)
        return k.strip().upper(), v.strip()
    k = vcov.strip().lower()
    if k in ("hetero", "hc1"):
        return "HETERO", None
    if k == "iid":
        return "IID", None
    raise ValueError(f"unsupported vcov {vcov!r}")


@dataclass
class RegResult:
    """Regression result (linearmodels-style accessors) and its estimates-JSON form (docs/architecture.md)."""

    names: list[str]
    params: np.ndarray
    cov: np.ndarray
    df_t: float
    nobs: int
    r2: float
    r2_within: float
    depvar: str
    fixed_effects: list[str]
    vcov_type: str
    n_clusters: int | None = None
    dropped_singletons: int = 0
    estimator: str = "feols"
    df_k: int = 0
    ssc: float = 1.0
    stats: dict[str, Any] = field(default_factory=dict)
    dropped_collinear: list[str] = field(default_factory=list)

    @property
    def coef(self) -> dict[str, float]:
        return dict(zip(self.names, self.params.tolist(), strict=True))

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    @property
    def tstat(self) -> np.ndarray:
        return self.params / self.se

    @property
    def pvalue(self) -> np.ndarray:
        return 2 * stats.t.sf(np.abs(self.tstat), self.df_t)

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """``(k, 2)`` array of t-based confidence intervals (G-1 df when clustered)."""
        q = stats.t.ppf(1 - alpha / 2, self.df_t)
        return np.column_stack([self.params - q * self.se, self.params + q * self.se])

    def __getitem__(self, name: str) -> dict[str, float]:
        i = self.names.index(name)
        return {
            "b": float(self.params[i]),
            "se": float(self.se[i]),
            "t": float(self.tstat[i]),
            "p": float(self.pvalue[i]),
        }

    def to_dict(self, label: str = "") -> dict[str, Any]:
        """One column of ``results/estimates/table{N}.json`` (see docs/architecture.md)."""
        st = {k: _jsonable(v) for k, v in self.stats.items()}
        st.setdefault("r2_within", _jsonable(self.r2_within))
        st.setdefault("dropped_singletons", int(self.dropped_singletons))
        if self.n_clusters is not None:
            st.setdefault("n_clusters", int(self.n_clusters))
        return {
            "label": label,
            "depvar": self.depvar,
            "estimator": self.estimator,
            "fixed_effects": list(self.fixed_effects),
            "vcov": self.vcov_type,
            "coef": {n: self[n] for n in self.names},
            "nobs": int(self.nobs),
            "r2": _jsonable(self.r2),
            "stats": st,
        }

    def summary(self) -> str:
        lines = [
            f"{self.estimator} {self.depvar}  N={self.nobs}  R2={self.r2:.4f}  {self.vcov_type}"
        ]
        for n, b, s, t, p in zip(
            self.names, self.params, self.se, self.tstat, self.pvalue, strict=True
        ):
            lines.append(f"  {n:<20s} {b: .6f} ({s:.6f})  t={t: .3f}  p={p:.4g}")
        return "\n".join(lines)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def depvar_mean(sample: FESample, y: str) -> float:
    """Mean of the raw dependent variable on the estimation rows (weighted with weights)."""
    v = sample.column(y)
    return float(v.mean() if sample.weights is None else np.average(v, weights=sample.weights))


def adjusted_r2(sample: FESample, r2: float, k: int) -> float:
    """Adjusted R² counting every fixed-effect level as a parameter, as pyfixest:
    ``1 - (1 - R²) (N - 1) / (N - k - k_fe)`` with ``k_fe = Σ (levels - 1) + 1`` (0 without
    fixed effects, where ``k`` counts the intercept)."""
    n = sample.nobs
    k_fe = int(np.sum(sample.fe_sizes - 1)) + 1 if sample.fe else 0
    return float(1 - (1 - r2) * (n - 1) / (n - k - k_fe))


# ----------------------------------------------------------------------------- identification

# Relative (scale-free) collinearity tolerance on 1 - R^2 of a regressor on the fixed effects
# and the regressors before it. Why 1e-7, from the demeaner's tolerance: CG stops when one more
# sweep would change no value by more than AUTO_TOL = 1e-10 of the column's scale
# (cg._unit_scale), and its error is that criterion times the conditioning of the fixed-effect
# design, so an exactly collinear column keeps a residual whose share of its sum of squares is
# of order (1e-10 * conditioning)^2: measured 6e-23 to 6e-21 for city-year and
# firm+industry-year+city-year combinations on simulated panels with 10-30 % movers, 14 orders
# below the tolerance (an absolute 1e-9 on the pivots let a pre-CG solver's 2.2e-9 through).
# The other side: a column kept at 1 - R^2 = 1e-7 has a variance inflation factor of 1e7
# (standard error >= ~3,000 times that of an orthogonal regressor), so no column with an
# interpretable coefficient is dropped. Relative, so a column's units (yuan vs 10k yuan)
# change nothing. pyfixest's check (used here before: an absolute tolerance on the Cholesky
# pivots of the demeaned X'X) keeps or drops a nearly collinear column depending on its units.
COLLIN_TOL = 1e-7


class CollinearityError(ValueError):
    """A regressor that must be estimated (treatment, endogenous regressor, instrument) is
    collinear with the fixed effects or the other regressors."""


def collinear_columns(M: np.ndarray, ref: np.ndarray, tol: float = COLLIN_TOL) -> np.ndarray:
    """Boolean mask of the columns of ``M`` = D'D (demeaned regressors in priority order) that
    are not identified. A Cholesky pass in column order: column j's pivot (its sum of squares
    left after the fixed effects and the kept columns before it) is compared with ``ref[j]``,
    its own variation before demeaning (centred sum of squares; for an intercept its sum of
    squares); j is collinear when pivot <= ``tol`` * ref[j] (always when ref[j] is 0), and is
    then skipped, as fixest drops the later of two collinear columns. Invariant to rescaling
    any column (its pivot and its ref scale alike; the others' pivots do not change), unlike
    an absolute tolerance on the pivots, which also depends on how far the demeaning went."""
    k = M.shape[0]
    L = np.zeros((k, k))  # rows: Cholesky factor rows of the kept columns
    kept: list[int] = []
    bad = np.zeros(k, dtype=bool)
    for j in range(k):
        r = solve_triangular(L[np.ix_(kept, kept)], M[kept, j], lower=True) if kept else L[j, :0]
        pivot = float(M[j, j]) - float(r @ r)
        if ref[j] > 0 and pivot > tol * ref[j]:
            L[j, kept] = r
            L[j, j] = np.sqrt(pivot)
            kept.append(j)
        else:
            bad[j] = True
    return bad


def unidentified(sample: FESample, names: list[str], tol: float = COLLIN_TOL) -> list[str]:
    """The regressors of ``names`` (in priority order) that the sample's fixed effects and the
    identified regressors before them leave unidentified (:func:`collinear_columns` on the
    demeaned columns, each against its centred, weighted sum of squares :meth:`FESample.tss`)."""
    if not names:
        return []
    D = sample.demeaned(names)
    ref = np.array([sample.tss(n) for n in names])
    bad = collinear_columns(D.T @ D, ref, tol)
    return [n for n, b in zip(names, bad, strict=True) if b]


def check_required(dropped: list[str], required: list[str] | tuple[str, ...], what: str) -> None:
    """Raise :class:`CollinearityError` naming the ``required`` regressors in ``dropped``."""
    lost = [n for n in dropped if n in required]
    if lost:
        verb = "is" if len(lost) == 1 else "are"
        raise CollinearityError(
            f"{what} {', '.join(lost)} {verb} collinear with the fixed effects or the other "
            f"regressors (1 - R^2 <= {COLLIN_TOL:g}): not identified, not estimated"
        )


# ----------------------------------------------------------------------------- OLS


class _ScoreCols:
    """Lazy score matrix ``D[:, idx] * u`` (columns built one at a time, saving n x k memory)."""

    def __init__(self, D: np.ndarray, idx: np.ndarray, u: np.ndarray) -> None:
        self.D, self.idx, self.u = D, idx, u
        self.shape = (D.shape[0], idx.size)

    def col(self, j: int) -> np.ndarray:
        return self.D[:, self.idx[j]] * self.u


def _col(scores: np.ndarray | _ScoreCols, j: int) -> np.ndarray:
    return scores.col(j) if isinstance(scores, _ScoreCols) else scores[:, j]


def _cluster_meat(scores: np.ndarray | _ScoreCols, cl: np.ndarray, n_groups: int) -> np.ndarray:
    """sum_g (sum_{i in g} s_i)(sum_{i in g} s_i)' for scores ``(n, k)``."""
    sums = np.column_stack(
        [
            np.bincount(cl, weights=_col(scores, j), minlength=n_groups)
            for j in range(scores.shape[1])
        ]
    )
    return sums.T @ sums


def ssc_df_k(sample: FESample, k: int, cluster: str | None) -> int:
    """pyfixest's default ``k`` in (N-1)/(N-k): regressors + non-nested FE levels."""
    if not sample.fe:
        return k
    n_fe = len(sample.fe)
    k_fe_adj = int(sample.fe_sizes.sum()) - (n_fe - 1)
    if cluster is None:
        return k + k_fe_adj
    nested = sample.nested_in(cluster)
    if not nested.any():
        return k + k_fe_adj
    return k + k_fe_adj - int(sample.fe_sizes[nested].sum()) + int(nested.sum())


def sandwich(
    sample: FESample,
    bread: np.ndarray,
    scores: np.ndarray | _ScoreCols,
    k: int,
    vcov: str | dict[str, str],
) -> tuple[np.ndarray, float, int, float, int | None, str]:
    """Variance ``bread @ meat @ bread`` with pyfixest's small-sample factors.

    Returns (V, df_t, df_k, ssc factor, n_clusters, label)."""
    kind, var = parse_vcov(vcov)
    n = scores.shape[0]
    if kind == "CRV1":
        assert var is not None
        cl = sample.cluster_codes(var)
        g = int(cl.max()) + 1 if n else 0
        meat = _cluster_meat(scores, cl, g)
        df_k = ssc_df_k(sample, k, var)
        ssc = (n - 1) / (n - df_k) * g / (g - 1)
        return ssc * bread @ meat @ bread, g - 1, df_k, ssc, g, f"CRV1:{var}"
    df_k = ssc_df_k(sample, k, None)
    if kind == "HETERO":
        sc = np.column_stack([_col(scores, j) for j in range(scores.shape[1])])
        meat = sc.T @ sc
        ssc = n / (n - df_k)
        return ssc * bread @ meat @ bread, n - df_k, df_k, ssc, None, "hetero"
    raise ValueError(f"unsupported vcov {vcov!r} here")


def fit_fields(
    sample: FESample,
    y: str,
    names: list[str],
    beta: np.ndarray,
    bread: np.ndarray,
    u: np.ndarray,
    scores: np.ndarray | _ScoreCols,
    vcov: str | dict[str, str],
    r2: tuple[float, float],
) -> dict[str, Any]:
    """The fields a :class:`RegResult` (OLS or 2SLS) takes from one fit: the coefficients'
    covariance (``iid``: ``bread * u'u`` with pyfixest's small-sample factor; else
    :func:`sandwich` of the ``scores``), its degrees of freedom, and ``r2`` = (R², within R²)."""
    n, k = u.shape[0], beta.shape[0]
    kind, _ = parse_vcov(vcov)
    if kind == "IID":
        df_k = ssc_df_k(sample, k, None)
        ssc = (n - 1) / (n - df_k)
        V = ssc * bread * (u @ u) / (n - 1)
        df_t, g, label = n - df_k, None, "iid"
    else:
        V, df_t, df_k, ssc, g, label = sandwich(sample, bread, scores, k, vcov)
    return {
        "names": names,
        "params": beta,
        "cov": V,
        "df_t": df_t,
        "nobs": n,
        "r2": r2[0],
        "r2_within": r2[1],
        "depvar": y,
        "fixed_effects": list(sample.fe),
        "vcov_type": label,
        "n_clusters": g,
        "dropped_singletons": sample.n_dropped_singletons,
        "df_k": df_k,
        "ssc": ssc,
    }


def feols(
    sample: FESample,
    y: str,
    x: list[str],
    vcov: str | dict[str, str] = "CRV1:firm_id",
    collin_tol: float = COLLIN_TOL,
    required: list[str] | tuple[str, ...] = (),
) -> RegResult:
    """OLS of ``y`` on ``x`` absorbing the sample's fixed effects (demeaned data, cached).

    ``vcov``: ``"CRV1:<var>"`` (default ``firm_id``), ``"hetero"`` or ``"iid"``. Regressors
    collinear with the fixed effects or the regressors before them (scale-free check
    :func:`collinear_columns` at ``collin_tol``) are dropped, as pyfixest does, listed in
    ``dropped_collinear`` and warned about; :class:`CollinearityError` when one of
    ``required`` (e.g. the treatment) is. Without fixed effects an intercept is added.
    """
    names = list(x)
    D = sample.demeaned([y, *names])  # one demeaning call for all not-yet-cached columns
    ref = np.array([sample.tss(n) for n in names])
    if not sample.fe:
        one = np.ones(sample.nobs) if sample.weights is None else np.sqrt(sample.weights)
        D = np.column_stack([D[:, :1], one, D[:, 1:]])
        names = ["Intercept", *names]
        ref = np.concatenate([[float(one @ one)], ref])
    M = D.T @ D  # [y'y, y'X; X'y, X'X] in one pass
    excl = collinear_columns(M[1:, 1:], ref, collin_tol)
    dropped = [n for n, e in zip(names, excl, strict=True) if e]
    if dropped:
        check_required(dropped, required, "regressor")
        warnings.warn(f"collinear variables dropped: {dropped}", UserWarning, stacklevel=2)
        names = [n for n, e in zip(names, excl, strict=True) if not e]
    idx = np.flatnonzero(~excl) + 1
    bread = np.linalg.inv(M[np.ix_(idx, idx)])
    beta = bread @ M[idx, 0]
    coefs = np.zeros(D.shape[1])
    coefs[0] = 1.0
    coefs[idx] = -beta
    u = D @ coefs  # residuals, one pass over the contiguous block
    ssu = float(u @ u)
    r2 = 1 - ssu / sample.tss(y)
    r2w = 1 - ssu / float(M[0, 0]) if sample.fe else float("nan")
    fit = fit_fields(sample, y, names, beta, bread, u, _ScoreCols(D, idx, u), vcov, (r2, r2w))
    stats = {"depvar_mean": depvar_mean(sample, y), "r2_adj": adjusted_r2(sample, r2, idx.size)}
    return RegResult(**fit, stats=stats, dropped_collinear=dropped)

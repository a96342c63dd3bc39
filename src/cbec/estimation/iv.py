"""2SLS with absorbed fixed effects, first stage, and Kleibergen-Paap diagnostics (Table 4).

:func:`iv2sls` estimates ``y = b * endog + exog'c + FE + u`` instrumenting ``endog`` with the
excluded ``instruments`` on an :class:`~cbec.estimation.fe.FESample` (demeaned columns are
shared with the OLS models of the same sample). The second-stage variance is the 2SLS sandwich
with pyfixest's small-sample factors (as ``pyfixest.feols("y ~ exog | fe | endog ~ inst")``;
the tests check coefficients and SEs to 1e-6); the first stage is :func:`~.fe.feols` of
``endog`` on instruments + exog. Reported stats: ``first_stage_f`` (Wald F of the excluded
instruments with the first stage's vcov, pyfixest's ``_f_stat_1st_stage``), and ``kp_lm``,
``kp_lm_p``, ``kp_wald``, ``kp_wald_f`` from :mod:`cbec.estimation.kp` (cluster-robust when the
vcov is clustered); with one endogenous regressor also the weak-instrument-robust ``ar_ci``,
``ar_p`` (Anderson-Rubin) and ``eff_f``, ``weak_iv`` (Montiel Olea-Pflueger) from
:mod:`cbec.estimation.weakiv` (clustered when the vcov is, else heteroskedasticity-robust).

Note for the paper's instruments: an instrument that varies only at the city x year level
(e.g. 1/distance-to-Hangzhou x national IT revenue) is absorbed by a ``city^year`` fixed effect;
the model is then not identified (:class:`~.fe.CollinearityError`, a ``ValueError`` naming the
instrument). Exogenous controls absorbed by the fixed effects are dropped with a warning
(listed in ``dropped_collinear``), as in :func:`~.fe.feols`; all by the FE layer's scale-free
check (:func:`~.fe.unidentified`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .fe import FESample, RegResult, check_required, feols, fit_fields, parse_vcov, unidentified
from .kp import kp_stats
from .weakiv import weak_iv_stats

__all__ = ["IVResult", "iv2sls"]


@dataclass
class IVResult(RegResult):
    """Second-stage result plus the first-stage :class:`RegResult` (``first_stage``)."""

    first_stage: RegResult | None = None


def _resid_on(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    if x.shape[1] == 0:
        return a
    coef = np.linalg.lstsq(x, a, rcond=None)[0]
    return a - x @ coef


def iv2sls(
    sample: FESample,
    y: str,
    endog: str | list[str],
    instruments: list[str],
    exog: list[str] | None = None,
    vcov: str | dict[str, str] = "CRV1:firm_id",
) -> IVResult:
    """2SLS of ``y`` on ``endog`` (instrumented by ``instruments``) and ``exog``, absorbing the
    sample's fixed effects. Coefficients are ordered endog, then exog.

    ``result.first_stage`` is the first-stage OLS (``endog`` on instruments + exog; with several
    endogenous regressors, of the first one) and ``result.first_stage.to_dict(label)`` gives its
    table column; the rk statistics always use all endogenous regressors."""
    endo = [endog] if isinstance(endog, str) else list(endog)
    inst = list(instruments)
    if len(inst) < len(endo):
        raise ValueError("fewer instruments than endogenous regressors")
    D, exog, dropped = _demeaned_design(sample, y, endo, list(exog or []), inst)
    Zin = D[:, 1 + len(endo) + len(exog) :]
    Xex = D[:, 1 + len(endo) : 1 + len(endo) + len(exog)]
    Z = np.column_stack([Zin, Xex])
    yd = D[:, 0]
    X = D[:, 1 : 1 + len(endo) + len(exog)]
    names = [*endo, *exog]
    tZZinv = np.linalg.inv(Z.T @ Z)
    tXZ = X.T @ Z
    H = tXZ @ tZZinv
    bread = np.linalg.inv(H @ tXZ.T)
    beta = bread @ (H @ (Z.T @ yd))
    u = yd - X @ beta
    Xhat = Z @ (tZZinv @ tXZ.T)
    kind, cvar = parse_vcov(vcov)
    yraw = sample.column(y)
    ssu = float(u @ u)
    r2 = 1 - ssu / float(((yraw - yraw.mean()) ** 2).sum())
    r2w = 1 - ssu / float(yd @ yd) if sample.fe else float("nan")
    fit = fit_fields(sample, y, names, beta, bread, u, Xhat * u[:, None], vcov, (r2, r2w))

    # first stage(s) and diagnostics
    clusters = sample.cluster_codes(cvar) if kind == "CRV1" and cvar else None
    first, st = _first_stage(sample, endo, inst, exog, vcov, X[:, : len(endo)], Zin, Xex, clusters)
    if len(endo) == 1:
        half = max(100 * float(np.sqrt(fit["cov"][0, 0])), 1.0)
        y_, x_, z_ = (_resid_on(a, Xex) for a in (yd, X[:, 0], Zin))
        st.update(weak_iv_stats(y_, x_, z_, clusters, first.df_k, center=beta[0], half=half))
    return IVResult(
        **fit, estimator="iv2sls", stats=st, dropped_collinear=dropped, first_stage=first
    )


def _demeaned_design(
    sample: FESample, y: str, endo: list[str], exog: list[str], inst: list[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """Demeaned columns ``y, endo, exog, inst`` after the FE layer's scale-free identification
    check (:func:`~.fe.unidentified`) on the instruments then the exogenous controls, and on
    the kept controls then the endogenous regressors: an instrument or endogenous regressor
    that is not identified raises :class:`~.fe.CollinearityError` naming it; exogenous
    controls collinear with the fixed effects or the instruments are dropped with a warning,
    as feols does. Returns the matrix, the kept exog and the dropped ones."""
    dropped = unidentified(sample, [*inst, *exog])
    check_required(dropped, inst, "instrument")
    if dropped:
        # exogenous controls absorbed by the fixed effects: dropped, as feols does
        warnings.warn(f"collinear variables dropped: {dropped}", UserWarning, stacklevel=3)
        exog = [c for c in exog if c not in dropped]
    check_required(unidentified(sample, [*exog, *endo]), endo, "endogenous regressor")
    return sample.demeaned([y, *endo, *exog, *inst]), exog, dropped


def _first_stage(
    sample: FESample,
    endo: list[str],
    inst: list[str],
    exog: list[str],
    vcov: str | dict[str, str],
    Y: np.ndarray,
    Zin: np.ndarray,
    Xex: np.ndarray,
    clusters: np.ndarray | None,
) -> tuple[RegResult, dict[str, float]]:
    """First-stage OLS of the first endogenous regressor, its F on the excluded instruments
    and the Kleibergen-Paap statistics of all endogenous regressors (``Y``, demeaned)."""
    first = feols(sample, endo[0], [*inst, *exog], vcov=vcov, required=inst)
    first.estimator = "iv2sls_first_stage"
    idx = [first.names.index(c) for c in inst]
    b_i = first.params[idx]
    V_ii = first.cov[np.ix_(idx, idx)]
    f1 = float(b_i @ np.linalg.solve(V_ii, b_i) / len(inst))
    f1_p = float(stats.f.sf(f1, len(inst), first.df_t))
    Ytil = _resid_on(Y, Xex)
    Ztil = _resid_on(Zin, Xex)
    kp = kp_stats(Ytil, Ztil, clusters, df_k=first.df_k)
    return first, {"first_stage_f": f1, "first_stage_f_p": f1_p, **kp}

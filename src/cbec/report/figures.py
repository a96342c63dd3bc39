"""Diagnostic figures (matplotlib, Agg canvas, no pyplot state): deterministic PNG and PDF.

Every builder returns a :class:`matplotlib.figure.Figure` and never raises on missing or
degenerate inputs: it draws a panel saying what is missing instead (e.g. a Bartik instrument
that is zero everywhere on the tiny preset). :func:`save_figure` writes PNG and PDF without
timestamps (``CreationDate`` dropped, fixed ``svg.hashsalt``), so the same inputs give the same
bytes. The figures show only aggregates: no identifiers ever reach them.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import polars as pl
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cbec.tables import labels as L

__all__ = [
    "RC",
    "binned_means",
    "fig_cu_distribution",
    "fig_event_study",
    "fig_first_stage",
    "fig_match_scores",
    "fig_psm_balance",
    "figure_bytes",
    "placeholder",
    "run_event_study_figure",
    "save_figure",
]


def _cjk_font() -> str | None:
    """Register Noto Sans SC (shipped by the pinned ``pylopdf-fonts-zh-cn`` package, so no
    system font is needed) and return its family name; None if the package is absent."""
    try:
        from pylopdf_fonts_zh_cn import sans_path
    except ImportError:  # pragma: no cover - a pinned dependency
        return None
    font_manager.fontManager.addfont(str(sans_path()))
    return font_manager.FontProperties(fname=str(sans_path())).get_name()


CJK_FONT = _cjk_font()
# fontTools logs every table it prunes while subsetting fonts for the PDFs
logging.getLogger("fontTools").setLevel(logging.WARNING)
RC: dict[str, Any] = {
    "svg.hashsalt": "cbec",
    # Latin glyphs from DejaVu Sans, Chinese from Noto Sans SC (matplotlib's font fallback)
    "font.family": ["DejaVu Sans", *([CJK_FONT] if CJK_FONT else [])],
    # fonts embedded as TrueType (Type 42), which journals' PDF checks accept, not Type 3
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.compression": 6,
    "path.simplify": True,
}
PNG_METADATA: dict[str, str | None] = {"Software": None}
PDF_METADATA: dict[str, str | None] = {"CreationDate": None, "ModDate": None, "Producer": None}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]


_T: dict[str, dict[str, str]] = L.FIGURE_TEXT


def _t(key: str, lang: str, **kw: Any) -> str:
    return _T[key].get(lang, _T[key]["en"]).format(**kw)


def _lab(name: str, lang: str) -> str:
    """Display label of a variable (``lang`` en or zh)."""
    return L.var_label(name, "zh" if lang == "zh" else "en", "label")


PLATFORM_NAMES = {"alibaba": "Alibaba International Station", "mic": "Made-in-China.com"}


def _figure(w: float = 7.0, h: float = 4.0) -> Figure:
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(w, h))
    FigureCanvasAgg(fig)
    return fig


def placeholder(ax: Any, message: str, title: str | None = None) -> None:
    """Turn ``ax`` into a text panel saying why there is nothing to plot."""
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        wrap=True,
        fontsize=10,
        color="#444",
        transform=ax.transAxes,
        bbox={"boxstyle": "round", "facecolor": "#f3f3f3", "edgecolor": "#999"},
    )
    if title:
        ax.set_title(title)


def _finite(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return a[np.isfinite(a)]


# --------------------------------------------------------------------------- CU distribution
def fig_cu_distribution(
    sample: pl.DataFrame,
    var: str = "cu",
    group: str = "platform",
    bins: int = 30,
    lang: str = "en",
) -> Figure:
    """Histogram (density) of ``var`` for firm-years with ``group`` = 0 and 1, with means."""
    with matplotlib.rc_context(RC):
        fig = _figure(6.5, 4.0)
        ax = fig.add_subplot()
        title = _t(
            "dist_title", lang, var=_lab(var, lang).lower() if lang == "en" else _lab(var, lang)
        )
        if var not in sample.columns or group not in sample.columns:
            placeholder(ax, f"column {var!r} or {group!r} not in the analysis sample", title)
            return fig
        allv = _finite(sample[var].to_numpy())
        if allv.size == 0:
            placeholder(ax, f"no finite values of {var}", title)
            return fig
        edges = np.histogram_bin_edges(allv, bins=bins)
        groups = ((_t("non", lang), 0), (_t("members", lang), 1))
        for i, (lab, val) in enumerate(groups):
            v = _finite(sample.filter(pl.col(group) == val)[var].to_numpy())
            if v.size == 0:
                continue
            ax.hist(
                v,
                bins=edges,
                density=True,
                histtype="stepfilled",
                alpha=0.35,
                color=COLORS[i],
                label=f"{lab} (n={v.size:,}, mean {v.mean():.3f})",
            )
            ax.axvline(v.mean(), color=COLORS[i], ls="--", lw=1)
        ax.set_xlabel(_lab(var, lang))
        ax.set_ylabel(_t("density", lang))
        ax.set_title(title)
        ax.legend(frameon=False, loc="upper left")
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- PSM balance
def fig_psm_balance(
    balance: Sequence[Mapping[str, Any]] | None,
    threshold: float = 0.1,
    headers: Mapping[str, Any] | None = None,
    lang: str = "en",
) -> Figure:
    """Standardized mean differences before / after matching, one panel per matching column
    (``results/estimates/table4.json`` "balance"), titled by its matching method
    (``headers``: column label -> the column's header); dashed lines at ±``threshold``."""
    cols = [b for b in (balance or []) if b.get("rows")]
    with matplotlib.rc_context(RC):
        fig = _figure(3.0 * max(len(cols), 1) + 1.2, 3.8)
        if not cols:
            placeholder(fig.add_subplot(), "no balance statistics in table4.json", "PSM balance")
            return fig
        axes = fig.subplots(1, len(cols), sharey=True, squeeze=False)[0]
        for ax, col in zip(axes, cols, strict=True):
            rows = col["rows"]
            names = [_lab(str(r.get("covariate")), lang) for r in rows]
            y = np.arange(len(rows))[::-1]
            for key, mk, c, lab in (
                ("smd_before", "o", COLORS[1], _t("before", lang)),
                ("smd_after", "s", COLORS[0], _t("after", lang)),
            ):
                v = np.array([np.nan if r.get(key) is None else float(r[key]) for r in rows])
                ax.scatter(v, y, marker=mk, color=c, label=lab, zorder=3)
            for t in (-threshold, threshold):
                ax.axvline(t, color="grey", ls="--", lw=0.8)
            ax.axvline(0.0, color="black", lw=0.6)
            ax.set_yticks(y, names)
            head = (headers or {}).get(str(col.get("label"))) or col.get("header")
            method = L.header_label(head, "zh" if lang == "zh" else "en") or ""
            ax.set_title(f"{col.get('label', '')} {method}".strip(), fontsize=8)
            ax.set_xlabel(_t("smd", lang))
        axes[0].legend(frameon=False, loc="lower right")
        fig.suptitle(_t("balance", lang))
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- match scores
def fig_match_scores(
    accepted: Mapping[str, Any] | Any,
    review: Mapping[str, Any] | Any | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> Figure:
    """Histograms of fuzzy-match scores of accepted links and of candidates sent to clerical
    review (rejected), per platform. ``accepted``/``review``: arrays, or dicts platform -> array
    (scores only: callers must never pass names)."""
    acc = accepted if isinstance(accepted, Mapping) else {"platform": accepted}
    rev = review if isinstance(review, Mapping) else {"platform": review}
    plats = list(dict.fromkeys([*acc, *rev]))
    with matplotlib.rc_context(RC):
        fig = _figure(3.6 * max(len(plats), 1) + 0.8, 3.6)
        if not plats:
            placeholder(fig.add_subplot(), "no match scores", "Match scores")
            return fig
        axes = fig.subplots(1, len(plats), squeeze=False)[0]
        edges = np.arange(50, 102, 2.0)
        for ax, p in zip(axes, plats, strict=True):
            a = _finite(acc.get(p, []) if acc.get(p) is not None else [])
            r = _finite(rev.get(p, []) if rev.get(p) is not None else [])
            if a.size == 0 and r.size == 0:
                placeholder(ax, "no scored candidates", p)
                continue
            lo = min(50.0, float(np.floor(min(np.r_[a, r].min(), 100) / 2) * 2))
            e = np.arange(lo, 102, 2.0) if lo < 50 else edges
            for x, color, what in (
                (a, COLORS[0], "accepted links"),
                (r, COLORS[1], "review / rejected"),
            ):
                ax.hist(
                    np.clip(x, e[0], 100),
                    bins=e,
                    color=color,
                    alpha=0.6,
                    label=f"{what} (n={x.size:,})",
                )
            for k, v in (thresholds or {}).items():
                ax.axvline(float(v), color="grey", ls="--", lw=0.8)
                ax.text(
                    float(v),
                    1.0,
                    f" {k}",
                    rotation=90,
                    va="top",
                    ha="right",
                    fontsize=7,
                    color="grey",
                    transform=ax.get_xaxis_transform(),
                )
            ax.set_yscale("symlog", linthresh=1)
            ax.set_xlabel("name-match score (0-100)")
            ax.set_ylabel("candidates")
            ax.set_title(PLATFORM_NAMES.get(p, p))
            ax.legend(frameon=False, loc="upper left", fontsize=7)
        fig.suptitle("Match scores of platform candidates")
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- first stage
def binned_means(
    x: np.ndarray, y: np.ndarray, bins: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantile-binned means: (mean x, mean y, count) per bin of ``x`` (ties merge bins)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0:
        return np.array([]), np.array([]), np.array([])
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    if edges.size < 2:
        return np.array([x.mean()]), np.array([y.mean()]), np.array([x.size])
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2)
    n = np.bincount(idx, minlength=edges.size - 1)
    keep = n > 0
    mx = np.bincount(idx, weights=x, minlength=edges.size - 1)[keep] / n[keep]
    my = np.bincount(idx, weights=y, minlength=edges.size - 1)[keep] / n[keep]
    return mx, my, n[keep]


def fig_first_stage(
    sample: pl.DataFrame,
    instruments: Sequence[str] = ("iv_dist", "iv_bartik"),
    endog: str = "platform",
    by: str | None = "year",
    bins: int = 20,
) -> Figure:
    """Binned scatter of ``endog`` on each instrument (both demeaned within ``by``, i.e. the
    within-year relation), with the OLS slope; a text panel where an instrument is missing
    or constant."""
    with matplotlib.rc_context(RC):
        fig = _figure(3.6 * len(instruments) + 0.6, 3.6)
        axes = fig.subplots(1, len(instruments), squeeze=False)[0]
        for ax, iv in zip(axes, instruments, strict=True):
            title = f"{_lab(endog, 'en')} on {_lab(iv, 'en').split(':')[0]}"
            if iv not in sample.columns or endog not in sample.columns:
                placeholder(ax, f"{iv} not in the analysis sample", title)
                continue
            d = (
                sample.select(
                    pl.col(iv).cast(pl.Float64),
                    pl.col(endog).cast(pl.Float64),
                    *([pl.col(by)] if by and by in sample.columns else []),
                )
                .drop_nulls()
                .filter(pl.col(iv).is_finite())
            )
            if d.height == 0:
                placeholder(ax, f"{iv}: no non-missing values", title)
                continue
            if float(d[iv].std() or 0.0) == 0.0:
                placeholder(
                    ax,
                    f"{iv} has no variation\n(all {d.height:,} values = {d[iv][0]:.3g}):\n"
                    "no first stage to show",
                    title,
                )
                continue
            if by and by in d.columns:
                d = d.with_columns(
                    (pl.col(c) - pl.col(c).mean().over(by)).alias(c) for c in (iv, endog)
                )
            x, y = d[iv].to_numpy(), d[endog].to_numpy()
            mx, my, n = binned_means(x, y, bins)
            ax.scatter(mx, my, s=14 + 40 * n / n.max(), color=COLORS[0], zorder=3)
            if np.var(x) > 0:
                slope = float(np.cov(x, y, bias=True)[0, 1] / np.var(x))
                xs = np.array([mx.min(), mx.max()])
                ax.plot(
                    xs,
                    y.mean() + slope * (xs - x.mean()),
                    color=COLORS[1],
                    lw=1,
                    label=f"OLS slope {slope:.3g} (n={x.size:,})",
                )
                ax.legend(frameon=False, fontsize=7, loc="upper left")
            suffix = f" (demeaned by {by})" if by and by in d.columns else ""
            ax.set_xlabel(_lab(iv, "en") + suffix, wrap=True)
            ax.set_ylabel(_lab(endog, "en") + suffix)
            ax.set_title(title)
        fig.suptitle(
            f"First stage: {_lab(endog, 'en').lower()} by instrument bin ({bins} quantile bins)"
        )
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- event study
def _endpoint_ticks(ax: Any, window: Sequence[int]) -> None:
    """One tick per event time, the pooled endpoints labelled "≤lo" and "≥hi"."""
    lo, hi = int(window[0]), int(window[1])
    ticks = list(range(lo, hi + 1))
    names = [str(k) for k in ticks]
    names[0], names[-1] = f"≤{lo}", f"≥{hi}"
    ax.set_xticks(ticks, names)


def _event_series(
    ax: Any,
    q: pl.DataFrame,
    offset: float,
    color: str,
    ylim: tuple[float, float],
    label: str,
    window: Sequence[int] | None,
) -> None:
    """One estimator's path (shifted by ``offset`` on the x axis) with its CI band cut at
    ``ylim``; the pooled endpoints of ``window`` hollow."""
    x = q["rel_time"].to_numpy().astype(float) + offset
    b = q["estimate"].to_numpy().astype(float)
    cl = q["ci_low"].fill_null(q["estimate"]).to_numpy().astype(float)
    ch = q["ci_high"].fill_null(q["estimate"]).to_numpy().astype(float)
    band = (np.clip(cl, *ylim), np.clip(ch, *ylim))
    ax.fill_between(x, *band, color=color, alpha=0.15, lw=0)
    ax.plot(x, b, "o-", ms=3.5, color=color, label=label)
    if window is not None:
        ends = np.isin(q["rel_time"].to_numpy(), list(window))
        ax.plot(x[ends], b[ends], "o", ms=6, mfc="white", mec=color, zorder=4)


def fig_event_study(
    path: pl.DataFrame | Sequence[Mapping[str, Any]],
    clip_factor: float = 8.0,
    window: Sequence[int] | None = None,
    ref: int = -1,
    lang: str = "en",
) -> Figure:
    """Estimates by years relative to joining with 95% CI bands, one series per estimator.

    CIs of cells whose standard error exceeds ``clip_factor`` x the median are cut at the
    axis limits (noted in the figure) so one near-collinear cell does not flatten the rest.
    The pooled endpoints of ``window`` are drawn hollow and labelled "≤lo" / "≥hi"."""
    p = (
        path
        if isinstance(path, pl.DataFrame)
        else pl.DataFrame(list(path), infer_schema_length=None)
    )
    with matplotlib.rc_context(RC):
        fig = _figure(7.0, 4.2)
        ax = fig.add_subplot()
        title = _t("es_title", lang)
        if p.height == 0 or "rel_time" not in p.columns:
            placeholder(ax, "no event-study estimates", title)
            return fig
        p = p.filter(pl.col("rel_time").is_not_null() & pl.col("estimate").is_not_null())
        ests = p["estimator"].unique(maintain_order=True).to_list()
        se = _finite(p["se"].to_numpy()) if "se" in p.columns else np.array([])
        cap = clip_factor * float(np.median(se)) if se.size else np.inf
        ok = p.filter(pl.col("se").is_null() | (pl.col("se") <= cap))
        lo = float(np.nanmin(ok["ci_low"].fill_null(ok["estimate"]).to_numpy()))
        hi = float(np.nanmax(ok["ci_high"].fill_null(ok["estimate"]).to_numpy()))
        pad = 0.08 * max(hi - lo, 1e-6)
        clipped = p.height - ok.height
        width = 0.12
        for i, e in enumerate(ests):
            q = p.filter(pl.col("estimator") == e).sort("rel_time")
            label = L.estimator_label(str(e), lang)  # type: ignore[arg-type]
            offset = (i - (len(ests) - 1) / 2) * width
            _event_series(
                ax, q, offset, COLORS[i % len(COLORS)], (lo - pad, hi + pad), label, window
            )
        ax.set_ylim(lo - pad, hi + pad)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.axvline(-0.5, color="grey", ls="--", lw=0.8)
        if window is not None:
            _endpoint_ticks(ax, window)
        ax.set_xlabel(_t("es_x", lang, ref=ref))
        ax.set_ylabel(_t("es_y", lang))
        ax.set_title(title)
        if clipped:
            ax.text(
                0.99,
                0.02,
                f"{clipped} CI(s) with s.e. > {clip_factor:g}x median cut at axis",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=7,
                color="#555",
            )
        ax.legend(frameon=False, loc="upper left", title=_t("ci", lang))
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- saving
def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 120) -> bytes:
    """The figure rendered to bytes, without timestamps."""
    buf = io.BytesIO()
    meta = PDF_METADATA if fmt == "pdf" else PNG_METADATA if fmt == "png" else None
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    return buf.getvalue()


def save_figure(
    fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "pdf"), dpi: int = 120
) -> list[Path]:
    """Write ``stem.<fmt>`` for each format (atomic rename); return the paths."""
    out = []
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        data = figure_bytes(fig, fmt, dpi)
        path = stem.with_suffix(f".{fmt}")
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        out.append(path)
    return out


# --------------------------------------------------------------------------- rule driver
FIGURES: dict[str, str] = {
    "cu_distribution": "Capacity utilization (YJZ) of platform members and non-members: "
    "density of firm-years in the analysis sample, dashed lines at the group means.",
    "psm_balance": "Standardized mean differences of the matching covariates and the logit "
    "propensity score before (red) and after (blue) matching, per Table 4 column; dashed "
    "lines at +/-0.1.",
    "match_scores": "Name-match scores of platform members linked to ASIF firms (accepted) "
    "and of the borderline candidates sent to clerical review (rejected by the automatic "
    "rule), with the acceptance thresholds; log scale. Scores only: no names.",
    "first_stage": "Binned scatter (20 quantile bins) of the platform dummy on each "
    "instrument, both demeaned by year, with the OLS slope: the raw within-year first-stage "
    "relation (before the firm and region x year fixed effects of Table 5).",
    "event_study": "Effect of joining the platform on capacity utilization by years relative "
    "to joining (reference -1), three estimators, 95% CI bands (Table 8).",
}


def _read_scores(path: str | Path | None) -> np.ndarray | None:
    """The ``score`` column only (the review files hold names: never read anything else)."""
    if not path or not Path(path).is_file():
        return None
    try:
        return pl.read_parquet(path, columns=["score"])["score"].cast(pl.Float64).to_numpy()
    except Exception:  # noqa: BLE001 - a missing/odd review file is drawn as absent
        return None


def run_figures(
    sample_path: str | Path,
    table4_path: str | Path | None,
    links: Mapping[str, str | Path],
    link_reports: Mapping[str, str | Path],
    review: Mapping[str, str | Path],
    outputs: Mapping[str, str | Path],
    instruments: Sequence[str] = ("iv_dist", "iv_bartik"),
    bins: int = 20,
    dpi: int = 120,
    lang: str = "en",
) -> list[Path]:
    """Write the diagnostic figures; ``outputs``: figure name -> PNG path (PDF alongside)."""
    import json

    cols = pl.read_parquet_schema(sample_path)
    want = [c for c in ("cu", "platform", "year", *instruments) if c in cols]
    sample = pl.read_parquet(sample_path, columns=want)
    balance, headers = None, {}
    if table4_path and Path(table4_path).is_file():
        t4 = json.loads(Path(table4_path).read_text(encoding="utf-8"))
        balance = t4.get("balance")
        headers = {str(c.get("label")): c.get("header") for c in t4.get("columns") or []}
    accepted = {p: _read_scores(links[p]) for p in sorted(links)}
    rejected = {p: _read_scores(review.get(p)) for p in sorted(links)}
    thresholds: dict[str, float] = {}
    for p in sorted(link_reports):
        rp = Path(link_reports[p])
        if rp.is_file():
            thresholds = json.loads(rp.read_text(encoding="utf-8")).get("thresholds") or thresholds
    figs = {
        "cu_distribution": lambda: fig_cu_distribution(sample, lang=lang),
        "psm_balance": lambda: fig_psm_balance(balance, headers=headers, lang=lang),
        "match_scores": lambda: fig_match_scores(accepted, rejected, thresholds),
        "first_stage": lambda: fig_first_stage(sample, instruments, bins=bins),
    }
    written = []
    for name, path in outputs.items():
        try:
            fig = figs[name]()
        except Exception as err:  # noqa: BLE001 - a figure never stops the report
            fig = _figure(6.0, 3.0)
            placeholder(fig.add_subplot(), f"{name} could not be drawn:\n{type(err).__name__}")
        written += save_figure(fig, Path(path).with_suffix(""), ("png", "pdf"), dpi=dpi)
    return written


def run_event_study_figure(
    estimates_path: str | Path, png_path: str | Path, dpi: int = 120, lang: str = "en"
) -> list[Path]:
    """Draw the event-study figure from an event-study table's estimates JSON (its ``path``);
    write ``png_path`` and the PDF alongside."""
    import json

    est = json.loads(Path(estimates_path).read_text(encoding="utf-8"))
    fig = fig_event_study(
        est.get("path") or [], window=est.get("window"), ref=int(est.get("ref", -1)), lang=lang
    )
    return save_figure(fig, Path(png_path).with_suffix(""), ("png", "pdf"), dpi=dpi)

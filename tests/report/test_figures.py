"""Figures: drawn from small synthetic inputs, non-empty, deterministic, robust to gaps."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from report._report_data import BALANCE, PATH, sample_frame

from cbec.report import figures as F

PNG = b"\x89PNG\r\n\x1a\n"


def _texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_binned_means_recovers_a_planted_line():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 20_000)
    y = 0.5 + 0.03 * x + rng.normal(0, 0.01, x.size)
    mx, my, n = F.binned_means(x, y, bins=10)
    assert len(mx) == 10 and n.sum() == x.size
    # bin means lie on the planted line (tolerance: 4 s.e. of a bin mean)
    assert np.max(np.abs(my - (0.5 + 0.03 * mx))) < 4 * 0.01 / np.sqrt(n.min())
    assert np.all(np.diff(mx) > 0)


def test_binned_means_constant_and_empty():
    mx, my, n = F.binned_means(np.zeros(5), np.arange(5.0))
    assert mx.tolist() == [0.0] and my.tolist() == [2.0] and n.tolist() == [5]
    assert F.binned_means(np.array([np.nan]), np.array([1.0]))[0].size == 0


def test_first_stage_draws_placeholder_for_constant_instrument():
    fig = F.fig_first_stage(sample_frame(bartik_zero=True))
    ax_dist, ax_bartik = fig.axes[:2]
    assert ax_dist.axison and len(ax_dist.collections) >= 1  # the binned scatter
    assert not ax_bartik.axison
    assert "iv_bartik has no variation" in _texts(fig)
    # the OLS slope in the legend has the planted positive sign
    label = ax_dist.get_legend().get_texts()[0].get_text()
    assert float(label.split("slope ")[1].split(" ")[0]) > 0


def test_first_stage_missing_column():
    fig = F.fig_first_stage(sample_frame().drop("iv_bartik"))
    assert "iv_bartik not in the analysis sample" in _texts(fig)


def test_cu_distribution_legend_has_group_means():
    s = sample_frame()
    fig = F.fig_cu_distribution(s)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    m1 = s.filter(pl.col("platform") == 1)["cu"].mean()
    assert f"mean {m1:.3f}" in labels[1]
    assert "not in the analysis sample" in _texts(F.fig_cu_distribution(s.drop("cu")))


def test_psm_balance_panels_and_missing():
    fig = F.fig_psm_balance(BALANCE)
    assert len(fig.axes) == 2
    offs = fig.axes[0].collections[0].get_offsets()  # "before" markers
    assert np.allclose(np.asarray(offs)[:, 0], [0.30, -0.25, 0.96])
    assert "no balance statistics" in _texts(F.fig_psm_balance(None))


def test_match_scores_with_and_without_review():
    fig = F.fig_match_scores(
        {"alibaba": np.array([100.0, 95, 91]), "mic": np.array([])},
        {"alibaba": np.array([82.0, 85]), "mic": None},
        {"accept": 90, "review": 80},
    )
    assert len(fig.axes) == 2
    assert "no scored candidates" in _texts(fig)
    counts = [p.get_height() for p in fig.axes[0].patches]
    assert sum(counts) == 5  # 3 accepted + 2 review


def test_event_study_bands_and_clipping():
    fig = F.fig_event_study(PATH)
    ax = fig.axes[0]
    assert len(ax.lines) >= 2 and len(ax.collections) == 2  # two series, two CI bands
    wild = [dict(r) for r in PATH]
    wild[3] = dict(wild[3], se=5.0, ci_low=-10.0, ci_high=10.0)
    fig2 = F.fig_event_study(wild)
    lo, hi = fig2.axes[0].get_ylim()
    assert hi < 1.0 and lo > -1.0
    assert "cut at axis" in _texts(fig2)
    assert "no event-study estimates" in _texts(F.fig_event_study([]))


@pytest.mark.parametrize(
    "build",
    [
        lambda: F.fig_first_stage(sample_frame()),
        lambda: F.fig_event_study(PATH),
        lambda: F.fig_psm_balance(BALANCE),
    ],
)
def test_save_figure_is_deterministic_and_timestamp_free(tmp_path, build):
    a = F.save_figure(build(), tmp_path / "a" / "fig")
    b = F.save_figure(build(), tmp_path / "b" / "fig")
    for pa, pb in zip(a, b, strict=True):
        assert pa.stat().st_size > 1000
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    png, pdf = (p.read_bytes() for p in a)
    assert png.startswith(PNG) and pdf.startswith(b"%PDF")
    assert b"CreationDate" not in pdf and b"ModDate" not in pdf


def test_run_figures_reads_only_scores_and_survives_missing_inputs(tmp_path):
    s = tmp_path / "sample.parquet"
    sample_frame().write_parquet(s)
    links = tmp_path / "alibaba_panel.parquet"
    pl.DataFrame({"member_id": ["a", "b"], "score": [100.0, 92.0]}).write_parquet(links)
    review = tmp_path / "alibaba_review.parquet"
    # a review file with a name column of a type that would fail if it were read as scores
    pl.DataFrame({"name_member": ["某某有限公司"], "score": [81.0]}).write_parquet(review)
    assert F._read_scores(review).tolist() == [81.0]
    assert F._read_scores(tmp_path / "absent.parquet") is None
    outs = {
        n: tmp_path / "fig" / f"{n}.png"
        for n in ("cu_distribution", "psm_balance", "match_scores", "first_stage")
    }
    written = F.run_figures(
        s, tmp_path / "no_table4.json", {"alibaba": links}, {}, {"alibaba": review}, outs
    )
    assert len(written) == 8
    for p in written:
        assert p.stat().st_size > 1000


# ------------------------------------------------------------------ fonts and labels
def test_pdf_fonts_are_truetype_and_chinese_renders():
    """Fonts embedded as TrueType (Type 42, /FontFile2), never Type 3; with ``lang="zh"`` the
    Chinese glyphs come from the packaged Noto Sans SC, not from a missing-glyph box."""
    import warnings

    en = F.figure_bytes(F.fig_event_study(PATH, window=[-5, 5]), "pdf")
    assert b"/FontFile2" in en and b"/Type3" not in en
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise
        zh = F.figure_bytes(F.fig_event_study(PATH, window=[-5, 5], lang="zh"), "pdf")
    assert b"NotoSansSC" in zh and b"/Type3" not in zh


def test_event_study_marks_pooled_endpoints_and_labels_estimators():
    fig = F.fig_event_study(PATH, window=[-5, 5])
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0] == "≤-5" and ticks[-1] == "≥5"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert all("_" not in x for x in legend), legend


def test_psm_panels_titled_by_matching_method():
    headers = {
        b["label"]: h for b, h in zip(BALANCE, ["NN 1:1", "NN 1:3", "Sequential"], strict=False)
    }
    fig = F.fig_psm_balance(BALANCE, headers=headers)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].endswith("Nearest neighbour 1:1"), titles
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert all("_" not in x for x in labels), labels


def test_first_stage_axes_show_display_labels():
    fig = F.fig_first_stage(sample_frame())
    texts = [fig._suptitle.get_text()] + [
        t for ax in fig.axes for t in (ax.get_title(), ax.get_xlabel(), ax.get_ylabel())
    ]
    assert not any("_" in t or t.startswith("platform") for t in texts), texts

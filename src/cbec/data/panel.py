"""The firm-year panel: deflated inputs and outputs, real capital, controls, exports, treatment.

Definitions follow the paper (section 4.2) and, for capital, Brandt, Van Biesebroeck & Zhang
(2012): nominal investment is the change in gross fixed assets at original value, deflated by
the investment-goods deflator, accumulated by perpetual inventory with a constant depreciation
rate; the first observation of a firm starts from its gross fixed assets deflated at that
year's price.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import polars as pl

from cbec.errors import InputError

# A firm's direct identifiers (ASIF legal-person code, name, legal representative, phone,
# zip): the linking and matching rules need them, nothing after them. The panel drops them,
# so the measures, the analysis sample, tables and figures carry only ``firm_id``.
IDENTIFIERS = ["firm_code", "firm_name", "legal_rep", "phone", "zip"]


def read_linked_panel(path: str) -> pl.DataFrame:
    """The linked ASIF panel (``link_panel``) without its :data:`IDENTIFIERS`, sorted by firm
    and year (as :func:`assemble_panel` works on it)."""
    return pl.scan_parquet(path).drop(IDENTIFIERS, strict=False).sort(["firm_id", "year"]).collect()


def deflate(
    panel: pl.DataFrame, deflators: pl.DataFrame, source: str = "deflators"
) -> pl.DataFrame:
    """Real output, value added, intermediate inputs (industry deflators, 2001 = 1).

    The deflators are looked up on the (ind2, year) keys alone and set beside the panel's
    columns (rows in the panel's order), so the wide panel is not copied by a join."""
    out_defl = deflators.filter(pl.col("ind2") != "K").select(
        "ind2", "year", "output_deflator", "input_deflator"
    )
    k_defl = deflators.filter(pl.col("ind2") == "K").select(
        "year", pl.col("output_deflator").alias("capital_deflator")
    )
    keys = (
        panel.select("ind2", "year")
        .join(out_defl, on=["ind2", "year"], how="left", maintain_order="left")
        .join(k_defl, on="year", how="left", maintain_order="left")
    )
    missing = keys.filter(
        pl.col("output_deflator").is_null() | pl.col("capital_deflator").is_null()
    )
    if missing.height:
        ex = missing.select("ind2", "year").unique().sort(["ind2", "year"]).head(3).rows()
        raise InputError(source, "ind2/year", f"no deflator for industry-years, e.g. {ex}")
    df = panel.hstack(keys.drop("ind2", "year"))
    va = pl.coalesce(pl.col("value_added"), pl.col("gross_output") - pl.col("intermediate"))
    return df.with_columns(
        (pl.col("gross_output") / pl.col("output_deflator")).alias("real_output"),
        (va / pl.col("output_deflator")).alias("real_va"),
        (pl.col("intermediate") / pl.col("input_deflator")).alias("real_materials"),
    )


def perpetual_inventory(
    df: pl.DataFrame, delta: float, in_use: bool = False, flags: bool = False
) -> pl.DataFrame:
    """Real capital by perpetual inventory, dated for production, and real investment.

    ASIF book values are year-end: gross fixed assets at original value include the year's
    investment. Real investment in year t is ``I_t = (orig_t − orig_s) / P_t`` (s the firm's
    previous year in the data). The year-end stock accumulates as
    ``K^end_t = (1 − δ)^(t − s) K^end_s + I_t``, starting from the first year's net fixed
    assets deflated (``K^end = net / P``: net of accumulated depreciation, like a stock).
    Output in year t is produced with the stock at the start of the year, so
    ``real_capital`` (the production input, k_t of Olley–Pakes: decided before ω_t) is
    ``(1 − δ)^(t − s − 1) K^end_s``, and in a firm's first year ``K^end_t`` (the best available
    approximation). ``df`` needs firm_id, year, fixed_assets_orig, fixed_assets_net and
    capital_deflator. Negative investment (disposals) lowers the stock but is null as the
    Olley–Pakes proxy, which needs positive investment. After a gap (s < t − 1) Δorig spans
    several years of investment: it enters the stock but ``real_investment`` is null (it is
    not the year's investment, the proxy Olley–Pakes inverts for ω_t).

    ``in_use``: also ``real_capital_use``, the same accumulation with each firm-year's own
    depreciation rate (:func:`_in_use_step`; needs ``depreciation`` and ``ind2``), and
    ``ln_k_use_dlevel``: ∂ ln K_use / ∂ ln m, how its log moves when the industry's real
    depreciation is m times its deflated book depreciation (m = 1 + :data:`LEVEL_STEP`, a
    forward difference); the control of ``measures.yjz.level_control`` (docs/methods.md).

    A firm-year whose Δorig is unknown (its own or the previous year's ``fixed_assets_orig``
    missing) restarts the stock from net/P like a first year: the year's investment is
    unknown, and net fixed assets are the only measured stock (continuing would need a
    made-up investment). ``flags``: keep ``pim_start`` (``entry`` | ``restart`` | null when
    the stock continues) and, with ``in_use``, ``pim_rate`` (``book`` | ``carried`` |
    ``default``: the rate used, see :func:`_in_use_step`) for :func:`capital_counts`.
    Rows sorted by firm and year; the stocks are computed on the columns they read and set
    beside ``df``'s (:func:`_capital_stocks`).
    """
    df = sort_firm_year(df)
    return df.hstack(_capital_stocks(df, delta, in_use, flags))


def sort_firm_year(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` sorted by firm_id and year (unique keys); not copied when already sorted."""
    firm, year = pl.col("firm_id"), pl.col("year")
    step = (firm.diff() > 0) | ((firm.diff() == 0) & (year.diff() > 0))
    if df.select(step.slice(1).all()).item():
        return df
    return df.sort(["firm_id", "year"])


# the columns the perpetual inventory reads (with depreciation in use: also the last two)
_PIM_COLUMNS = ["firm_id", "year", "fixed_assets_orig", "fixed_assets_net", "capital_deflator"]
_PIM_IN_USE = ["depreciation", "ind2"]


def _capital_stocks(df: pl.DataFrame, delta: float, in_use: bool, flags: bool) -> pl.DataFrame:
    """The columns :func:`perpetual_inventory` adds, rows in the order of ``df`` (sorted by
    firm and year). Computed on the few columns it reads, not on the whole panel."""
    narrow = df.select(_PIM_COLUMNS + (_PIM_IN_USE if in_use else []))
    orig_prev = pl.col("fixed_assets_orig").shift(1).over("firm_id")
    narrow = narrow.with_columns(
        ((pl.col("fixed_assets_orig") - orig_prev) / pl.col("capital_deflator")).alias("_inv"),
        (pl.col("year") - pl.col("year").shift(1).over("firm_id")).alias("_inv_span"),
    )
    keys = ["firm_id", "year"]
    fixed = ["real_capital_end", "real_capital", "pim_start"]
    out = _accumulate(narrow, lambda part: _fixed_step(part, delta), fixed)
    if in_use:
        use = _accumulate(
            narrow, lambda part: _in_use_step(part, delta), ["real_capital", "pim_rate"]
        ).rename({"real_capital": "real_capital_use"})
        out = out.join(use, on=keys, how="left", maintain_order="left")
        out = out.join(
            _level_derivative(narrow, delta, use), on=keys, how="left", maintain_order="left"
        )
    inv = narrow.select(
        *keys,
        pl.when((pl.col("_inv") > 0) & (pl.col("_inv_span") == 1))
        .then(pl.col("_inv"))
        .alias("real_investment"),
    )
    out = inv.join(out, on=keys, how="left", maintain_order="left").drop(keys)
    out = out.select(pl.all().exclude("real_investment"), "real_investment")
    return out if flags else out.drop("pim_start", "pim_rate", strict=False)


# the relative step of the level of the book rates in ``ln_k_use_dlevel``
LEVEL_STEP = 0.01


def _level_derivative(narrow: pl.DataFrame, delta: float, use: pl.DataFrame) -> pl.DataFrame:
    """firm_id, year and ``ln_k_use_dlevel``: (ln K_use with Σ rate·K = m·Σ depreciation/P,
    m = 1 + :data:`LEVEL_STEP`, − ln K_use) / ln m; null where either stock is not
    positive. Book and carried rates are scaled, ``delta`` (no rate yet) is not; a restart
    from net/P gets 0."""
    bumped = _accumulate(
        narrow, lambda part: _in_use_step(part, delta, 1 + LEVEL_STEP), ["real_capital"]
    )
    both = use.select("firm_id", "year", "real_capital_use").join(
        bumped, on=["firm_id", "year"], how="left"
    )
    ok = (pl.col("real_capital") > 0) & (pl.col("real_capital_use") > 0)
    diff = pl.col("real_capital").log() - pl.col("real_capital_use").log()
    return both.select(
        "firm_id", "year", pl.when(ok).then(diff / math.log1p(LEVEL_STEP)).alias("ln_k_use_dlevel")
    )


def capital_counts(df: pl.DataFrame) -> pl.DataFrame:
    """Per year, how the capital stocks of :func:`perpetual_inventory` (``flags=True``,
    ``in_use=True``) were built: firm-years = start_entry + start_restart + continued
    (restart: Δ original value unknown) = rate_book + rate_carried + rate_default (the rate
    of depreciation in use: the firm's book rate, its last one carried forward, or
    ``pim_delta`` when it has none yet); k_use_missing: firm-years whose ``real_capital_use``
    is null or ≤ 0 (net fixed assets missing or ≤ 0 at the start), which have no ln_k_use
    and leave the YJZ estimation."""
    start, rate = pl.col("pim_start"), pl.col("pim_rate")
    k = pl.col("real_capital_use")
    return (
        df.group_by("year")
        .agg(
            pl.len().alias("firm_years"),
            (start == "entry").sum().alias("start_entry"),
            (start == "restart").sum().alias("start_restart"),
            start.is_null().sum().alias("continued"),
            (rate == "book").sum().alias("rate_book"),
            (rate == "carried").sum().alias("rate_carried"),
            (rate == "default").sum().alias("rate_default"),
            (k.is_null() | k.is_nan() | (k <= 0)).sum().alias("k_use_missing"),
        )
        .sort("year")
    )


def _accumulate(
    df: pl.DataFrame, step: Callable[[pl.DataFrame], pl.DataFrame], keep: list[str]
) -> pl.DataFrame:
    """Year-by-year accumulation of the stock. ``step`` gets a year's rows joined with each
    firm's state (``k_prev`` its last end-of-year stock, ``year_k`` that year, ``r_prev`` the
    depreciation rate it last used; null for a new firm) and adds ``real_capital_end``,
    ``real_capital`` and ``_rate`` (the rate carried to the next year). Returns firm_id, year
    and the ``keep`` columns of every year, years in order."""
    state = pl.DataFrame(
        schema={
            "firm_id": df.schema["firm_id"],
            "year_k": pl.Int64,
            "k_prev": pl.Float64,
            "r_prev": pl.Float64,
        }
    )
    parts = []
    for year in sorted(df["year"].unique().to_list()):
        part = step(df.filter(pl.col("year") == year).join(state, on="firm_id", how="left"))
        parts.append(part.select("firm_id", "year", *keep))
        new = part.select(
            "firm_id",
            pl.col("year").alias("year_k"),
            pl.col("real_capital_end").alias("k_prev"),
            pl.col("_rate").alias("r_prev"),
        )
        state = pl.concat([state.join(new, on="firm_id", how="anti"), new])
    return pl.concat(parts)


_FIRST = pl.col("k_prev").is_null() | pl.col("_inv").is_null()
_START = pl.col("fixed_assets_net") / pl.col("capital_deflator")
# why the stock (re)starts from net/P: a new firm, or an unknown Δ original value
_START_FLAG = (
    pl.when(pl.col("k_prev").is_null())
    .then(pl.lit("entry"))
    .when(pl.col("_inv").is_null())
    .then(pl.lit("restart"))
    .alias("pim_start")
)


def _fixed_step(part: pl.DataFrame, delta: float) -> pl.DataFrame:
    """One year of the perpetual inventory at the constant rate ``delta``."""
    gap = pl.col("year") - pl.col("year_k")
    begin = pl.col("k_prev") * (1 - delta) ** (gap - 1)
    end = pl.max_horizontal(pl.col("k_prev") * (1 - delta) ** gap + pl.col("_inv"), 0.05 * begin)
    return part.with_columns(
        pl.when(_FIRST).then(_START).otherwise(end).alias("real_capital_end"),
        pl.when(_FIRST).then(_START).otherwise(begin).alias("real_capital"),
        pl.lit(delta).alias("_rate"),
        _START_FLAG,
    )


def _in_use_step(part: pl.DataFrame, delta: float, scale: float = 1.0) -> pl.DataFrame:
    """One year of the perpetual inventory with depreciation in use (Yu–Jin–Zhang).

    The firm's rate is its book rate ``depreciation / fixed_assets_orig`` (the YJZ proxy of
    utilization, charged on original value) times one factor per industry-year that makes
    the industry's real depreciation of the real stock equal to its book depreciation
    deflated: Σ rate·K = Σ depreciation / P. The level then comes from the accounts, the
    firm-to-firm variation from each firm's rate (book amounts of old firms are at historical
    cost; their rates are not). A missing or non-positive book rate (ASIF 2008–2010) carries
    the firm's last rate forward, ``delta`` before any (``pim_rate``: book | carried |
    default). ``scale``: the book rates times this after the level factor, so that the
    industry's real depreciation is ``scale`` times its book depreciation deflated
    (:func:`_level_derivative`)."""
    gap = pl.col("year") - pl.col("year_k")
    r_prev = pl.col("r_prev").fill_null(delta)
    begin = pl.when(_FIRST).then(_START).otherwise(pl.col("k_prev") * (1 - r_prev) ** (gap - 1))
    book = pl.col("depreciation") / pl.col("fixed_assets_orig")
    ok = book.is_finite() & (book > 0) & (book < 1) & (begin > 0)
    level = pl.when(ok).then(pl.col("depreciation") / pl.col("capital_deflator")).sum().over(
        "ind2"
    ) / pl.when(ok).then(book * begin).sum().over("ind2")
    rate = pl.when(ok).then((book * level * scale).clip(0.0, 0.95)).otherwise(r_prev)
    # the state keeps null until the firm has a book rate of its own (then "default" again)
    own = pl.when(ok).then(rate).otherwise(pl.col("r_prev"))
    source = (
        pl.when(ok)
        .then(pl.lit("book"))
        .when(pl.col("r_prev").is_null())
        .then(pl.lit("default"))
        .otherwise(pl.lit("carried"))
    )
    part = part.with_columns(
        begin.alias("real_capital"),
        rate.alias("_used"),
        own.alias("_rate"),
        source.alias("pim_rate"),
    )
    end = pl.max_horizontal(
        pl.col("real_capital") * (1 - pl.col("_used")) + pl.col("_inv"),
        0.05 * pl.col("real_capital"),
    )
    return part.with_columns(
        pl.when(_FIRST).then(_START).otherwise(end).alias("real_capital_end"), _START_FLAG
    ).drop("_used")


def controls(df: pl.DataFrame, foreign_includes_hmt: bool = True) -> pl.DataFrame:
    """The paper's controls (section 4.2.3) and the mechanism variables from ASIF."""
    paid = pl.col("paidin_capital")
    foreign = pl.col("cap_foreign").fill_null(0)
    if foreign_includes_hmt:
        foreign = foreign + pl.col("cap_hmt").fill_null(0)
    return df.with_columns(
        (pl.col("total_assets") / 10_000).log().alias("lnqygm"),
        (pl.col("year") - pl.col("found_year") + 1).clip(lower_bound=1).log().alias("lnage"),
        pl.when(paid > 0)
        .then((pl.col("cap_state").fill_null(0) / paid > 0.5).cast(pl.Int8))
        .alias("sfgyqy"),
        pl.when(paid > 0).then((foreign / paid > 0.25).cast(pl.Int8)).alias("sfwzqy"),
        (pl.col("fixed_assets_net") / pl.col("employees") / 100).alias("percs"),
        (pl.col("interest").fill_null(0).clip(lower_bound=0) / pl.col("fixed_assets_net")).alias(
            "fc"
        ),
        (pl.col("new_product").fill_null(0) / pl.col("gross_output"))
        .clip(0, 1)
        .alias("newprod_share"),
        (pl.col("depreciation") / pl.col("fixed_assets_orig")).alias("dep_rate"),
        pl.col("real_va").log().alias("ln_va"),
        pl.col("employees").log().alias("ln_l"),
        pl.col("real_capital").log().alias("ln_k"),
        pl.col("real_capital_use").log().alias("ln_k_use"),
        pl.col("real_materials").log().alias("ln_m"),
        pl.col("real_investment").log().alias("ln_inv"),
        pl.col("real_output").log().alias("ln_y"),
    )


def firm_year_exports(customs: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """Exports per ASIF firm-year from the customs parties linked to it.

    A firm with several customs parties in a year (rare) gets the sum of their values and
    the largest of their market and product counts (the union is not recoverable from
    party-year aggregates).
    """
    linked = customs.join(links.select("year", "party_code", "firm_id"), on=["year", "party_code"])
    return linked.group_by(["firm_id", "year"]).agg(
        pl.col("export_value").sum(),
        pl.col("n_markets").max(),
        pl.col("n_products").max(),
    )


def membership(links: pl.DataFrame, prefix: str = "") -> pl.DataFrame:
    """One row per member firm: earliest join year, its rating and membership years.

    ``links`` has firm_id, join_year, member_years, rating (one row per matched member);
    a firm matched by several member pages keeps the earliest join.
    """
    return (
        links.sort(["firm_id", "join_year", "member_id"])
        .group_by("firm_id", maintain_order=True)
        .agg(
            pl.col("join_year").first().alias(f"{prefix}join_year"),
            pl.col("member_years").first().alias(f"{prefix}member_years"),
            pl.col("rating").first().alias(f"{prefix}rating"),
        )
    )


def assemble_panel(
    panel: pl.DataFrame,
    exports: pl.DataFrame,
    alibaba: pl.DataFrame,
    mic: pl.DataFrame,
    deflators: pl.DataFrame,
    *,
    pim_delta: float,
    foreign_includes_hmt: bool,
    on_capital: Callable[[pl.DataFrame], None] | None = None,
    deflators_source: str = "deflators",
) -> pl.DataFrame:
    """The firm-year panel with real values, controls, exports and treatment.

    ``panel`` is the linked ASIF panel; its :data:`IDENTIFIERS` are dropped (the firm is
    ``firm_id`` from here on). ``on_capital`` gets the :func:`capital_counts` (to log them);
    ``deflators_source`` (the deflators' file) names a gap in them.
    Rows sorted by firm and year. The new columns are computed on the few columns each step
    reads and set beside the panel's (no join or sort copies the wide frame; a panel already
    sorted, as :func:`read_linked_panel` returns it, is not copied at all).
    """
    df = sort_firm_year(panel.drop(IDENTIFIERS, strict=False))
    df = deflate(df, deflators, deflators_source)
    df = perpetual_inventory(df, pim_delta, in_use=True, flags=True)
    if on_capital is not None:
        on_capital(capital_counts(df))
    df = df.drop("pim_start", "pim_rate")
    df = controls(df, foreign_includes_hmt)
    df = _beside(df, exports, ["firm_id", "year"])
    df = df.with_columns(
        pl.col("export_value").is_not_null().cast(pl.Int8).alias("customs_matched"),
        pl.when(pl.col("export_value") > 0).then(pl.col("export_value").log()).alias("ln_export"),
        pl.col("n_markets").fill_null(0),
        pl.col("n_products").fill_null(0),
        pl.when(pl.col("n_markets") > 0).then(pl.col("n_markets").log()).alias("ln_markets"),
        pl.when(pl.col("n_products") > 0).then(pl.col("n_products").log()).alias("ln_products"),
    )
    df = _beside(df, membership(alibaba), ["firm_id"])
    df = _beside(df, membership(mic, "mic_"), ["firm_id"])
    return df.with_columns(
        (pl.col("year") >= pl.col("join_year")).fill_null(False).cast(pl.Int8).alias("platform"),
        (pl.col("year") >= pl.col("mic_join_year"))
        .fill_null(False)
        .cast(pl.Int8)
        .alias("platform_mic"),
        pl.col("join_year").is_not_null().cast(pl.Int8).alias("ever_platform"),
        pl.when(pl.col("year") >= pl.col("join_year"))
        .then(pl.col("year") - pl.col("join_year") + 1)
        .alias("tenure"),
    )


def _beside(df: pl.DataFrame, right: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """A left join of ``right`` (unique on ``on``) onto ``df``, rows in ``df``'s order: the
    join runs on the key columns alone and its new columns are set beside ``df``'s (the
    wide frame is not copied)."""
    new = df.select(on).join(right, on=on, how="left", maintain_order="left")
    if new.height != df.height:
        raise AssertionError(f"join on {on} is not one-to-one: {df.height} -> {new.height}")
    return df.hstack(new.drop(on))

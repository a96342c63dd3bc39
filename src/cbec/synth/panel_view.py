"""The pipeline's firm-year panel of a simulated world, without the matching stages.

For recovery checks of the firm-level measures (tests, benchmarks): the world's ASIF books
(original and net fixed assets, book depreciation, blank in 2008–2010 as ASIF; value added,
materials, employment) of every firm-year in ASIF, put through the pipeline's own panel
steps (:func:`cbec.data.panel.deflate`, :func:`~cbec.data.panel.perpetual_inventory`,
:func:`~cbec.data.panel.controls`), with the firm's true identity as ``firm_id`` and the truth
(``u``, ``omega``, ``ln_k_true``, the industry's capital elasticity ``beta_k_true``; and
the true ``platform`` status, which the pipeline would get from the matched member lists)
alongside. No name or code noise, no cleaning: what it
checks is the estimators, not the links.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from cbec.data.panel import controls, deflate, perpetual_inventory

from .generator import simulate, streams
from .params import INDUSTRIES, YEARS, resolve_params
from .writer import DEPRECIATION_BLANK


def world_panel(
    n_firms_2001: int,
    seed: int,
    production: dict[str, Any],
    pim_delta: float = 0.09,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> pl.DataFrame:
    """Panel of a world with ``n_firms_2001`` firms in 2001 and the ``production``
    parameters overridden (e.g. ``materials_util_elasticity``, ``dep_theta``);
    ``overrides``: other sections' parameters, e.g. ``{"effects": {"tau_tfp": 0.0}}``."""
    cfg = {"presets": {"tiny": {"n_firms_2001": n_firms_2001}}, "production": production}
    for section, values in (overrides or {}).items():
        cfg[section] = {**cfg.get(section, {}), **values}
    p = resolve_params(cfg, "tiny")
    sim = simulate(p, seed, streams(seed))
    w, a = sim.world, sim.world.arr
    fi, ti = np.nonzero(w.in_asif)
    years = np.array(YEARS)[ti]

    def book(name: str) -> np.ndarray:
        return np.round(a[name][fi, ti])

    df = pl.DataFrame(
        {
            "firm_id": fi.astype(np.int64),
            "year": years.astype(np.int64),
            "ind2": np.array(INDUSTRIES)[w.firm["ind_idx"][fi]],
            "fixed_assets_orig": book("orig"),
            "fixed_assets_net": book("net"),
            "depreciation": np.where(np.isin(years, DEPRECIATION_BLANK), np.nan, book("dep_book")),
            "gross_output": book("GO"),
            "value_added": book("VA"),
            "intermediate": book("M"),
            "employees": a["L"][fi, ti],
            "total_assets": book("TA"),
            "found_year": w.firm["found_year"][fi],
            "paidin_capital": w.firm["paidin"][fi],
            "interest": book("interest"),
            "new_product": book("newprod"),
            # true platform status (no matching here: as if every member were matched)
            "platform": a["platform"][fi, ti].astype(np.int8),
            "u": a["u"][fi, ti],
            "omega": a["omega"][fi, ti],
            "ln_k_true": a["lnK"][fi, ti],
            "beta_k_true": np.array([sim.elasticities["beta_k"][i] for i in INDUSTRIES])[
                w.firm["ind_idx"][fi]
            ],
        }
    ).with_columns(pl.col("depreciation").fill_nan(None))
    df = df.with_columns(cap_state=pl.lit(0.0), cap_foreign=pl.lit(0.0), cap_hmt=pl.lit(0.0))
    df = perpetual_inventory(deflate(df, sim.deflators), pim_delta, in_use=True)
    return controls(df).sort("firm_id", "year")


def at_depreciation_level(d: pl.DataFrame, m: float, pim_delta: float = 0.09) -> pl.DataFrame:
    """A :func:`world_panel` whose ``ln_k_use`` and ``ln_k_use_dlevel`` are rebuilt with the
    book depreciation times ``m`` in the perpetual inventory: the in-use capital of a
    researcher whose accounts' level of depreciation is off by the factor m (the book rates,
    ``dep_rate``, unchanged)."""
    books = ["fixed_assets_orig", "fixed_assets_net", "capital_deflator", "depreciation"]
    pim = perpetual_inventory(
        d.select("firm_id", "year", "ind2", *books).with_columns(pl.col("depreciation") * m),
        pim_delta,
        in_use=True,
    )
    new = pim.select(
        "firm_id", "year", pl.col("real_capital_use").log().alias("ln_k_use"), "ln_k_use_dlevel"
    )
    return d.drop("ln_k_use", "ln_k_use_dlevel").join(
        new, on=["firm_id", "year"], how="left", maintain_order="left"
    )

"""Where the measured YJZ CU loses the headline effect: a ladder of outcome variants.

Each rung changes one ingredient of u_hat = min((δ_book / a)^(1/θ̂), cap) (a pinned by the
pipeline's normalization, per industry; ``measures.yjz.cap``, none by default) from the
synthetic world's truth to what the pipeline uses, and Table 2 column (2) is re-estimated
on each rung with the same sample, controls, fixed effects and clustering
(:func:`cbec.validation.bias_budget.stage_estimates`'s code path). Successive rungs
telescope from the same-specification oracle (true u, true links) to the pipeline's
estimate. The world's δ = a·u^θ is exact, so the rung built from the
true δ with the true θ differs from u only by the level normalization.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from cbec.measures.cu import level_ln_a

# (key, label, outcome column); the main path: the measures' cap (measures.yjz.cap; a step of
# 0 without one) applied after the last uncapped rung
MAIN = [
    ("oracle", "true u (same-specification oracle, true links)", "true_u"),
    ("norm", "(δ/a)^(1/θ): true δ, true θ, pipeline normalization, no cap", "r_norm"),
    ("theta_hat", "θ̂ (the industry's estimate) instead of θ, no cap", "r_theta"),
    ("book_year", "δ × the book year factor κ_t (noise-free book rate), no cap", "r_year"),
    (
        "book_level",
        "the same at the level a pinned on the observed (noisy) rate, no cap",
        "r_level",
    ),
    ("book", "observed book rate (noise, fully depreciated assets), no cap", "r_book"),
    ("cap", "the measures' cap, if any (= the measures' cu)", "r_book_measures"),
    ("winsor", "winsorized at 1 %/99 % (the sample's cu)", "cu"),
]
# the same rungs with a cap at 1 applied on each (how much such a cap costs at each step)
CAPPED = [
    ("oracle", "true u", "true_u"),
    ("norm", "true δ, true θ, normalization, capped", "r_norm_cap"),
    ("theta_hat", "θ̂, capped", "r_theta_cap"),
    ("book_year", "noise-free book rate, capped", "r_year_cap"),
    ("book_level", "noise-free book rate at the noisy rate's level, capped", "r_level_cap"),
    ("book", "observed book rate, capped at 1", "r_book_cap"),
]
# one ingredient of the cu capped at 1 (true links) made right at a time: what each fix alone
# would give (diagnostics, not a ladder)
ALONE = [
    ("theta", "θ instead of θ̂ (observed rate, capped)", "r_book_theta_cap"),
    ("level", "the noise-free rate's level a (observed rate, θ̂, capped)", "r_book_clean_a_cap"),
    ("noise", "no book noise at all (noise-free rate, θ̂, capped)", "r_year_cap"),
    ("cap", "no cap (observed rate, θ̂)", "r_book"),
    ("theta_cap", "θ and no cap (observed rate)", "r_book_theta"),
]


def year_factor(rows: pl.DataFrame) -> pl.DataFrame:
    """Per year, the median of ln(dep_rate / δ) over ``rows``: the world's book rate is δ
    times a year-common factor κ_t (book value at original cost) times noise, so this is
    ln κ_t up to a constant (which the normalization removes)."""
    return (
        rows.filter(pl.col("ln_dep").is_finite() & pl.col("ln_delta").is_finite())
        .group_by("year")
        .agg((pl.col("ln_dep") - pl.col("ln_delta")).median().alias("ln_kappa"))
    )


def levels(
    rows: pl.DataFrame,
    lnrate: str,
    theta: dict[str, float],
    norm: tuple[str, float, float],
    noise_var: float | None = None,
) -> dict[str, float]:
    """ln a per industry of ``lnrate`` (a log depreciation rate column of ``rows``: ind2,
    firm_id, year), pinned by the pipeline's ``norm`` (method, quantile, value) with the
    industry's θ (:func:`cbec.measures.cu.level_ln_a`; ``noise_var``: the book noise
    variance a ``deconvolved`` level removes)."""
    out = {}
    for (g,), d in rows.filter(pl.col(lnrate).is_finite()).group_by(["ind2"]):
        th = theta.get(str(g), float("nan"))
        if not np.isfinite(th):
            continue
        lnd = d[lnrate].to_numpy()
        ids, yrs = d["firm_id"].to_numpy(), d["year"].to_numpy()
        out[str(g)] = level_ln_a(lnd, th, norm[0], norm[1], norm[2], ids, yrs, noise_var)
    return out


def rung(df: pl.DataFrame, lnrate: str, theta: dict[str, float], ln_a: dict[str, float]):
    """exp((lnrate − ln a) / θ) per row (null where its industry has no θ or level)."""
    th = df["ind2"].cast(pl.String).replace_strict(theta, default=None, return_dtype=pl.Float64)
    la = df["ind2"].cast(pl.String).replace_strict(ln_a, default=None, return_dtype=pl.Float64)
    return ((df[lnrate] - la) / th).exp()


def add_rungs(
    sample: pl.DataFrame,
    rows: pl.DataFrame,
    theta_true: float,
    theta_hat: dict[str, float],
    norm: tuple[str, float, float],
    cap: float | None = None,
    noise_var: float | None = None,
) -> pl.DataFrame:
    """The rung columns of :data:`MAIN` and :data:`CAPPED` on ``sample`` (ind2, firm_id,
    year, ln_delta, ln_dep), each industry's level pinned on ``rows`` (the measures' rows
    of the panel, same columns), as the pipeline pins it; ``cap``: the measures' cap;
    ``noise_var``: the pipeline's book noise variance (rule book_noise), removed from the
    observed rate's level under ``deconvolved`` (the noise-free rates have none)."""
    kap = year_factor(rows)

    def with_year(d: pl.DataFrame) -> pl.DataFrame:
        return d.join(kap, on="year", how="left").with_columns(
            (pl.col("ln_delta") + pl.col("ln_kappa")).alias("ln_year")
        )

    rows, sample = with_year(rows), with_year(sample)
    true_th = dict.fromkeys(theta_hat, float(theta_true))
    specs = {
        "r_norm": ("ln_delta", true_th),
        "r_theta": ("ln_delta", theta_hat),
        "r_year": ("ln_year", theta_hat),
        "r_book": ("ln_dep", theta_hat),
        "r_book_theta": ("ln_dep", true_th),  # a diagnostic: the observed rate with θ
    }
    ln_a = {
        name: levels(rows, lnrate, th, norm, noise_var if lnrate == "ln_dep" else 0.0)
        for name, (lnrate, th) in specs.items()
    }
    # the noise-free rate with the level the noisy rate's quantile sets: the noise's cost
    # through the normalization alone (ln_year and ln_dep share their centre, the median)
    specs["r_level"], ln_a["r_level"] = ("ln_year", theta_hat), ln_a["r_book"]
    # a diagnostic: the observed rate at the noise-free rate's level (a perfect deconvolved
    # quantile: the level right, the noise still in every row)
    specs["r_book_clean_a"], ln_a["r_book_clean_a"] = ("ln_dep", theta_hat), ln_a["r_year"]
    cols = {}
    for name, (lnrate, th) in specs.items():
        v = rung(sample, lnrate, th, ln_a[name])
        cols[name] = v
        cols[f"{name}_cap"] = v.clip(None, 1.0)  # null stays null (min_horizontal gives 1)
    cols["r_book_measures"] = cols["r_book"] if cap is None else cols["r_book"].clip(None, cap)
    return sample.with_columns(**cols)


def ladder(estimates: dict[str, dict[str, Any]], path: list[tuple[str, str, str]]) -> dict:
    """The rungs of ``path`` (key, label, column) with their estimates (``estimates`` by
    column: b, se, t, nobs) and each rung's step from the previous one; the steps sum to the
    last rung minus the first."""
    rows = []
    for i, (key, label, col) in enumerate(path):
        e = estimates[col]
        prev = estimates[path[i - 1][2]]["b"] if i else None
        rows.append(
            {
                "rung": key,
                "label": label,
                "column": col,
                **e,
                "step": None if prev is None else e["b"] - prev,
            }
        )
    return {
        "rungs": rows,
        "gap": rows[-1]["b"] - rows[0]["b"],
        "sum_of_steps": float(sum(r["step"] for r in rows[1:])),
    }


def ladder_md(lad: dict, title: str) -> str:
    """A markdown table of :func:`ladder`'s rungs (estimate, s.e., step, mean of y)."""
    out = [
        f"**{title}**",
        "",
        "| rung | estimate | s.e. | step | mean of y |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in lad["rungs"]:
        step = "" if r["step"] is None else f"{r['step']:+.4f}"
        out.append(f"| {r['label']} | {r['b']:.4f} | {r['se']:.4f} | {step} | {r['ymean']:.3f} |")
    out.append(f"\nSum of steps {lad['sum_of_steps']:+.4f} = last − first {lad['gap']:+.4f}.")
    return "\n".join(out)

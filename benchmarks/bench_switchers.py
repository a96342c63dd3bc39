"""Could fewer within-firm switches give Table 2 column (2) the paper's t statistic?

    python benchmarks/bench_switchers.py RUN_DIR [--md OUT.md] [--seed 903]

RUN_DIR: a finished run (results/analysis/sample.parquet and the config.yaml it used).
Table 2 column (2) (cbec.config.headline_spec, the bias budget's regression path) is
re-estimated on the run's analysis sample changed the way two real features of the ASIF
files would change it, features the synthetic world does not have (docs/synthetic_world.md,
"How far precision can go"): the 2011 size threshold (firm-years from 2011 below a sales
quantile leave the files) and firm codes broken across 2008-2010 (a share of the firms seen
in both periods get a new code from 2011, so their joins during the gap become "always
treated"). Reported: the estimate, s.e., t, rows and the firms that switch platform status
inside the sample. The paper's t is 5.45. Nothing here is fitted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from cbec.config import headline_spec
from cbec.validation.bias_budget import first_coef

LATE = pl.col("year") >= 2011


def switchers(d: pl.DataFrame, treatment: str) -> int:
    """Firms whose treatment status changes inside the sample."""
    g = d.group_by("firm_id").agg(pl.col(treatment).n_unique().alias("k"))
    return g.filter(pl.col("k") > 1).height


def threshold(d: pl.DataFrame, q: float) -> pl.DataFrame:
    """Drop the firm-years from 2011 whose sales are below the q-quantile of those years
    (a firm-year without sales stays)."""
    cut = d.filter(LATE).get_column("sales").quantile(q)
    return d.filter(~LATE | (pl.col("sales") >= cut).fill_null(True))


def break_codes(d: pl.DataFrame, share: float, rng: np.random.Generator) -> pl.DataFrame:
    """A new firm code from 2011 for ``share`` of the firms seen before 2008 and after 2010."""
    both = (
        d.group_by("firm_id")
        .agg((pl.col("year") <= 2007).any().alias("a"), LATE.any().alias("b"))
        .filter(pl.col("a") & pl.col("b"))
        .get_column("firm_id")
        .sort()
        .to_numpy()
    )
    broken = rng.choice(both, int(round(share * both.size)), replace=False)
    new = pl.col("firm_id").cast(pl.String) + "_2011"
    return d.with_columns(
        pl.when(LATE & pl.col("firm_id").is_in(broken.tolist()))
        .then(new)
        .otherwise(pl.col("firm_id").cast(pl.String))
        .alias("firm_id")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--md", type=Path)
    ap.add_argument("--seed", type=int, default=903)
    a = ap.parse_args()
    spec = headline_spec(yaml.safe_load((a.run / "config.yaml").read_text()))
    y, d, ctrl = spec["depvar"], spec["treatment"], list(spec["controls"])
    cols = ["firm_id", "year", "sales", y, d, *ctrl, *{"ind2", "city_code"}]
    s = pl.read_parquet(a.run / "results/analysis/sample.parquet", columns=cols)
    s = s.drop_nulls(subset=[c for c in cols if c != "sales"])
    rng = np.random.default_rng(a.seed)
    variants = [("as built", s)]
    variants += [
        (f"2011 threshold: sales below p{int(q * 100)} leave", threshold(s, q)) for q in (0.3, 0.5)
    ]
    variants += [
        (
            f"codes broken across 2008-2010 for {int(sh * 100)} % of firms in both periods",
            break_codes(s, sh, rng),
        )
        for sh in (0.3, 0.6, 1.0)
    ]
    variants.append(
        ("both: p50 threshold and every code broken", break_codes(threshold(s, 0.5), 1.0, rng))
    )
    lines = [
        "| sample | rows | switching firms | estimate | s.e. | t |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, v in variants:
        r = first_coef(v, y, [d, *ctrl], list(spec["fixed_effects"]), spec["cluster"])
        lines.append(
            f"| {label} | {r['nobs']:,} | {switchers(v, d):,} | {r['b']:.4f} | {r['se']:.4f} | {r['t']:.1f} |"
        )
        print(lines[-1], flush=True)
    if a.md:
        a.md.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

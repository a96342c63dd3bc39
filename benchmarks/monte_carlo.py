"""Monte Carlo check of the whole estimation chain over many seeds of a small synthetic world.

    python benchmarks/monte_carlo.py [--seeds 50] [--scenario static|dynamic] [--jobs 2]

For each seed the complete workflow runs in its own scratch copy (synthetic raw files ->
cleaning, linking, matching -> measures -> analysis sample -> Table 2 and Table 8), with
``seed`` set in the config and the ``tiny`` preset. From every run it keeps Table 2 column (2)
(the paper's TWFE with controls) and the ATT of each Table 8 estimator (dynamic TWFE,
Sun-Abraham, did2s, static TWFE), and the truth of that world (``resources/truth/params.json``).

Scenarios: ``static`` is the default world (``calibrate_to: twfe``: the paper's TWFE on the true
utilization equals the planted 0.09; effects vary with ICT, tenure and rating dummies only);
``dynamic`` adds ``dynamic_slope: 0.02`` (the effect grows by 0.02 per year of membership) with
``calibrate_to: att`` (the realized average effect on the treated is 0.09), where a static TWFE
coefficient is a badly weighted average.

Output (``--out``, default ``benchmarks/results``): ``monte_carlo_<scenario>.csv`` (one row per
seed and estimator; resumable: seeds already there are skipped) and ``monte_carlo_<scenario>.md``
(bias, s.d., mean s.e., RMSE and 95 % coverage against the planted 0.09 and against the
world's realized ATT). Progress is printed per seed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ["Snakefile", "config.yaml", "rules", "scripts", "schemas", "profiles", "envs"]
TARGETS = ["results/estimates/table2.json", "results/estimates/table8.json"]
PLANTED = 0.09
SCENARIOS = {
    "static": {},
    "dynamic": {"effects": {"dynamic_slope": 0.02, "calibrate_to": "att"}},
}


def _config(seed: int, scenario: str) -> dict:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    cfg["seed"] = seed
    cfg["preset"] = "tiny"
    syn = cfg.setdefault("synthetic", {}) or {}
    for key, val in SCENARIOS[scenario].items():
        syn[key] = {**(syn.get(key) or {}), **val}
    cfg["synthetic"] = syn
    return cfg


def run_seed(seed: int, scenario: str, scratch: Path, cores: int) -> list[dict]:
    """Run the workflow for one seed; return one row per estimator."""
    wd = scratch / f"{scenario}_{seed}"
    shutil.rmtree(wd, ignore_errors=True)
    wd.mkdir(parents=True)
    for name in WORKFLOW:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, wd / name)
    (wd / "config.yaml").write_text(
        yaml.safe_dump(_config(seed, scenario), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        str(cores),
        "--quiet",
        "all",
        "--",
        *TARGETS,
    ]
    proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"seed {seed}: workflow failed\n{proc.stderr[-3000:]}")
    truth = json.loads((wd / "resources/truth/params.json").read_text())
    cal = truth["calibration"]["utilization"]
    t2 = json.loads((wd / TARGETS[0]).read_text())
    t8 = json.loads((wd / TARGETS[1]).read_text())
    rows = []
    col = t2["columns"][1]
    rows.append(_row(seed, "table2_twfe", col["coef"]["platform"], col["stats"]["n_clusters"]))
    for c in t8["columns"]:
        att = c["coef"].get("att") or c["coef"].get("post_treat") or {}
        if att.get("b") is None:
            continue
        rows.append(_row(seed, c["estimator"], att, c["stats"]["n_clusters"]))
    for r in rows:
        r.update(
            realized_att=float(cal["realized_att_alibaba"]),
            oracle_twfe=float(cal["oracle_twfe_alibaba"]),
            nobs_sample=int(col["nobs"]),
        )
    shutil.rmtree(wd, ignore_errors=True)
    return rows


def _row(seed: int, estimator: str, coef: dict, n_clusters: int) -> dict:
    from scipy import stats

    b, se = float(coef["b"]), float(coef["se"])
    q = float(stats.t.ppf(0.975, max(int(n_clusters) - 1, 1)))
    return {
        "seed": seed,
        "estimator": estimator,
        "b": b,
        "se": se,
        "lo": b - q * se,
        "hi": b + q * se,
    }


def summarize(df: pl.DataFrame) -> pl.DataFrame:
    """Bias, s.d., mean s.e., RMSE and coverage per estimator (vs planted 0.09 and realized ATT)."""
    return (
        df.group_by("estimator")
        .agg(
            pl.len().alias("seeds"),
            pl.col("b").mean().alias("mean"),
            (pl.col("b") - PLANTED).mean().alias("bias_planted"),
            (pl.col("b") - pl.col("realized_att")).mean().alias("bias_att"),
            pl.col("b").std().alias("sd"),
            pl.col("se").mean().alias("mean_se"),
            ((pl.col("b") - PLANTED) ** 2).mean().sqrt().alias("rmse_planted"),
            pl.lit(PLANTED).is_between(pl.col("lo"), pl.col("hi")).mean().alias("cover_planted"),
            pl.col("realized_att").is_between(pl.col("lo"), pl.col("hi")).mean().alias("cover_att"),
            pl.col("realized_att").mean().alias("mean_realized_att"),
        )
        .sort("estimator")
    )


def to_markdown(summary: pl.DataFrame, scenario: str) -> str:
    cols = summary.columns
    lines = [
        f"# Monte Carlo: scenario `{scenario}` (tiny preset, planted effect {PLANTED})",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for row in summary.iter_rows():
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), default="static")
    ap.add_argument("--jobs", type=int, default=2, help="workflows run at the same time")
    ap.add_argument("--cores", type=int, default=1, help="cores per workflow")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--scratch", type=Path, default=ROOT / ".monte_carlo")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    csv = a.out / f"monte_carlo_{a.scenario}.csv"
    done = pl.read_csv(csv) if csv.exists() else None
    have = set(done["seed"].to_list()) if done is not None else set()
    seeds = [s for s in range(a.first_seed, a.first_seed + a.seeds) if s not in have]
    print(f"{a.scenario}: {len(have)} seeds done, {len(seeds)} to run", flush=True)
    t0 = time.perf_counter()
    failed: list[int] = []
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futs = {pool.submit(run_seed, s, a.scenario, a.scratch, a.cores): s for s in seeds}
        for i, fut in enumerate(as_completed(futs), start=1):
            try:
                rows = fut.result()
            except RuntimeError as err:  # a failed world is reported, never silently dropped
                failed.append(futs[fut])
                print(f"[{i}/{len(seeds)}] {err}", flush=True)
                (a.out / f"monte_carlo_{a.scenario}_failed.txt").write_text(
                    "".join(f"{s}\n" for s in sorted(failed)), encoding="utf-8"
                )
                continue
            new = pl.DataFrame(rows)
            done = new if done is None else pl.concat([done, new], how="vertical_relaxed")
            done.sort("seed", "estimator").write_csv(csv)
            t2 = next(r for r in rows if r["estimator"] == "table2_twfe")
            print(
                f"[{i}/{len(seeds)}] seed {futs[fut]}: Table 2 (2) {t2['b']:.4f} "
                f"(s.e. {t2['se']:.4f}), realized ATT {t2['realized_att']:.4f}; "
                f"{time.perf_counter() - t0:.0f} s elapsed",
                flush=True,
            )
    if done is None:
        return 1
    md = to_markdown(summarize(done), a.scenario)
    if failed:
        md += f"\nSeeds whose workflow failed (not in the table): {sorted(failed)}\n"
    (a.out / f"monte_carlo_{a.scenario}.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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
coefficient is a badly weighted average. Held-out worlds (issue 12: the pipeline must recover
the oracle in worlds it was not tuned to; nothing in the pipeline was set on them):
``neg_interactions`` (a smaller effect, 0.06, with negative ICT, tenure and rating
interactions), ``theta15`` / ``theta3`` (depreciation elasticity ``dep_theta`` 1.5 / 3 instead of
2), ``noisy_names`` (every member-listing and customs-name noise probability doubled);
added after every default was chosen: ``effect12`` (a larger effect, 0.12) and ``noisy_books``
(book depreciation noise ``sd_book_dep`` 0.25 instead of 0.15).
``--preset paper`` runs the paper-size world (about 230,000 firm-years in the sample, about
4 minutes a seed on 2 cores) instead of ``tiny``.

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

from cbec.synth.params import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ["Snakefile", "config.yaml", "rules", "scripts", "schemas", "profiles", "envs"]
TARGETS = [
    "results/estimates/table2.json",
    "results/estimates/table8.json",
    "results/validation/oracle_tables.json",
]
PLANTED = 0.09
# every name-noise probability of the world (unmatchable_share, a member renamed beyond
# recognition, stays: doubling it moves what any matcher can find, not the matcher's task)
_NAME_NOISE = {k: v for k, v in DEFAULTS["names"].items() if k != "unmatchable_share"}
SCENARIOS = {
    "static": {},
    "dynamic": {"effects": {"dynamic_slope": 0.02, "calibrate_to": "att"}},
    "neg_interactions": {
        "effects": {"tau_cu": 0.06, "tau_ict": -0.03, "tau_old": -0.02, "tau_score": -0.01}
    },
    "theta15": {"production": {"dep_theta": 1.5}},
    "theta3": {"production": {"dep_theta": 3.0}},
    "noisy_names": {"names": {k: min(1.0, 2 * v) for k, v in _NAME_NOISE.items()}},
    # added 2026-12-03, after the defaults were chosen (held-out worlds in the strict sense)
    "effect12": {"effects": {"tau_cu": 0.12}},
    "noisy_books": {"production": {"sd_book_dep": 0.25}},
}


def planted(scenario: str) -> float:
    """The planted CU effect of a scenario (``tau_cu``, default 0.09)."""
    return float(SCENARIOS[scenario].get("effects", {}).get("tau_cu", PLANTED))


def _config(
    seed: int, scenario: str, preset: str = "tiny", overrides: dict[str, object] | None = None
) -> dict:
    """config.yaml with the seed, preset and scenario, and ``overrides`` (dotted key: value,
    e.g. ``measures.yjz.cap``: None) set."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    cfg["seed"] = seed
    cfg["preset"] = preset
    syn = cfg.setdefault("synthetic", {}) or {}
    for key, val in SCENARIOS[scenario].items():
        syn[key] = {**(syn.get(key) or {}), **val}
    cfg["synthetic"] = syn
    for dotted, val in (overrides or {}).items():
        *path, last = dotted.split(".")
        node = cfg
        for k in path:
            node = node.setdefault(k, {})
        node[last] = val
    return cfg


def parse_override(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` of ``--set`` (dotted key, YAML value: ``measures.yjz.cap=null``)."""
    key, sep, val = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set wants KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(val)


def run_seed(
    seed: int,
    scenario: str,
    scratch: Path,
    cores: int,
    preset: str = "tiny",
    overrides: dict[str, object] | None = None,
    tag: str = "",
) -> list[dict]:
    """Run the workflow for one seed; return one row per estimator."""
    wd = scratch / f"{scenario}_{preset}{tag}_{seed}"
    shutil.rmtree(wd, ignore_errors=True)
    wd.mkdir(parents=True)
    for name in WORKFLOW:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, wd / name)
    (wd / "config.yaml").write_text(
        yaml.safe_dump(
            _config(seed, scenario, preset, overrides), allow_unicode=True, sort_keys=False
        ),
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
    ora = json.loads((wd / TARGETS[2]).read_text())
    rows = []
    col = t2["columns"][1]
    rows.append(_row(seed, "table2_twfe", col["coef"]["platform"], col["stats"]["n_clusters"]))
    # Table 2 (2)'s own oracle: the same specification (controls included) on the true data,
    # and on the true outcome with our platform links (cbec.validation.oracle)
    rows[0].update(
        oracle_spec=_oracle_b(ora, "tables"), oracle_outcome=_oracle_b(ora, "tables_true_outcome")
    )
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


def _oracle_b(oracle: dict, key: str) -> float | None:
    cols = ((oracle.get(key) or {}).get("table2") or {}).get("columns") or []
    coef = cols[1]["coef"].get("platform") if len(cols) > 1 else None
    return None if coef is None else float(coef["b"])


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


def summarize(df: pl.DataFrame, tau: float = PLANTED) -> pl.DataFrame:
    """Bias, s.d., mean s.e., RMSE and coverage per estimator against the planted ``tau``, the
    world's realized ATT and its oracle TWFE (the paper's TWFE on the true data); ``ok_oracle``
    is the share of seeds with the estimate within 10 % of the oracle or the oracle inside the
    95 % interval (issue 12's criterion for Table 2 column (2)); ``bias_spec`` / ``ok_spec`` the
    same against Table 2 (2)'s same-specification oracle (controls included), where recorded."""
    b, oracle = pl.col("b"), pl.col("oracle_twfe")
    for extra in ("oracle_spec", "oracle_outcome"):  # Table 2 (2) only; older CSVs lack them
        if extra not in df.columns:
            df = df.with_columns(pl.lit(None, pl.Float64).alias(extra))
    spec = pl.col("oracle_spec")

    def near(o: pl.Expr) -> pl.Expr:
        return ((b - o).abs() <= 0.1 * o.abs()) | o.is_between(pl.col("lo"), pl.col("hi"))

    return (
        df.group_by("estimator")
        .agg(
            pl.len().alias("seeds"),
            b.mean().alias("mean"),
            (b - tau).mean().alias("bias_planted"),
            (b - pl.col("realized_att")).mean().alias("bias_att"),
            (b - oracle).mean().alias("bias_oracle"),
            b.std().alias("sd"),
            pl.col("se").mean().alias("mean_se"),
            ((b - tau) ** 2).mean().sqrt().alias("rmse_planted"),
            pl.lit(tau).is_between(pl.col("lo"), pl.col("hi")).mean().alias("cover_planted"),
            pl.col("realized_att").is_between(pl.col("lo"), pl.col("hi")).mean().alias("cover_att"),
            oracle.is_between(pl.col("lo"), pl.col("hi")).mean().alias("cover_oracle"),
            near(oracle).mean().alias("ok_oracle"),
            (b - spec).mean().alias("bias_spec"),
            near(spec).mean().alias("ok_spec"),
            pl.col("realized_att").mean().alias("mean_realized_att"),
            oracle.mean().alias("mean_oracle"),
        )
        .sort("estimator")
    )


def to_markdown(summary: pl.DataFrame, scenario: str, preset: str = "tiny") -> str:
    cols = summary.columns
    lines = [
        f"# Monte Carlo: scenario `{scenario}` ({preset} preset, planted effect {planted(scenario)})",
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
    ap.add_argument("--preset", choices=["tiny", "paper"], default="tiny")
    ap.add_argument("--jobs", type=int, default=2, help="workflows run at the same time")
    ap.add_argument("--cores", type=int, default=1, help="cores per workflow")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--scratch", type=Path, default=ROOT / ".monte_carlo")
    ap.add_argument(
        "--set",
        type=parse_override,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config value for every run (dotted key, YAML value), e.g. measures.yjz.cap=null",
    )
    ap.add_argument("--tag", default="", help="appended to the output names (with --set)")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    tag = f"_{a.tag}" if a.tag else ""
    stem = f"monte_carlo_{a.scenario}" + ("" if a.preset == "tiny" else f"_{a.preset}") + tag
    overrides = dict(a.set)
    csv = a.out / f"{stem}.csv"
    done = pl.read_csv(csv) if csv.exists() else None
    have = set(done["seed"].to_list()) if done is not None else set()
    seeds = [s for s in range(a.first_seed, a.first_seed + a.seeds) if s not in have]
    print(f"{a.scenario}: {len(have)} seeds done, {len(seeds)} to run", flush=True)
    t0 = time.perf_counter()
    failed: list[int] = []
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futs = {
            pool.submit(run_seed, s, a.scenario, a.scratch, a.cores, a.preset, overrides, tag): s
            for s in seeds
        }
        for i, fut in enumerate(as_completed(futs), start=1):
            try:
                rows = fut.result()
            except RuntimeError as err:  # a failed world is reported, never silently dropped
                failed.append(futs[fut])
                print(f"[{i}/{len(seeds)}] {err}", flush=True)
                (a.out / f"{stem}_failed.txt").write_text(
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
    md = to_markdown(summarize(done, planted(a.scenario)), a.scenario, a.preset)
    if overrides:
        md += "\nConfig set for every run: " + ", ".join(
            f"`{k}: {v}`" for k, v in overrides.items()
        )
        md += "\n"
    if failed:
        md += f"\nSeeds whose workflow failed (not in the table): {sorted(failed)}\n"
    (a.out / f"{stem}.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Recovery of the planted effects by the paper's tables, on a finished synthetic run.

    python benchmarks/bench_tables.py RUN_DIR [--json OUT]

Reads ``RUN_DIR/results/estimates/table*.json`` and the truth's ``params.json`` and prints,
for each check of the tables issue, the estimate, its 95 % confidence interval and PASS/FAIL:
the planted platform effect on CU inside the intervals of Table 2 column (2), both 2SLS
estimates and the matched-sample estimates; mechanism coefficients with the planted signs;
pooled OLS without firm effects above the fixed-effects estimate (selection on productivity).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

Z = 1.959963984540054


def _coef(col: dict, name: str = "platform") -> tuple[float, float] | None:
    c = col["coef"].get(name)
    return None if c is None else (c["b"], c["se"])


def checks(run: Path) -> list[dict]:
    est = {
        p.stem: json.loads(p.read_text())
        for p in sorted((run / "results" / "estimates").glob("table*.json"))
    }
    params = json.loads((run / "resources" / "truth" / "params.json").read_text())
    tau = params["planted_effects"]["tau_cu"]
    out: list[dict] = []

    def inside(label: str, col: dict, truth: float) -> None:
        bs = _coef(col)
        if bs is None:
            out.append({"check": label, "estimate": None, "ok": False})
            return
        b, se = bs
        lo, hi = b - Z * se, b + Z * se
        out.append(
            {"check": label, "estimate": b, "ci": [lo, hi], "truth": truth, "ok": lo <= truth <= hi}
        )

    t2 = est["table2"]["columns"]
    inside("Table 2 (2): planted effect in the 95% CI", t2[1], tau)
    ci = t2[1]["stats"].get("wild_ci")
    if ci:
        out.append(
            {
                "check": "Table 2 (2): planted effect in the wild-bootstrap CI",
                "estimate": t2[1]["coef"]["platform"]["b"],
                "ci": ci,
                "truth": tau,
                "ok": ci[0] <= tau <= ci[1],
            }
        )
    if len(t2) > 2:
        fe, pooled = t2[1]["coef"]["platform"]["b"], t2[2]["coef"]["platform"]["b"]
        out.append(
            {
                "check": "pooled OLS (no firm FE) above the FE estimate",
                "estimate": pooled,
                "fe": fe,
                "ok": pooled > fe + 0.01,
            }
        )
    for col in est["table5"]["columns"]:
        if col["estimator"] == "iv2sls":
            label = f"Table 5 {col['label']} 2SLS ({col.get('header', '')}): planted effect in CI"
            inside(label, col, tau)
            out[-1]["kp_wald_f"] = col["stats"].get("kp_wald_f")
    for col in est["table4"]["columns"]:
        inside(f"Table 4 {col['label']} {col.get('header', '')}: planted effect in CI", col, tau)
    for col in est["table6"]["columns"]:
        bs = _coef(col)
        out.append(
            {
                "check": f"Table 6 {col['depvar']}: positive (planted sign)",
                "estimate": bs[0] if bs else None,
                "ok": bool(bs and bs[0] > 0),
            }
        )
    for col in est["table7"]["columns"]:
        inter = [k for k in col["coef"] if k.startswith("platform:")]
        for k in inter:
            b = col["coef"][k]["b"]
            out.append({"check": f"Table 7 {k}: positive (planted)", "estimate": b, "ok": b > 0})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    res = checks(args.run)
    for r in res:
        ci = r.get("ci")
        ci_s = f" CI [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""
        est = "n/a" if r.get("estimate") is None else f"{r['estimate']:.4f}"
        extra = f" (KP Wald F {r['kp_wald_f']:.1f})" if r.get("kp_wald_f") is not None else ""
        print(f"{'PASS' if r['ok'] else 'FAIL'}  {r['check']}: {est}{ci_s}{extra}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

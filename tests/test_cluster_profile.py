"""The SLURM profile's per-rule resources (profiles/slurm/config.yaml) against the workflow's
rules and the measured benchmarks (benchmarks/results/scaling.md). No cluster needed; see
docs/cluster.md "Sizing"."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from helpers import ROOT

PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"
SCALING = ROOT / "benchmarks" / "results" / "scaling.md"
TABLES = list(yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))["tables"]["specs"])
# wildcards of the rules whose profile entry reads them
WILDCARDS = {"table": [{"table": t} for t in TABLES]}


def workflow_rules(root: Path = ROOT) -> set[str]:
    """Names of the rules declared in the Snakefile and rules/*.smk."""
    files = [root / "Snakefile", *sorted((root / "rules").glob("*.smk"))]
    return {
        m for f in files for m in re.findall(r"^rule (\w+):", f.read_text(encoding="utf-8"), re.M)
    }


def local_rules(root: Path = ROOT) -> set[str]:
    """The Snakefile's `localrules:` (run on the submitting node, never as SLURM jobs)."""
    text = (root / "Snakefile").read_text(encoding="utf-8")
    block = re.search(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", text, re.M)
    assert block, "no localrules: block in the Snakefile"
    return set(re.findall(r"\w+", block.group(1)))


def evaluate(expr: object, attempt: int, wildcards: dict[str, str] | None = None) -> object:
    """A profile resource value as Snakemake evaluates it (a Python expression of `attempt`
    and `wildcards`; Snakemake keeps an expression that fails with NameError as a string)."""
    namespace = {"attempt": attempt, "wildcards": SimpleNamespace(**(wildcards or {}))}
    try:
        return eval(str(expr), namespace)  # noqa: S307 - the profile's own expressions
    except (NameError, SyntaxError):
        return str(expr)


def full_preset_peaks(text: str) -> dict[str, int]:
    """Peak memory (MB) of each benchmark's largest job in scaling.md's per-rule table: the
    largest over its full-preset columns (``full MB``, ``full+rv MB``: full + real-volume
    customs), found by their headers."""
    lines = text.splitlines()
    head = next(
        i
        for i, ln in enumerate(lines)
        if ln.startswith("| rule |") and re.search(r"\| full(\+\w+)? MB \|", ln)
    )
    cols = [c.strip() for c in lines[head].strip("|").split("|")]
    full = [i for i, c in enumerate(cols) if re.fullmatch(r"full(\+\w+)? MB", c)]
    peaks: dict[str, int] = {}
    for line in lines[head + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        mbs = [int(cells[i]) for i in full if re.fullmatch(r"\d+", cells[i])]
        if re.fullmatch(r"\w+", cells[0]) and mbs:
            peaks[cells[0]] = max(mbs)
    return peaks


def rule_of(benchmark: str, rules: set[str]) -> str | None:
    """The rule a benchmark file belongs to (table2 -> table, match_platform_mic ->
    match_platform), or None for a benchmark of no current rule."""
    if benchmark in rules:
        return benchmark
    if benchmark in TABLES:
        return "table"
    stem = benchmark.rsplit("_", 1)[0]
    return stem if stem in rules else None


@pytest.fixture(scope="module")
def profile() -> dict:
    return yaml.safe_load(PROFILE.read_text(encoding="utf-8"))


def test_every_profile_rule_exists(profile):
    missing = set(profile["set-resources"]) - workflow_rules()
    assert not missing, f"set-resources in {PROFILE.name} names no rule of the workflow: {missing}"
    assert not set(profile["set-resources"]) & local_rules(), "a local rule is never a SLURM job"


def test_resources_are_integers_scaled_by_attempt(profile):
    entries = {"default-resources": profile["default-resources"], **profile["set-resources"]}
    for rule, resources in entries.items():
        for wc in WILDCARDS.get(rule, [{}]):
            for key in ("mem_mb", "runtime"):
                assert key in resources, f"{rule}: no {key}"
                values = [evaluate(resources[key], a, wc) for a in (1, 2, 3)]
                assert all(isinstance(v, int) and v > 0 for v in values), (rule, wc, key, values)
                assert values[0] < values[1] < values[2], f"{rule} {key} not scaled by attempt"


def test_rules_measured_above_the_default_have_an_entry(profile):
    default = evaluate(profile["default-resources"]["mem_mb"], 1)
    peaks = full_preset_peaks(SCALING.read_text(encoding="utf-8"))
    assert len(peaks) >= 20, f"could not read the full-preset column of {SCALING.name}"
    rules, local = workflow_rules(), local_rules()
    heavy = {rule_of(b, rules) for b, mb in peaks.items() if mb > default} - {None}
    unsized = heavy - set(profile["set-resources"]) - local
    assert not unsized, (
        f"measured above {default} MB on the full preset, no set-resources: {unsized}"
    )
    assert {"build_panel", "table", "synthesize"} <= heavy


def test_rule_names_are_read_from_the_workflow(tmp_path):
    # the helpers see a renamed rule, so the checks above fail when one is renamed
    (tmp_path / "rules").mkdir()
    (tmp_path / "Snakefile").write_text("localrules:\n    all,\n    tfp,\n\n\nrule all:\n")
    (tmp_path / "rules" / "x.smk").write_text("rule make_panel:\n    output:\n")
    assert workflow_rules(tmp_path) == {"all", "make_panel"}
    assert local_rules(tmp_path) == {"all", "tfp"}
    assert evaluate("{'a': 2}.get(wildcards.table, 1) * attempt", 3, {"table": "a"}) == 6
    assert evaluate("1000 * atempt", 1) == "1000 * atempt"


def test_full_preset_peaks_read_by_header():
    # the columns are found by their headers, whatever runs stand before or after them
    text = (
        "| rule | tiny s (largest job) | tiny MB | full s (largest job) | full MB "
        "| full+rv s (largest job) | full+rv MB | other MB |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
        "| a | 1 (1) | 2 | 3 (3) | 40 | 5 (5) | 60 | 900 |\n| b | 1 (1) | 700 |  |  | 5 (5) | 6 | 1 |\n"
        "| **sum of job times / peak job memory** | 1 | 2 | 3 | 4 | 5 | 6 | 7 |\n\n| c | 8 |\n"
    )
    assert full_preset_peaks(text) == {"a": 60, "b": 6}

"""One table builds alone: its DAG holds only what it needs."""

from __future__ import annotations

import re

from helpers import copy_workflow, run_snakemake


def test_table5_alone(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    proc = run_snakemake(wd, "-n", "results/tables/table5.tex")
    out = proc.stdout + proc.stderr
    stats = out.split("Job stats:", 1)[1].split("total", 1)[0]
    jobs = set(re.findall(r"^([a-z_0-9]+)\s+\d+\s*$", stats, flags=re.M))
    assert {"table", "analysis_sample", "cu", "tfp", "synthesize"} <= jobs
    assert not jobs & {"report", "figures", "calibration"}
    assert set(re.findall(r"^\s*wildcards: table=(\w+)\s*$", out, flags=re.M)) == {"table5"}

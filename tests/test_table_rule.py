"""One rule builds every table; editing one table's spec reruns only that table."""

from __future__ import annotations

import copy
import re

import numpy as np
import polars as pl
import yaml
from helpers import copy_workflow, run_snakemake

TARGETS = ["results/tables/table1.md", "results/tables/table9.md"]
# only the table rule: the (fake) analysis sample counts as a source file
ARGS = (*TARGETS, "--allowed-rules", "table", "--config", "preset=tiny")


def _fake_sample(path, variables: list[str]) -> None:
    """A small analysis sample with the variables of a descriptive table."""
    rng = np.random.default_rng(0)
    n = 200
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {"firm_id": np.arange(n) % 40, **{v: rng.normal(size=n) for v in variables}}
    ).write_parquet(path)


def _table_jobs(proc) -> list[str]:
    """The tables a dry run would rebuild."""
    return sorted(re.findall(r"^\s*wildcards: table=(\w+)\s*$", proc.stdout, flags=re.M))


def test_editing_one_spec_reruns_only_that_table(tmp_path, base_config):
    config = copy.deepcopy(base_config)
    specs = config["tables"]["specs"]
    specs["table9"] = dict(specs["table1"], title="Table 1 again")
    wd = copy_workflow(tmp_path / "wf", config)
    _fake_sample(wd / "results/analysis/sample.parquet", specs["table1"]["variables"])
    run_snakemake(wd, *ARGS)
    assert _table_jobs(run_snakemake(wd, "-n", *ARGS)) == []

    specs["table9"]["title"] = "Table 1 again, retitled"
    (wd / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    assert _table_jobs(run_snakemake(wd, "-n", *ARGS)) == ["table9"]

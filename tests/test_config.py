"""Configuration validation: a wrong config stops before any job, naming the key."""

from __future__ import annotations

import copy

import pytest
from helpers import copy_workflow, run_snakemake

from cbec.config import analysis_years, validate_config
from cbec.errors import ConfigError


def test_default_config_is_valid(base_config):
    validate_config(copy.deepcopy(base_config))
    assert 2008 not in analysis_years(base_config)
    assert len(analysis_years(base_config)) == 12


def _mutate(cfg, path, value):
    node = cfg
    for k in path[:-1]:
        node = node[k]
    if value is KeyError:
        node.pop(path[-1])
    else:
        node[path[-1]] = value
    return cfg


@pytest.mark.parametrize(
    "path,value,key,phrase",
    [
        (["preset"], "huge", "preset", "is not one of"),
        (["seeed"], 1, "seeed", "unknown key"),
        (["cleaning", "min_employees"], -3, "cleaning.min_employees", "minimum"),
        (["years", "first"], 1998, "years.first", "minimum"),
        (["years", "last"], 2016, "years.last", "maximum"),
        (["inputs", "asif"], "data/asif.parquet", "inputs.asif", "does not match"),
        (["seed"], KeyError, "seed", "missing"),
        (["cleaning", "min_employes"], 8, "cleaning.min_employes", "unknown key"),
        (["measures", "sfa_inputs"], ["ln_k", "ln_x"], "measures.sfa_inputs.1", "is not one of"),
        (["measures", "sfa_output"], "sales", "measures.sfa_output", "is not one of"),
        (
            ["tables", "specs", "table8", "window"],
            KeyError,
            "tables.specs.table8.window",
            "missing",
        ),
        (
            ["tables", "specs", "table8", "kind"],
            "events",
            "tables.specs.table8.kind",
            "is not one of",
        ),
        (["extensions", "event_study"], {}, "extensions.event_study", "unknown key"),
    ],
)
def test_bad_config_names_key(base_config, path, value, key, phrase):
    cfg = _mutate(copy.deepcopy(base_config), path, value)
    with pytest.raises(ConfigError) as ei:
        validate_config(cfg)
    msg = str(ei.value)
    assert f"key '{key}'" in msg and phrase in msg


def test_years_order(base_config):
    cfg = copy.deepcopy(base_config)
    cfg["years"].update(first=2010, last=2005)
    with pytest.raises(ConfigError, match="years.first"):
        validate_config(cfg)


def test_snakemake_stops_before_any_job(tmp_path, base_config):
    cfg = _mutate(copy.deepcopy(base_config), ["preset"], "huge")
    wd = copy_workflow(tmp_path / "wf", cfg)
    proc = run_snakemake(wd, "-n", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "key 'preset'" in out
    assert not (wd / "resources").exists() and not (wd / "results").exists()

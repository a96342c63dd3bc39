"""Configuration validation: a wrong config stops before any job, naming the key."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from helpers import copy_workflow, run_snakemake

from cbec.config import (
    SCHEMA_DIR,
    all_years,
    analysis_years,
    apply_defaults,
    type_command_line,
    validate_config,
    year_input,
)
from cbec.errors import ConfigError
from cbec.industries import CIC_MANUFACTURING
from cbec.synth.params import INDUSTRIES, PRESETS, resolve_params


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
        (
            ["inputs", "customs_by_year"],
            {2003: "data/customs_2003.xlsx"},
            "inputs.customs_by_year.2003",
            "does not match",
        ),
        (
            ["inputs", "customs_by_year"],
            {2016: "data/customs_2016.csv"},
            "inputs.customs_by_year.2016",
            "not a year of years.first..years.last",
        ),
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
        (["measures", "industries"], ["13", "3"], "measures.industries.1", "does not match"),
        (
            ["synthetic", "presets"],
            {"huge": {"n_firms_2001": 9}},
            "synthetic.presets",
            "not one of",
        ),
        (
            ["synthetic", "presets"],
            {"tiny": {"n_firms_2001": 5}},
            "synthetic.presets.tiny.n_firms_2001",
            "minimum",
        ),
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


def test_config_repeats_no_default(base_config):
    """The preset sizes live in src/cbec/synth/params.py and the industry list in
    src/cbec/industries.py; config.yaml may override them but does not copy them."""
    for name, spec in base_config["synthetic"].get("presets", {}).items():
        assert spec != PRESETS[name], f"synthetic.presets.{name} repeats params.py"
    assert base_config["measures"].get("industries") != list(CIC_MANUFACTURING)


def test_preset_names_are_params_presets():
    schema = yaml.safe_load((SCHEMA_DIR / "config.schema.yaml").read_text(encoding="utf-8"))
    assert schema["properties"]["preset"]["enum"] == list(PRESETS)


def test_preset_size_override(base_config):
    cfg = copy.deepcopy(base_config)
    cfg["synthetic"]["presets"] = {"tiny": {"n_firms_2001": 2000}}
    validate_config(cfg)
    assert resolve_params(cfg["synthetic"], "tiny")["n_firms_2001"] == 2000
    paper = PRESETS["paper"]["n_firms_2001"]
    assert resolve_params(base_config["synthetic"], "paper")["n_firms_2001"] == paper


def test_default_industries_are_the_synthetic_worlds(base_config):
    cfg = apply_defaults(validate_config(copy.deepcopy(base_config)))
    assert cfg["measures"]["industries"] == INDUSTRIES == list(CIC_MANUFACTURING)
    assert len(INDUSTRIES) == 30 and "38" not in INDUSTRIES


def test_researcher_industries_are_kept(base_config):
    cfg = copy.deepcopy(base_config)
    cfg["measures"]["industries"] = ["06", "13", "44"]
    assert apply_defaults(validate_config(cfg))["measures"]["industries"] == ["06", "13", "44"]


def test_a_bad_key_is_blamed_on_the_file_it_came_from(tmp_path, base_config):
    main = tmp_path / "config.yaml"
    override = tmp_path / "mine.yaml"
    main.write_text("cleaning:\n  min_employees: 8\n", encoding="utf-8")
    override.write_text("cleaning:\n  min_employees: many\n  min_employes: 3\n", encoding="utf-8")
    cfg = copy.deepcopy(base_config)
    cfg["cleaning"].update(min_employees="many", min_employes=3)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg, files=[str(main), str(override)])
    lines = str(err.value).splitlines()[1:]
    assert all(line.strip().startswith(f"{override}: key 'cleaning.min_employ") for line in lines)
    # a value set on the command line (--config) is blamed on it, not on a file
    cfg = copy.deepcopy(base_config)
    cfg["cleaning"]["min_employees"] = -1
    with pytest.raises(
        ConfigError, match=r"--config \(command line\): key 'cleaning.min_employees'"
    ):
        validate_config(cfg, files=[str(main)])


def _command_line(base_config: dict, *entries: str) -> tuple[dict, dict]:
    """The config and the ``--config`` values as Snakemake makes them from ``entries``."""
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    given = parse_config(list(entries))
    cfg = copy.deepcopy(base_config)
    update_config(cfg, copy.deepcopy(given))
    return cfg, given


def test_nested_values_on_the_command_line_get_the_schemas_types(base_config):
    """--config customs='{batch_rows: 0}' arrives as {'batch_rows': '0'} (YAML's base
    loader); typed as the schema asks, it validates as the same --configfile would."""
    cfg, given = _command_line(
        base_config,
        "customs={batch_mb: 0.5, batch_rows: 0}",
        "cleaning={max_value: 1e9, duplicate_firm_years: keep_first}",
        "synthetic={customs: {csv_years: [2003, 2004]}}",
        "panel={foreign_includes_hmt: false}",
    )
    assert given["customs"]["batch_rows"] == "0"  # what Snakemake hands us
    with pytest.raises(ConfigError, match="customs.batch_rows"):
        validate_config(copy.deepcopy(cfg))
    validate_config(type_command_line(cfg, given))
    assert cfg["customs"] == {"batch_mb": 0.5, "batch_rows": 0}
    assert cfg["cleaning"]["max_value"] == 1e9
    assert cfg["cleaning"]["duplicate_firm_years"] == "keep_first"
    assert cfg["synthetic"]["customs"]["csv_years"] == [2003, 2004]
    assert cfg["panel"]["foreign_includes_hmt"] is False
    # a string where the schema wants one stays a string ("2009" is not read as a year)
    cfg, given = _command_line(base_config, "matching={review_dir: 2009}")
    assert validate_config(type_command_line(cfg, given))["matching"]["review_dir"] == "2009"
    # a config file's value is its own: a quoted number there is still an error
    cfg = copy.deepcopy(base_config)
    cfg["customs"]["batch_rows"] = "0"
    with pytest.raises(ConfigError, match="customs.batch_rows"):
        validate_config(type_command_line(cfg, {}))


def test_a_command_line_value_that_does_not_fit_says_how_to_give_it(base_config):
    cfg, given = _command_line(base_config, "customs={batch_mb: 0, batch_rows: many}")
    with pytest.raises(ConfigError) as err:
        validate_config(type_command_line(cfg, given), files=["config.yaml"])
    msg = str(err.value)
    assert "--config (command line): key 'customs.batch_rows'" in msg and "--configfile" in msg
    assert msg.count("key '") == 1  # batch_mb: 0 was typed


def test_a_nested_value_on_the_command_line_reaches_the_workflow(tmp_path, base_config):
    """snakemake -n --config customs='{batch_mb: 0, batch_rows: 0}': one customs job a year
    (the tiny preset's years otherwise share one)."""
    wd = copy_workflow(tmp_path / "wf")
    given = "customs={batch_mb: 0, batch_rows: 0}"
    proc = run_snakemake(wd, "-n", "--config", "preset=tiny", given)
    jobs = re.findall(r"^aggregate_customs\s+(\d+)$", proc.stdout, re.MULTILINE)
    assert jobs and {int(n) for n in jobs} == {len(all_years(base_config))}, proc.stdout


def test_synthetic_csv_years_are_declared_as_a_researcher_would(base_config):
    """With synthetic inputs the years of synthetic.customs.csv_years (within the configured
    years) become inputs.customs_by_year entries: the pattern's path with a .csv suffix."""
    cfg = copy.deepcopy(base_config)
    cfg["synthetic"].setdefault("customs", {})["csv_years"] = [2004, 2003, 2001]
    cfg["years"]["first"] = 2002
    cfg["inputs"]["customs_by_year"] = {2004: "elsewhere/customs_2004.dta"}
    inputs = apply_defaults(validate_config(cfg))["inputs"]
    assert inputs["customs_by_year"] == {
        2003: "resources/raw/customs/customs_2003.csv",
        2004: "elsewhere/customs_2004.dta",  # an entry of the config wins
    }
    assert year_input(inputs, "customs", 2003).endswith("customs_2003.csv")
    assert year_input(inputs, "customs", 2005) == "resources/raw/customs/customs_2005.parquet"
    default = apply_defaults(validate_config(copy.deepcopy(base_config)))["inputs"]
    assert sorted(default["customs_by_year"]) == list(
        resolve_params(base_config["synthetic"], "tiny")["customs"]["csv_years"]
    )


def test_a_researchers_own_files_get_no_synthetic_csv_years(base_config):
    cfg = copy.deepcopy(base_config)
    cfg["inputs"]["source"] = "files"
    assert "customs_by_year" not in apply_defaults(validate_config(cfg))["inputs"]
    cfg["inputs"]["customs_by_year"] = {"2003": "d/c2003.csv"}  # keys as JSON gives them
    inputs = apply_defaults(validate_config(cfg))["inputs"]
    assert inputs["customs_by_year"] == {2003: "d/c2003.csv"}
    assert year_input(inputs, "customs", 2003) == "d/c2003.csv"


@pytest.mark.parametrize(("key", "value"), [("capital", "ln_k"), ("method", "iv")])
def test_level_control_needs_in_use_capital_and_dynamic(base_config, key, value):
    cfg = copy.deepcopy(base_config)
    cfg["measures"]["yjz"].update({"level_control": True, key: value})
    with pytest.raises(ConfigError) as ei:
        validate_config(cfg)
    assert f"key 'measures.yjz.{key}'" in str(ei.value)
    assert "level_control needs" in str(ei.value)
    cfg["measures"]["yjz"]["level_control"] = False
    validate_config(cfg)

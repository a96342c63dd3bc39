"""Calibration report and parameter handling."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from cbec.config import validate_config
from cbec.errors import ConfigError
from cbec.synth.calibration import TABLE1, analysis_sample, calibration_report, moments
from cbec.synth.params import DEFAULTS, resolve_params

ROOT = Path(__file__).resolve().parents[2]


def test_report_table(tiny_world):
    raw, truth, _ = tiny_world
    rep = calibration_report(raw, truth, oracle=False)
    assert "| variable | statistic | paper | synthetic | difference |" in rep
    for v in TABLE1:
        assert f"| {v} | mean |" in rep


def test_tiny_moments_near_table1(tiny_world):
    raw, truth, _ = tiny_world
    s = analysis_sample(raw, truth)
    m = moments(s)
    # tolerances: targets are calibrated on the paper preset; tiny is a small sample of it
    assert abs(m["cu"][0] - 0.7381) < 0.01 and abs(m["cu"][1] - 0.1259) < 0.02
    assert abs(m["platform"][0] - 0.1026) < 0.01
    assert abs(m["lnqygm"][0] - 2.3756) < 0.15
    assert abs(m["lnage"][0] - 2.1316) < 0.1
    assert abs(m["sfgyqy"][0] - 0.0204) < 0.015
    assert abs(m["sfwzqy"][0] - 0.4975) < 0.05
    assert abs(m["percs"][0] - 4.0377) < 0.4
    assert abs(m["fc"][0] - 0.0531) < 0.01
    # cleaning removes the planted data errors (employees < 8, bad founding years)
    assert 0.005 < 1 - s.height / s["n_before_cleaning"][0] < 0.05


def test_partial_params_filled():
    p = resolve_params({"effects": {"tau_cu": 0.05}}, "tiny")
    assert (
        p["effects"]["tau_cu"] == 0.05 and p["effects"]["tau_mic"] == DEFAULTS["effects"]["tau_mic"]
    )
    assert p["n_firms_2001"] == DEFAULTS["presets"]["tiny"]["n_firms_2001"]
    with pytest.raises(KeyError):
        resolve_params({}, "huge")
    with pytest.raises(KeyError):
        resolve_params({"effect": {}}, "tiny")


def test_schema_accepts_config_and_defaults_and_rejects_bad_values():
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    validate_config(copy.deepcopy(cfg))
    # the block in config.yaml is consistent with the defaults it repeats
    for sec, vals in cfg["synthetic"].items():
        if isinstance(vals, dict) and sec != "presets":
            for k, v in vals.items():
                assert DEFAULTS[sec][k] == v, (sec, k)
    full = copy.deepcopy(cfg)
    full["synthetic"] = copy.deepcopy(DEFAULTS)
    validate_config(full)
    for path, value in [
        (("effects", "tau_cu"), 3.0),
        (("adoption", "target_share"), 0.0),
        (("names", "customs_typo"), 1.5),
        (("customs", "max_rows_per_party"), 2.5),
        (("utilization", "bogus"), 1.0),
    ]:
        bad = copy.deepcopy(cfg)
        bad["synthetic"].setdefault(path[0], {})[path[1]] = value
        with pytest.raises(ConfigError, match=f"synthetic.{path[0]}"):
            validate_config(bad)

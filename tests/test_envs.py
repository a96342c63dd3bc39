"""The conda environments for cluster users agree with the exact pins of pyproject.toml."""

from __future__ import annotations

import tomllib

import yaml


def test_envs_match_pyproject(root):
    pins = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    assert all("==" in p for p in pins), "every runtime dependency is pinned exactly"
    envs = sorted((root / "envs").glob("*.yaml"))
    assert envs
    for path in envs:
        env = yaml.safe_load(path.read_text())
        deps = env["dependencies"]
        assert "python=3.11" in deps, path
        pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        assert sorted(pip) == sorted(pins), f"{path.name} differs from pyproject.toml"


def test_every_rule_declares_the_env(root):
    for smk in sorted((root / "rules").glob("*.smk")):
        text = smk.read_text()
        n_rules = sum(1 for line in text.splitlines() if line.startswith("rule "))
        assert text.count('"../envs/cbec.yaml"') >= n_rules, smk.name

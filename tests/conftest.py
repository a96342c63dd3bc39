"""Shared fixtures: repository paths, the reference data, and a scratch copy of the workflow."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REFDATA = ROOT.parent / "shared" / "refdata"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def refdata() -> Path:
    if not REFDATA.exists():
        pytest.skip(f"reference data not found at {REFDATA}")
    return REFDATA


@pytest.fixture(scope="session")
def base_config() -> dict:
    with open(ROOT / "config.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)

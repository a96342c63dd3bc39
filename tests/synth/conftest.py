"""Synthetic worlds shared by the synth tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cbec.synth import generate

SEED = 20250401


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> tuple[Path, Path, dict]:
    base = tmp_path_factory.mktemp("tiny")
    summary = generate({}, "tiny", SEED, base / "raw", base / "truth")
    return base / "raw", base / "truth", summary


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> tuple[Path, Path]:
    """A bigger world (3,000 firms in 2001) for the oracle regressions."""
    base = tmp_path_factory.mktemp("small")
    params = {"presets": {"tiny": {"n_firms_2001": 3000}}}
    generate(params, "tiny", SEED + 1, base / "raw", base / "truth")
    return base / "raw", base / "truth"

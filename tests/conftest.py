"""Shared fixtures: repository paths, the reference data, a scratch copy of the workflow, and
one run of the whole workflow on the tiny preset shared by the end-to-end tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from helpers import TINY, copy_workflow, listing, run_snakemake, snapshot_library

ROOT = Path(__file__).resolve().parents[1]
REFDATA = ROOT.parent / "shared" / "refdata"
# the data owner's files (read in place from ../shared/refdata, never copied: its README)
REFDATA_FILES = ("chilean_prodest.csv", "front41Data.csv", "riceProdPhil.csv")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def refdata_dir() -> Path:
    """The reference data: ``$CBEC_REFDATA`` if set, else ``../shared/refdata``."""
    return Path(os.environ.get("CBEC_REFDATA", REFDATA))


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The published reference data sets. A missing file fails the test (never a skip: a
    clone without them must not pass the reference checks by skipping them)."""
    path = refdata_dir()
    missing = [f for f in REFDATA_FILES if not (path / f).is_file()]
    if missing:
        pytest.fail(
            f"reference data missing in {path}: {', '.join(missing)} (the data owner's "
            "README says to read them from ../shared/refdata; set CBEC_REFDATA to their folder)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def base_config() -> dict:
    with open(ROOT / "config.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished run of the whole workflow on the tiny preset, run once per session in a
    scratch copy (with a snapshot of the library).

    Shared and read-only: a test that runs snakemake in it, or changes a file, works on a
    copy (``helpers.copy_run``). A change is reported at the end of the session."""
    wd = snapshot_library(copy_workflow(tmp_path_factory.mktemp("tiny_run") / "run"))
    run_snakemake(wd, *TINY)
    before = listing(wd)
    yield wd
    changed = sorted(set(before.items()) ^ set(listing(wd).items()))[:5]
    assert not changed, f"a test changed the shared tiny run: {changed}"

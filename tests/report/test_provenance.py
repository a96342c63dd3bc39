"""Provenance: config hash, input hashes, git and package versions (no timestamps)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import numpy
import pytest

from cbec.report import provenance as P


def test_config_hash_is_canonical():
    a = {"seed": 1, "inputs": {"asif": "x_{year}", "source": "synthetic"}, "z": [1, 2]}
    b = {"z": [1, 2], "inputs": {"source": "synthetic", "asif": "x_{year}"}, "seed": 1}
    assert P.config_hash(a) == P.config_hash(b)
    canon = json.dumps(a, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert P.config_hash(a) == hashlib.sha256(canon.encode()).hexdigest()
    assert P.config_hash(a) != P.config_hash(dict(a, seed=2))


def test_sha256_file_known_value(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    # FIPS 180-2 test vector
    assert P.sha256_file(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_input_files_expands_years_and_skips_settings():
    files = P.input_files(
        {"source": "files", "asif": "a/asif_{year}.csv", "cities": "c.csv", "csv_encoding": "gbk"},
        [2001, 2002],
    )
    assert files == [
        ("asif[2001]", "a/asif_2001.csv"),
        ("asif[2002]", "a/asif_2002.csv"),
        ("cities", "c.csv"),
    ]


def test_provenance_hashes_inputs_and_flags_missing(tmp_path):
    (tmp_path / "c.csv").write_text("名称,电话\n某公司,123\n", encoding="utf-8")
    prov = P.provenance(
        {"seed": 1},
        [("cities", str(tmp_path / "c.csv")), ("gone", str(tmp_path / "no.csv"))],
        repo=tmp_path,
    )
    assert prov["inputs"][0]["sha256"] == P.sha256_file(tmp_path / "c.csv")
    assert prov["inputs"][1]["sha256"] is None
    assert prov["packages"]["numpy"] == numpy.__version__
    assert prov["python"].count(".") == 2
    assert "某公司" not in json.dumps(prov, ensure_ascii=False)  # hashed, never read


def test_git_commit_outside_a_repository(tmp_path):
    g = P.git_commit(tmp_path)
    assert g["commit"] is None and g["note"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_commit_in_a_repository(tmp_path):
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "f").write_text("1")
    run("add", "f")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "m")
    g = P.git_commit(tmp_path)
    assert len(g["commit"]) == 40 and g["dirty"] is False
    (tmp_path / "f").write_text("2")
    assert P.git_commit(tmp_path)["dirty"] is True


def test_package_versions_missing_package():
    assert P.package_versions(["surely-not-installed-pkg-xyz"]) == {
        "surely-not-installed-pkg-xyz": None
    }

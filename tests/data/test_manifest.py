"""Checksum manifests of the raw inputs (issue 17, item 7)."""

from __future__ import annotations

import os

from cbec.data.manifest import input_paths, update_manifest, vanished


def test_manifest_changes_with_content_not_with_mtime(tmp_path):
    f, out = tmp_path / "a.csv", tmp_path / "m" / "asif.sha256"
    f.write_text("x,y\n1,2\n")
    assert update_manifest(out, [str(f)])
    assert not update_manifest(out, [str(f)])  # unchanged: not rewritten (mtime kept)
    st = f.stat()
    f.write_text("x,y\n1,3\n")  # same size, new content, old modification time
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert update_manifest(out, [str(f)])


def test_vanished_lists_files_the_manifest_had(tmp_path):
    f, g, out = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "asif.sha256"
    f.write_text("1")
    update_manifest(out, [str(f), str(g)])  # g never existed: not "vanished"
    assert vanished(out, [str(f), str(g)]) == []
    f.unlink()
    assert vanished(out, [str(f), str(g)]) == [str(f)]


def test_input_paths_fill_in_the_years():
    paths = input_paths(
        {"source": "files", "asif": "d/asif_{year}.dta", "mic": "m.csv"}, [2001, 2002]
    )
    assert paths == {"asif": ["d/asif_2001.dta", "d/asif_2002.dta"], "mic": ["m.csv"]}


def test_a_year_of_customs_by_year_takes_its_own_path():
    """A mixed delivery (some years GBK CSV, inputs.customs_by_year) is hashed and reported
    under the year's own path, and the map itself is no input file."""
    from cbec.report.provenance import input_files

    inputs = {
        "source": "files",
        "customs": "d/customs_{year}.parquet",
        "customs_by_year": {2002: "csv/customs_2002.csv"},
    }
    want = ["d/customs_2001.parquet", "csv/customs_2002.csv", "d/customs_2003.parquet"]
    assert input_paths(inputs, [2001, 2002, 2003]) == {"customs": want}
    assert [p for _, p in input_files(inputs, [2001, 2002, 2003])] == want

"""The label tables live in labels.toml; the loader keeps their order and checks their form."""

from __future__ import annotations

from pathlib import Path

import pytest

from cbec.tables import labels as L


def test_labels_load_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "labels.toml"
    path.write_text(
        '[fixed_effects]\nyear = ["Year FE", "年份固定效应"]\nfirm_id = ["Firm FE", "企业"]\n'
    )
    got = L._load_labels(path)
    assert list(got["fixed_effects"]) == ["year", "firm_id"]
    assert got["fixed_effects"]["firm_id"] == {"en": "Firm FE", "zh": "企业"}


@pytest.mark.parametrize("value", ['["only English"]', '["a", "b", "c"]', '"a"', '["a", 1]'])
def test_malformed_label_stops_naming_table_and_key(tmp_path: Path, value: str) -> None:
    path = tmp_path / "labels.toml"
    path.write_text(f"[headers]\nRating = {value}\n")
    with pytest.raises(ValueError, match=r"labels.toml: \[headers\] 'Rating' must be"):
        L._load_labels(path)


def test_shipped_tables_are_complete() -> None:
    for table in L._LABELS.values():
        for key, pair in table.items():
            assert pair["en"] and pair["zh"], key
    assert list(L.FE_LABELS)[:2] == ["firm_id", "ind2^year"]


def test_note_patterns_checked_on_load(tmp_path: Path) -> None:
    from cbec.tables import event_notes as EN

    path = tmp_path / "event_notes.toml"
    path.write_text(
        "[[note]]\npattern = '^dropped (?P<n>\\d+) rows$'\nen = '{who}: {n}.'\nzh = '{n}'\n"
    )
    [(pattern, en, _)] = EN.load_note_patterns(path)
    assert EN._phrase(en, pattern.match("dropped 1234 rows"), "TWFE") == "TWFE: 1,234."
    path.write_text("[[note]]\npattern = '^dropped (?P<n>\\d+) rows$'\nen = '{m} {n}'\nzh = ''\n")
    with pytest.raises(ValueError, match=r"note 1: '\{m\} \{n\}' uses \['m'\]"):
        EN.load_note_patterns(path)
    path.write_text("[[note]]\npattern = '^dropped ('\nen = ''\nzh = ''\n")
    with pytest.raises(ValueError, match="note 1: needs a valid pattern"):
        EN.load_note_patterns(path)

"""Match quality against the synthetic truth, on hand-built links with known answers."""

from __future__ import annotations

import polars as pl
import pytest

from cbec.matching.quality import (
    customs_link_quality,
    member_link_quality,
    member_quality_report,
    panel_link_quality,
    row_truth,
)


def _rows(data: list[tuple[int, int, int, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        data,
        schema={"row_id": pl.Int64, "year": pl.Int64, "firm_id": pl.Int64, "true_firm": pl.Int64},
        orient="row",
    )


def test_row_truth_maps_rows_by_year_and_raw_position():
    panel = pl.DataFrame(
        {
            "row_id": [2001 * 10_000_000 + 5, 2002 * 10_000_000 + 0, 2002 * 10_000_000 + 7],
            "year": [2001, 2002, 2002],
            "firm_id": [1, 1, 2],
            "firm_name": ["a", "b", "c"],
        }
    )
    truth = pl.DataFrame(
        {"year": [2001, 2002, 2001], "asif_row": [5, 0, 0], "true_firm": [10, 10, 30]},
        schema={"year": pl.Int32, "asif_row": pl.UInt32, "true_firm": pl.Int32},
    )
    out = row_truth(panel, truth)
    assert out.columns == ["row_id", "year", "firm_id", "true_firm"]
    assert out["true_firm"].to_list() == [10, 10, None]
    assert out.schema["true_firm"] == pl.Int64


def test_panel_link_quality_by_hand():
    # true firm 10 in 2001-2003 is split after 2002; firm_id 3 wrongly joins true firms 20
    # and 21; 21 has a two-year gap; row 7 is unknown to the truth
    rows = _rows(
        [
            (1, 2001, 1, 10),
            (2, 2002, 1, 10),
            (3, 2003, 2, 10),
            (4, 2001, 3, 20),
            (5, 2002, 3, 21),
            (6, 2004, 4, 21),
            (7, 2001, 5, None),
        ]
    )
    q = panel_link_quality(rows)
    assert (q["links"], q["correct"], q["possible"]) == (2, 1, 3)
    assert q["precision"] == 0.5
    assert q["recall"] == pytest.approx(1 / 3, abs=1e-6)
    assert q["recall_within_2y"] == pytest.approx(1 / 3, abs=1e-6)
    assert q["ids_per_true_firm"] == pytest.approx(4 / 3, abs=1e-6)


def test_panel_link_quality_perfect_and_empty():
    rows = _rows([(1, 2001, 1, 10), (2, 2002, 1, 10), (3, 2005, 1, 10)])
    q = panel_link_quality(rows)
    assert (q["precision"], q["recall"], q["ids_per_true_firm"]) == (1.0, 1.0, 1.0)
    assert q["recall_within_2y"] == 1.0  # the 2002-2005 link is outside the window
    single = panel_link_quality(_rows([(1, 2001, 1, 10)]))
    assert single["precision"] is None and single["recall"] is None


def test_customs_link_quality_by_hand():
    rows = _rows([(1, 2001, 1, 10), (2, 2001, 2, 20), (3, 2002, 1, 10)])
    parties = pl.DataFrame(
        {
            "year": [2001, 2001, 2001, 2002, 2002],
            "party_code": ["P1", "P2", "P3", "P1", "P9"],
            "true_firm": [10, 20, None, 10, 99],  # P3 an intermediary, P9 not in the panel
            "kind": ["direct", "direct", "intermediary", "direct", "direct"],
        }
    )
    links = pl.DataFrame(
        {
            "year": [2001, 2001, 2002, 2001],
            "party_code": ["P1", "P2", "P1", "P3"],
            "firm_id": [1, 1, 1, 2],
            "method": ["name"] * 4,
        }
    )
    q = customs_link_quality(links, rows, parties)
    assert (q["links"], q["correct"], q["possible"]) == (4, 2, 3)
    assert q["precision"] == 0.5 and q["recall"] == pytest.approx(2 / 3, abs=1e-6)


def test_member_link_quality_by_hand():
    # firm 1's rows: true firms 10, 10, 20 (its true firm is 10); firm 3: a tie, the smaller
    rows = _rows(
        [
            (1, 2001, 1, 10),
            (2, 2002, 1, 10),
            (3, 2003, 1, 20),
            (4, 2001, 2, 20),
            (5, 2001, 3, 40),
            (6, 2002, 3, 30),
        ]
    )
    members = pl.DataFrame(
        {
            "list": ["alibaba"] * 5 + ["mic"],
            "member_id": ["M1", "M2", "M3", "M4", "M5", "M1"],
            "true_firm": [10, 20, None, 99, 30, 20],
        }
    )
    links = pl.DataFrame(
        {"member_id": ["M1", "M2", "M3", "M5"], "firm_id": [1, 1, 2, 3], "method": ["x"] * 4}
    )
    q = member_link_quality(links, rows, members, "alibaba")
    # correct: M1 -> 1 and M5 -> 3; possible: M1, M2, M5 (M3 null, M4 not in the panel)
    assert (q["links"], q["correct"], q["possible"]) == (4, 2, 3)
    assert q["precision"] == 0.5 and q["recall"] == pytest.approx(2 / 3, abs=1e-6)
    mic = member_link_quality(
        pl.DataFrame({"member_id": ["M1"], "firm_id": [2]}), rows, members, "mic"
    )
    assert (mic["correct"], mic["possible"], mic["precision"]) == (1, 1, 1.0)


def test_member_quality_report_matchable_and_exact_share():
    rows = _rows([(1, 2001, 1, 10), (2, 2001, 2, 20), (3, 2001, 3, 30), (4, 2001, 4, 40)])
    members = pl.DataFrame(
        {
            "list": ["alibaba"] * 4,
            "member_id": ["M1", "M2", "M3", "M4"],
            "true_firm": [10, 20, 30, 40],
            "unmatchable": [False, False, False, True],
        }
    )
    links = pl.DataFrame(
        {
            "member_id": ["M1", "M2", "M3"],
            "firm_id": [1, 2, 4],
            "method": ["name_exact", "pinyin", "name_exact"],
        }
    )
    q = member_quality_report(links, rows, members, "alibaba")
    # correct: M1 (exact) and M2; M3 -> firm 4 is wrong; M4 cannot be matched
    assert (q["correct"], q["possible"]) == (2, 4)
    assert q["recall_matchable"] == pytest.approx(2 / 3, abs=1e-6)
    assert q["exact_name_share"] == 0.25

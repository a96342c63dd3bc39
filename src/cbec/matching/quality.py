"""Quality of links against the synthetic truth (validation rules only; never feeds a table).

The truth maps every raw ASIF row to its true firm (``firm_year.parquet``: year, asif_row,
true_firm), every customs party-year and every member to its true firm (or null for
intermediaries and non-manufacturers). The functions take the truth as frames; the
validation rules (``rules/validation.smk``) read it, the matching rules never do.
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "ROW_TRUTH_COLUMNS",
    "customs_link_quality",
    "member_link_quality",
    "member_quality_report",
    "panel_link_quality",
    "row_truth",
]

# the columns of the truth's firm_year.parquet that row_truth reads
ROW_TRUTH_COLUMNS = ["year", "asif_row", "true_firm"]


def _pr(correct: int, made: int, possible: int) -> dict:
    return {
        "links": made,
        "correct": correct,
        "possible": possible,
        "precision": round(correct / made, 6) if made else None,
        "recall": round(correct / possible, 6) if possible else None,
    }


def row_truth(panel: pl.DataFrame, firm_year: pl.DataFrame) -> pl.DataFrame:
    """Panel rows (row_id = year * 1e7 + raw row position) with their true firm.

    ``panel``: row_id, year, firm_id; ``firm_year``: the truth's year, asif_row, true_firm.
    Returns row_id, year, firm_id, true_firm (null for a row the truth does not know).
    """
    truth = firm_year.select(
        (pl.col("year").cast(pl.Int64) * 10_000_000 + pl.col("asif_row").cast(pl.Int64)).alias(
            "row_id"
        ),
        pl.col("true_firm").cast(pl.Int64),
    )
    return panel.select("row_id", "year", "firm_id").join(truth, on="row_id", how="left")


def panel_link_quality(rows: pl.DataFrame) -> dict:
    """Adjacent-observation links of the panel against the truth.

    A made link joins consecutive observations (t, t') of one ``firm_id``; it is correct when
    both rows belong to the same true firm. The possible links are consecutive observations
    of one true firm; ``recall`` counts them all, ``recall_within_2y`` those at most two years
    apart (the Brandt et al. windows), and ``ids_per_true_firm`` shows fragmentation.
    """

    def pairs(df: pl.DataFrame, key: str) -> pl.DataFrame:
        s = df.sort([key, "year"]).with_columns(
            pl.col("row_id").shift(-1).over(key).alias("next_row"),
            pl.col("year").shift(-1).over(key).alias("next_year"),
        )
        return s.filter(pl.col("next_row").is_not_null()).select(
            "row_id", "next_row", (pl.col("next_year") - pl.col("year")).alias("gap")
        )

    made = pairs(rows, "firm_id")
    tf = rows.select("row_id", "true_firm")
    m = made.join(tf, on="row_id").join(
        tf.rename({"row_id": "next_row", "true_firm": "tf_next"}), on="next_row"
    )
    correct = int((m["true_firm"] == m["tf_next"]).sum())
    possible = pairs(rows.filter(pl.col("true_firm").is_not_null()), "true_firm")
    good = made.join(possible, on=["row_id", "next_row"], how="inner")
    out = _pr(correct, made.height, possible.height)
    out["recall"] = round(good.height / possible.height, 6) if possible.height else None
    near = possible.filter(pl.col("gap") <= 2).height
    good_near = good.filter(pl.col("gap") <= 2).height
    out["recall_within_2y"] = round(good_near / near, 6) if near else None
    tf = rows.drop_nulls("true_firm")
    out["ids_per_true_firm"] = round(tf["firm_id"].n_unique() / tf["true_firm"].n_unique(), 6)
    return out


def customs_link_quality(links: pl.DataFrame, rows: pl.DataFrame, parties: pl.DataFrame) -> dict:
    """Customs party-year → firm links against the truth.

    ``links``: year, party_code, firm_id; ``rows``: :func:`row_truth`; ``parties``: the
    truth's year, party_code, true_firm. Recall is over the party-years whose true firm is
    in the panel that year.
    """
    tp = parties.select(
        pl.col("year").cast(pl.Int64),
        pl.col("party_code").cast(pl.String),
        pl.col("true_firm").cast(pl.Int64).alias("tf_party"),
    )
    firm_truth = rows.select("firm_id", "year", pl.col("true_firm").alias("tf_firm"))
    m = links.join(tp, on=["year", "party_code"], how="left").join(
        firm_truth, on=["firm_id", "year"], how="left"
    )
    correct = int((m["tf_party"] == m["tf_firm"]).fill_null(False).sum())
    present = tp.join(
        rows.select("year", pl.col("true_firm").alias("tf_party")).unique(),
        on=["year", "tf_party"],
        how="semi",
    )
    return _pr(correct, links.height, present.height)


def member_link_quality(
    links: pl.DataFrame, rows: pl.DataFrame, members: pl.DataFrame, list_name: str
) -> dict:
    """Member → firm links against the truth; recall over members whose firm is in the panel.

    ``links``: member_id, firm_id; ``rows``: :func:`row_truth`; ``members``: the truth's
    list, member_id, true_firm (rows of ``list_name`` are used). A firm_id's true firm is
    the most frequent true firm among its rows.
    """
    tm = members.filter(pl.col("list") == list_name).select(
        pl.col("member_id").cast(pl.String), pl.col("true_firm").cast(pl.Int64)
    )
    firm_tf = (
        rows.drop_nulls("true_firm")
        .group_by(["firm_id", "true_firm"])
        .len()
        .sort(["firm_id", "len", "true_firm"], descending=[False, True, False])
        .unique("firm_id", keep="first")
        .select("firm_id", pl.col("true_firm").alias("tf_firm"))
    )
    m = links.join(tm, on="member_id", how="left").join(firm_tf, on="firm_id", how="left")
    correct = int((m["true_firm"] == m["tf_firm"]).fill_null(False).sum())
    in_panel = tm.join(
        firm_tf.select(pl.col("tf_firm").alias("true_firm")).unique(), on="true_firm", how="semi"
    )
    return _pr(correct, links.height, in_panel.height)


def member_quality_report(
    links: pl.DataFrame, rows: pl.DataFrame, members: pl.DataFrame, list_name: str
) -> dict:
    """:func:`member_link_quality` plus, when ``members`` has ``unmatchable`` (renamed
    beyond recognition: no name, phone or legal representative left in common),
    ``recall_matchable`` over the other members, and, when ``links`` has ``method``,
    ``exact_name_share``: the share of the possible links found by the exact-name step."""
    out = member_link_quality(links.select("member_id", "firm_id"), rows, members, list_name)
    if "unmatchable" in members.columns:
        ok = members.filter(~pl.col("unmatchable").fill_null(False))
        q = member_link_quality(links.select("member_id", "firm_id"), rows, ok, list_name)
        out["recall_matchable"] = q["recall"]
    if "method" in links.columns and out["possible"]:
        exact = links.filter(pl.col("method") == "name_exact").select("member_id", "firm_id")
        correct = member_link_quality(exact, rows, members, list_name)["correct"]
        out["exact_name_share"] = round(correct / out["possible"], 6)
    return out

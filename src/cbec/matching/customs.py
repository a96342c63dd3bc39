"""Yu (2015) matching of customs trading parties to ASIF firms.

Step 1 (``name``): same year and identical normalized name (``name_key`` of
:func:`cbec.matching.names.normalize_names`: NFKC, t2s, bracketed places and legal form
removed, place canonicalised; branch marker kept).
Step 2 (``zip_phone``): among records unmatched in step 1, same year, same 6-digit zip and
same last seven digits of the phone.
In each step a key shared by several parties or several firms of that year is dropped
(counted in the report); links are one-to-one within a year.
"""

from __future__ import annotations

import polars as pl

from cbec.matching.names import (
    flag_intermediaries,
    normalize_names,
    normalize_zip,
    phone_last7,
)

__all__ = ["PANEL_COLUMNS", "link_customs", "link_customs_years", "match_customs", "merge_reports"]


def _keys(df: pl.DataFrame, name_col: str) -> pl.DataFrame:
    nm = normalize_names(df[name_col])
    zp = normalize_zip(df["zip"])
    ph = phone_last7(df["phone"])
    zip_phone = pl.select(
        pl.when(zp.is_not_null() & ph.is_not_null())
        .then(pl.concat_str([zp, ph], separator="|"))
        .otherwise(None)
    ).to_series()
    return pl.DataFrame(
        {"year": df["year"].cast(pl.Int64), "name": nm["name_key"], "zip_phone": zip_phone}
    )


def _step(
    p: pl.DataFrame, f: pl.DataFrame, key: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Unique-key join within year; returns links and per-year ambiguity counts."""
    pk = p.drop_nulls(key).with_columns(pl.len().over("year", key).alias("_np"))
    fk = f.drop_nulls(key).with_columns(pl.len().over("year", key).alias("_nf"))
    j = pk.join(fk, on=["year", key], how="inner")
    ok = j.filter((pl.col("_np") == 1) & (pl.col("_nf") == 1))
    amb = (
        j.filter((pl.col("_np") > 1) | (pl.col("_nf") > 1))
        .group_by("year")
        .agg(pl.col("party_code").n_unique().alias("parties"))
    )
    links = ok.select("year", "party_code", "firm_id", pl.lit(key).alias("method"))
    return links, amb, ok


def match_customs(
    parties: pl.DataFrame,
    firms: pl.DataFrame,
    *,
    exclude_intermediaries: bool = False,
) -> tuple[pl.DataFrame, dict]:
    """Match customs parties (year, party_code, party_name, zip, phone) to ASIF firms
    (year, firm_id, firm_name, zip, phone).

    Returns ``links`` (year, party_code, firm_id, method in {"name", "zip_phone"}) and a
    report: totals, per-step matches, per-step ambiguous parties dropped, per-year counts,
    and the number of matched parties flagged as intermediaries. With
    ``exclude_intermediaries`` flagged parties are not matched at all.
    """
    p = pl.concat(
        [
            parties.select(pl.col("year").cast(pl.Int64), pl.col("party_code").cast(pl.String)),
            _keys(parties, "party_name").drop("year"),
            flag_intermediaries(parties["party_name"]).to_frame(),
        ],
        how="horizontal",
    ).unique(["year", "party_code"], keep="first", maintain_order=True)
    f = pl.concat(
        [
            firms.select(pl.col("year").cast(pl.Int64), pl.col("firm_id")),
            _keys(firms, "firm_name").drop("year"),
        ],
        how="horizontal",
    )
    if exclude_intermediaries:
        p = p.filter(~pl.col("is_intermediary"))
    out, report_steps = [], {}
    for key in ("name", "zip_phone"):
        links, amb, _ = _step(p, f, key)
        out.append(links)
        report_steps[key] = {
            "matched": links.height,
            "ambiguous_dropped": int(amb["parties"].sum()) if amb.height else 0,
            "by_year": {
                int(y): int(n) for y, n in links.group_by("year").len().sort("year").iter_rows()
            },
            "ambiguous_by_year": {int(y): int(n) for y, n in amb.sort("year").iter_rows()},
        }
        p = p.join(links.select("year", "party_code"), on=["year", "party_code"], how="anti")
        f = f.join(links.select("year", "firm_id"), on=["year", "firm_id"], how="anti")
    links = pl.concat(out).sort("year", "party_code")
    n_parties = parties.select("year", "party_code").unique().height
    inter = (
        links.join(
            pl.DataFrame(
                {
                    "year": parties["year"].cast(pl.Int64),
                    "party_code": parties["party_code"].cast(pl.String),
                    "is_intermediary": flag_intermediaries(parties["party_name"]),
                }
            ).unique(["year", "party_code"]),
            on=["year", "party_code"],
            how="left",
        )["is_intermediary"]
        .fill_null(False)
        .sum()
    )
    by_year = {
        int(y): int(n)
        for y, n in parties.select(pl.col("year").cast(pl.Int64), "party_code")
        .unique()
        .group_by("year")
        .len()
        .iter_rows()
    }
    report = {
        "n_parties": n_parties,
        "n_firm_years": firms.height,
        "matched": links.height,
        "match_rate": links.height / n_parties if n_parties else 0.0,
        "steps": report_steps,
        "parties_by_year": dict(sorted(by_year.items())),
        "matched_by_year": {
            int(y): int(n) for y, n in links.group_by("year").len().sort("year").iter_rows()
        },
        "matched_intermediaries": int(inter),
    }
    return links, report


# the columns of the linked ASIF panel rule match_customs reads
PANEL_COLUMNS = ["year", "firm_id", "firm_name", "zip", "phone"]


def link_customs(parties: pl.DataFrame, panel: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """Rule match_customs: customs party-years (``aggregate_customs``) matched to the linked
    ASIF panel; :func:`match_customs` with ``firm_id`` as Int64 in the links."""
    links, report = match_customs(parties, panel.select(PANEL_COLUMNS))
    return links.with_columns(pl.col("firm_id").cast(pl.Int64)), report


def _by_year(reports: list[dict], get) -> dict[int, int]:
    """The per-year counts ``get(report)`` of per-year reports as one dict, sorted by year."""
    out = {int(y): int(n) for r in reports for y, n in get(r).items()}
    return dict(sorted(out.items()))


def merge_reports(reports: list[dict]) -> dict:
    """The report of :func:`match_customs` over all years from its per-year reports (links are
    one-to-one within a year, so matching year by year gives the same links and counts)."""
    n_parties = sum(r["n_parties"] for r in reports)
    matched = sum(r["matched"] for r in reports)
    steps = {
        key: {
            "matched": sum(r["steps"][key]["matched"] for r in reports),
            "ambiguous_dropped": sum(r["steps"][key]["ambiguous_dropped"] for r in reports),
            "by_year": _by_year(reports, lambda r, k=key: r["steps"][k]["by_year"]),
            "ambiguous_by_year": _by_year(
                reports, lambda r, k=key: r["steps"][k]["ambiguous_by_year"]
            ),
        }
        for key in ("name", "zip_phone")
    }
    return {
        "n_parties": n_parties,
        "n_firm_years": sum(r["n_firm_years"] for r in reports),
        "matched": matched,
        "match_rate": matched / n_parties if n_parties else 0.0,
        "steps": steps,
        "parties_by_year": _by_year(reports, lambda r: r["parties_by_year"]),
        "matched_by_year": _by_year(reports, lambda r: r["matched_by_year"]),
        "matched_intermediaries": sum(r["matched_intermediaries"] for r in reports),
    }


def link_customs_years(
    parties: pl.DataFrame, panel: pl.DataFrame, years: list[int]
) -> tuple[pl.DataFrame, dict]:
    """:func:`link_customs` for each year of ``years`` on its own (links are one-to-one
    within a year): the stacked links and the merged report (:func:`merge_reports`)."""
    links, reports = [], []
    for y in years:
        year_links, report = link_customs(
            parties.filter(pl.col("year") == y), panel.filter(pl.col("year") == y)
        )
        links.append(year_links)
        reports.append(report)
    return pl.concat(links, how="vertical"), merge_reports(reports)

"""Rule match_platform: scraped platform members to panel firms; clerical review aside."""

import json
import logging

import polars as pl

from cbec import runlog
from cbec.data.io import read_raw, write_parquet_atomic, write_text_atomic
from cbec.errors import InputError
from cbec.matching.platform import match_platform, parse_member_years


def main() -> None:
    log = logging.getLogger("match_platform")
    cfg = snakemake.params.matching
    members = read_raw(
        snakemake.input.members,
        "members",
        required=["member_id", "name_cn", "member_years", "scrape_date"],
        encoding=snakemake.params.encoding,
    )
    panel = pl.read_parquet(
        snakemake.input.panel,
        columns=[
            "year",
            "firm_id",
            "firm_name",
            "legal_rep",
            "phone",
            "zip",
            "city_code",
            "province_code",
        ],
    )
    firms = (
        panel.sort(["firm_id", "year"])
        .group_by("firm_id", maintain_order=True)
        .agg(
            pl.col("firm_name").unique(maintain_order=True),
            pl.col("legal_rep").drop_nulls().last(),
            pl.col("phone").drop_nulls().last(),
            pl.col("zip").drop_nulls().last(),
            pl.col("city_code").last(),
            pl.col("province_code").last(),
        )
    )
    links, review, report = match_platform(
        members,
        firms,
        accept=cfg["accept_score"],
        review=cfg["review_score"],
        high=cfg["accept_without_corroboration"],
    )
    try:
        join_year = parse_member_years(members["member_years"], members["scrape_date"][0])
    except ValueError as err:
        raise InputError(snakemake.input.members, "member_years", str(err)) from err
    if members["name_cn"].is_null().all():
        raise InputError(snakemake.input.members, "name_cn", "no member has a Chinese name")
    info = members.select(
        "member_id",
        join_year.alias("join_year"),
        members["member_years"].str.extract(r"(\d+)").cast(pl.Int64).alias("member_years"),
        "rating",
    )
    links = links.with_columns(pl.col("firm_id").cast(pl.Int64)).join(
        info, on="member_id", how="left"
    )
    report["members"] = members.height
    write_parquet_atomic(review, snakemake.output.review)
    log.info(
        "%d candidates for clerical review written to %s", review.height, snakemake.output.review
    )
    write_parquet_atomic(links, snakemake.output.links)
    write_text_atomic(json.dumps(report, indent=2, default=str), snakemake.output.report)


runlog.run(main, snakemake.log[0], "match_platform")

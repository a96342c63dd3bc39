"""Rule analysis_sample: the paper's sample with instruments and heterogeneity dummies."""

import logging

import polars as pl

from cbec import runlog
from cbec.analysis.sample import build_sample
from cbec.data.clean import check_attrition
from cbec.data.external import read_cities, read_counties, read_series
from cbec.data.io import write_parquet_atomic


def main() -> None:
    log = logging.getLogger("analysis_sample")
    inp = snakemake.input
    sample, attrition = build_sample(
        # lazy scans: only the needed columns of every firm-year, all columns of kept rows
        pl.scan_parquet(inp.panel),
        pl.scan_parquet(inp.tfp),
        pl.scan_parquet(inp.cu),
        cities=read_cities(inp.cities),
        counties=read_counties(inp.counties),
        it_revenue=read_series(inp.it_revenue, {"year": pl.Int64, "it_revenue": pl.Float64}),
        ports=read_series(
            inp.internet_ports,
            {"province_code": pl.String, "year": pl.Int64, "ports": pl.Float64},
        ).with_columns(pl.col("province_code").str.zfill(2)),
        it_weights=read_series(
            inp.it_weights, {"city_code": pl.String, "ind2": pl.String, "weight": pl.Float64}
        ).with_columns(pl.col("city_code").str.zfill(4), pl.col("ind2").str.zfill(2)),
        cfg=snakemake.params.analysis,
        years=snakemake.params.years,
    )
    check_attrition(attrition.with_columns(pl.col("year").fill_null(0)))
    for row in attrition.iter_rows(named=True):
        log.info("%-45s %10d", row["reason"], row["rows"])
    log.info(
        "sample: %d firm-years, %d firms, platform share %.4f",
        sample.height,
        sample["firm_id"].n_unique(),
        sample["platform"].mean(),
    )
    write_parquet_atomic(sample, snakemake.output.sample)
    attrition.write_csv(snakemake.output.attrition)


runlog.run(main, snakemake.log[0], "analysis_sample")

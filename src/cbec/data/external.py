"""Readers for the external series: cities, IT revenue, internet ports, IT weights, deflators."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cbec.data.io import read_csv_checked
from cbec.errors import InputError


def read_cities(path: str | Path) -> pl.DataFrame:
    """Prefecture-level cities: 4-digit code, names, 2-digit province code, coordinates."""
    df = read_csv_checked(
        path,
        {
            "city_code": pl.String,
            "city_name": pl.String,
            "province_code": pl.String,
            "province_name": pl.String,
            "lon": pl.Float64,
            "lat": pl.Float64,
        },
    ).with_columns(pl.col("city_code").str.zfill(4), pl.col("province_code").str.zfill(2))
    if df["city_code"].is_duplicated().any():
        raise InputError(path, "city_code", "duplicate city codes")
    bad = df.filter(~pl.col("lat").is_between(15, 55) | ~pl.col("lon").is_between(70, 140))
    if bad.height:
        raise InputError(path, "lat/lon", f"{bad.height} coordinates outside China")
    return df


def read_series(path: str | Path, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """A small external series with canonical column names and types."""
    return read_csv_checked(path, columns)


def read_counties(path: str | Path) -> pl.DataFrame:
    """Counties (6-digit region codes) with their prefecture city and coordinates."""
    return read_csv_checked(
        path,
        {
            "county_code": pl.String,
            "county_name": pl.String,
            "city_code": pl.String,
            "lon": pl.Float64,
            "lat": pl.Float64,
        },
    ).with_columns(pl.col("county_code").str.zfill(6), pl.col("city_code").str.zfill(4))


#: the columns and types of each small external series (the contract of docs/data.md)
SERIES: dict[str, dict[str, pl.DataType]] = {
    "it_revenue": {"year": pl.Int64, "it_revenue": pl.Float64},
    "internet_ports": {"province_code": pl.String, "year": pl.Int64, "ports": pl.Float64},
    "it_weights": {"city_code": pl.String, "ind2": pl.String, "weight": pl.Float64},
    "deflators": {
        "ind2": pl.String,
        "year": pl.Int64,
        "output_deflator": pl.Float64,
        "input_deflator": pl.Float64,
    },
}

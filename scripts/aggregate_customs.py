"""Rule aggregate_customs: export value, markets and products per customs party, for each
year of a batch (one year at a time), written as one file."""

import logging
import tempfile
from pathlib import Path

import polars as pl

from cbec import runlog
from cbec.data.customs import customs_year
from cbec.data.io import write_parquet_atomic
from cbec.matching.names import flag_intermediaries


def aggregate_year(path: Path, year: int, encoding: str, out: Path) -> pl.DataFrame:
    """One year's party aggregates with intermediaries flagged."""
    log = logging.getLogger("aggregate_customs")
    log.info("%d: reading %s (format %s)", year, path, path.suffix.lstrip(".").lower())
    # chunked formats are staged next to the output (not in a memory-backed /tmp), in a
    # directory of the year's own, removed when the year is aggregated
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.stem}-{year}-") as work:
        df = customs_year(path, year, encoding, work)
    log.info("%d: %d parties, %d transactions", year, df.height, df["n_transactions"].sum())
    df = df.with_columns(flag_intermediaries(df["party_name"]).alias("intermediary"))
    log.info(
        "%d: intermediaries flagged: %d of %d parties", year, df["intermediary"].sum(), df.height
    )
    return df


def main() -> None:
    out = Path(snakemake.output[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    years, encoding = snakemake.params.years, snakemake.params.encoding
    parts = [
        aggregate_year(Path(p), int(y), encoding, out)
        for y, p in zip(years, snakemake.input.customs, strict=True)
    ]
    write_parquet_atomic(pl.concat(parts, how="vertical_relaxed"), out)


runlog.run(main, snakemake.log[0], "aggregate_customs")

"""Rule aggregate_customs: export value, markets and products per customs party, one year."""

import logging
import tempfile
from pathlib import Path

from cbec import runlog
from cbec.data.customs import customs_year
from cbec.data.io import write_parquet_atomic
from cbec.matching.names import flag_intermediaries


def main() -> None:
    log = logging.getLogger("aggregate_customs")
    year = int(snakemake.wildcards.year)
    out = Path(snakemake.output[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    path = Path(snakemake.input.customs)
    log.info("%d: reading %s (format %s)", year, path, path.suffix.lstrip(".").lower())
    # chunked formats are staged next to the output (not in a memory-backed /tmp)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{year}-") as work:
        df = customs_year(snakemake.input.customs, year, snakemake.params.encoding, work)
    log.info("%d: %d parties, %d transactions", year, df.height, df["n_transactions"].sum())
    df = df.with_columns(flag_intermediaries(df["party_name"]).alias("intermediary"))
    log.info("intermediaries flagged: %d of %d parties", df["intermediary"].sum(), df.height)
    write_parquet_atomic(df, out)


runlog.run(main, snakemake.log[0], "aggregate_customs")

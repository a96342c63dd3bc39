"""Rule aggregate_customs: export value, markets and products per customs party, for each
year of a batch (one year at a time), written as one file."""

from pathlib import Path

from cbec import runlog
from cbec.data.customs import customs_years
from cbec.data.io import write_parquet_atomic
from cbec.matching.names import flag_intermediaries


def main() -> None:
    out = Path(snakemake.output[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    years = [int(y) for y in snakemake.params.years]
    parties = customs_years(
        snakemake.input.customs, years, snakemake.params.encoding, out, flag_intermediaries
    )
    write_parquet_atomic(parties, out)


runlog.run(main, snakemake.log[0], "aggregate_customs")

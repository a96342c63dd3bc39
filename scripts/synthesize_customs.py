"""Rule synthesize_customs: write one customs year of the synthetic world from its plan."""

import logging
from pathlib import Path

from cbec import runlog
from cbec.synth import resolve_params, write_customs_file


def main() -> None:
    if snakemake.config["inputs"]["source"] != "synthetic":
        raise RuntimeError(
            "config.yaml: inputs.source is 'files' (user data): synthesize_customs refuses to "
            "write to the configured input paths"
        )
    year = int(snakemake.wildcards.year)
    p = resolve_params(snakemake.params.synthetic, snakemake.params.preset)
    n = write_customs_file(
        Path(snakemake.input.plan), p, snakemake.params.seed, year, Path(snakemake.output[0])
    )
    logging.getLogger("synthesize_customs").info("customs %d: %d transaction rows", year, n)


runlog.run(main, snakemake.log[0], "synthesize_customs")

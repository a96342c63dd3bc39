"""Rule synthesize: write the synthetic world's raw inputs (but the customs years, written
by synthesize_customs from the customs plan) and its truth."""

import logging
from pathlib import Path

from cbec import runlog
from cbec.synth import generate


def main() -> None:
    if snakemake.config["inputs"]["source"] != "synthetic":
        raise RuntimeError(
            "config.yaml: inputs.source is 'files' (user data): synthesize refuses to write "
            "to the configured input paths"
        )
    raw_dir = Path(snakemake.output.alibaba).parents[1]
    truth_dir = Path(snakemake.output.truth[0]).parent
    summary = generate(
        snakemake.params.synthetic,
        preset=snakemake.params.preset,
        seed=snakemake.params.seed,
        raw_dir=raw_dir,
        truth_dir=truth_dir,
        customs=False,
    )
    for key, value in summary.items():
        logging.getLogger("synthesize").info("%s: %s", key, value)


runlog.run(main, snakemake.log[0], "synthesize")

"""Rule synthesize: write the synthetic world's raw inputs and its truth, with the customs
years that share a batch (the small ones; a large year is a synthesize_customs job of its
own), drawn from the customs plan as synthesize_customs draws them."""

import logging
from pathlib import Path

from cbec import runlog
from cbec.synth import generate, resolve_params, write_customs_file


def main() -> None:
    if snakemake.config["inputs"]["source"] != "synthetic":
        raise RuntimeError(
            "config.yaml: inputs.source is 'files' (user data): synthesize refuses to write "
            "to the configured input paths"
        )
    log = logging.getLogger("synthesize")
    raw_dir = Path(snakemake.output.alibaba).parents[1]
    truth_dir = Path(snakemake.output.truth[0]).parent
    params, preset, seed = (
        snakemake.params.synthetic,
        snakemake.params.preset,
        snakemake.params.seed,
    )
    summary = generate(
        params, preset=preset, seed=seed, raw_dir=raw_dir, truth_dir=truth_dir, customs=False
    )
    for key, value in summary.items():
        log.info("%s: %s", key, value)
    p = resolve_params(params, preset)
    plan = Path(snakemake.output.customs_plan)
    for year, path in zip(snakemake.params.customs_years, snakemake.output.customs, strict=True):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        n = write_customs_file(plan, p, seed, int(year), Path(path))
        log.info("customs %d: %d transaction rows", year, n)


runlog.run(main, snakemake.log[0], "synthesize")

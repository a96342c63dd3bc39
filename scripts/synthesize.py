"""Rule synthesize: write the synthetic world's raw inputs and its truth, with the customs
years that share a batch (the small ones; a large year is a synthesize_customs job of its
own), drawn from the customs plan as synthesize_customs draws them."""

import logging
from pathlib import Path

from cbec import runlog
from cbec.synth import generate, resolve_params, write_customs_files


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
    years = [int(y) for y in snakemake.params.customs_years]
    paths = {y: Path(f) for y, f in zip(years, snakemake.output.customs, strict=True)}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    plan = Path(snakemake.output.customs_plan)
    written = write_customs_files(plan, resolve_params(params, preset), seed, paths)
    for year, n in written.items():
        log.info("customs %d: %d transaction rows", year, n)


runlog.run(main, snakemake.log[0], "synthesize")

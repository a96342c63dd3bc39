"""Rule calibration: compare the synthetic world's moments with the paper's Table 1."""

from pathlib import Path

from cbec import runlog
from cbec.synth.calibration import calibration_report


def main() -> None:
    raw_dir = Path(snakemake.input.alibaba).parents[1]
    truth_dir = Path(snakemake.input.truth[0]).parent
    text = calibration_report(raw_dir, truth_dir)
    out = Path(snakemake.output[0])
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)


runlog.run(main, snakemake.log[0], "calibration")

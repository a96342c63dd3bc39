"""Rule scorecard: every published cell of Tables 2-7 against ours (and the synthetic truth)."""

import json
from pathlib import Path

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.validation.paper import load_paper_results
from cbec.validation.render import scorecard_md
from cbec.validation.scorecard import build_scorecard


def main() -> None:
    estimates = {Path(p).stem: json.loads(Path(p).read_text()) for p in snakemake.input.estimates}
    # the synthetic world's truth; a researcher's own data has none
    synthetic = hasattr(snakemake.input, "truth")
    truth = json.loads(Path(snakemake.input.truth).read_text()) if synthetic else None
    oracle = json.loads(Path(snakemake.input.oracle).read_text()) if synthetic else None
    card = build_scorecard(load_paper_results(), estimates, truth, oracle)
    write_text_atomic(json.dumps(card, indent=2, ensure_ascii=False), snakemake.output.json)
    write_text_atomic(scorecard_md(card), snakemake.output.md)


runlog.run(main, snakemake.log[0], "scorecard")

"""Rule check_inputs: the configured inputs against the contract (docs/data.md), one line
per problem on the terminal and in the log; exit 1 if there is any."""

import logging

from cbec import runlog
from cbec.data.contract import check_all


def main() -> None:
    p = snakemake.params
    problems = check_all(p.inputs, p.years, p.cleaning, p.members, p.last_year)
    log = logging.getLogger("check_inputs")
    for line in problems:
        log.error("%s", line)
    if problems:
        raise SystemExit(f"{len(problems)} problem(s) in the inputs (one per line above)")
    log.info("every configured input meets the contract")


# SystemExit passes through runlog.run: its message ends the output, exit status 1
runlog.run(main, snakemake.log[0], "check_inputs")

"""cbec.runlog: a rule's failure is logged with its traceback at ERROR level."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cbec import runlog


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    """runlog.setup reconfigures the root logger; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for h in root.handlers:
        if h not in handlers:
            h.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def _failing_step() -> None:
    raise ValueError("column 'cu' is missing")


def test_exception_is_logged_with_traceback_at_error(tmp_path: Path, restore_root_logger):
    log = tmp_path / "logs" / "rule.log"
    with pytest.raises(SystemExit) as ei:
        runlog.run(_failing_step, log, "rule")
    assert ei.value.code == 1
    text = log.read_text(encoding="utf-8")
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if " ERROR rule: " in line)
    assert lines[first].endswith("ValueError: column 'cu' is missing")
    # the traceback belongs to the ERROR record (follows it, no other record in between)
    rest = lines[first + 1 :]
    assert rest[0] == "Traceback (most recent call last):"
    assert any("_failing_step" in line for line in rest)
    assert rest[-1] == "ValueError: column 'cu' is missing"
    assert " DEBUG " not in text


def test_success_logs_done(tmp_path: Path, restore_root_logger):
    log = tmp_path / "rule.log"
    runlog.run(lambda: logging.getLogger("rule").info("working"), log, "rule")
    text = log.read_text(encoding="utf-8")
    assert " INFO rule: working" in text and " INFO rule: done in " in text
    assert "ERROR" not in text


def test_heartbeat_reports_a_long_step_and_its_progress(tmp_path: Path, restore_root_logger):
    log = tmp_path / "rule.log"

    def long_step() -> None:
        runlog.progress(1, 4)
        deadline = time.monotonic() + 30  # waits for the heartbeat, not for a duration
        while time.monotonic() < deadline and "still running" not in log.read_text():
            time.sleep(0.01)

    runlog.run(long_step, log, "rule", heartbeat=0.05)
    text = log.read_text(encoding="utf-8")
    assert " INFO rule: still running, " in text
    assert "1 of 4 done, about " in text and " s left" in text


def test_no_heartbeat_in_a_short_step(tmp_path: Path, restore_root_logger):
    log = tmp_path / "rule.log"
    runlog.run(lambda: None, log, "rule", heartbeat=600)
    assert "still running" not in log.read_text(encoding="utf-8")


def test_threads_reach_the_demeaner(tmp_path, monkeypatch):
    from cbec.estimation.threads import default_threads

    monkeypatch.setenv("CBEC_THREADS", "1")  # restored after the test
    seen: list[int] = []
    runlog.run(lambda: seen.append(default_threads()), tmp_path / "x.log", "rule", threads=3)
    assert seen == [3]


# A job as Snakemake starts it with `threads: 2`: the BLAS variables set to 2 in its
# environment, numpy (and its OpenBLAS) imported with the script, scipy's only inside the
# rule's step (the estimators are imported where a table runs them).
_JOB = """
import json, sys
import numpy
from threadpoolctl import threadpool_info
from cbec import runlog

seen = []

def main():
    import scipy.linalg  # noqa: F401 - its own OpenBLAS, loaded inside the step
    seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

runlog.run(main, sys.argv[1], "rule", threads=2)
after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"inside": seen, "after": after}))
"""


def test_blas_runs_on_one_thread_whatever_the_job_threads(tmp_path):
    """Snakemake sets OPENBLAS_NUM_THREADS (and the like) to the job's threads; a rule's
    step still runs BLAS on one thread, in the libraries loaded before it and inside it, so
    its sums (and the estimates) do not depend on the job's threads. The limit is lifted
    after the step."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, **dict.fromkeys(runlog.BLAS_THREAD_VARS, "2")}
    out = subprocess.run(
        [sys.executable, "-c", _JOB, str(tmp_path / "rule.log")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(out.stdout.splitlines()[-1])
    assert len(seen["inside"]) >= 2, seen  # numpy's and scipy's OpenBLAS both seen
    assert set(seen["inside"]) == {1}, seen
    assert 2 in seen["after"], seen  # numpy's, loaded before the step, is restored

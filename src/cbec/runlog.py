"""Logging for rule scripts: every message goes to the rule's log file and to stderr."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from threadpoolctl import threadpool_limits

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: seconds between two heartbeat lines of a running step (env ``CBEC_HEARTBEAT_S``)
HEARTBEAT_S = 10.0

_progress: dict[str, float] = {}

#: the variables Snakemake sets to a job's ``threads`` for the linear-algebra libraries
#: (snakemake.shell: OpenBLAS, OpenMP, MKL, Accelerate, numexpr)
BLAS_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS (numpy's and scipy's OpenBLAS) on one thread inside the block, whatever the job's
    ``threads``: a multithreaded BLAS splits its sums (``X'X``, ``X'y``, the bootstrap's
    matrix products) by thread, so on two threads the estimates differed from one thread in
    the last digits. Snakemake sets :data:`BLAS_THREAD_VARS` to the job's threads in the
    job's environment (a value set in the Snakefile is overwritten), so they are set to 1
    here, for the libraries loaded inside the block, and the libraries already loaded are
    limited through threadpoolctl; both are restored on exit."""
    saved = {k: os.environ.get(k) for k in BLAS_THREAD_VARS}
    os.environ.update(dict.fromkeys(BLAS_THREAD_VARS, "1"))
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def progress(done: int, total: int) -> None:
    """Tell the heartbeat how far the running step is (``done`` of ``total`` units)."""
    _progress.update(done=float(done), total=float(total))


def _beat_line(elapsed: float) -> str:
    """'still running, 42 s elapsed[, 3 of 8 done, about 70 s left]' (the logger names the
    step)."""
    line = f"still running, {elapsed:.0f} s elapsed"
    done, total = _progress.get("done"), _progress.get("total")
    if done and total and done < total:
        left = elapsed * (total - done) / done
        line += f", {done:.0f} of {total:.0f} done, about {left:.0f} s left"
    return line


class Heartbeat:
    """A daemon thread that logs :func:`_beat_line` every ``interval`` seconds until stopped,
    so a step longer than the interval shows it is alive and how far it is."""

    def __init__(self, log: logging.Logger, name: str, interval: float) -> None:
        self.log, self.name, self.interval = log, name, interval
        self.beats = 0
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beats += 1
            self.log.info("%s", _beat_line(time.perf_counter() - self._t0))

    def __enter__(self) -> Heartbeat:
        _progress.clear()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def setup(log_path: str | Path | None, name: str = "cbec") -> logging.Logger:
    """Configure the root logger to write to ``log_path`` and stderr; return a named logger."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, handlers=handlers, force=True)
    return logging.getLogger(name)


def run(
    main: Callable[[], object],
    log_path: str | Path | None,
    name: str,
    heartbeat: float | None = None,
    threads: int | None = None,
) -> None:
    """Run a rule's ``main`` with logging and a heartbeat (every ``heartbeat`` seconds,
    default :data:`HEARTBEAT_S` or ``CBEC_HEARTBEAT_S``); on failure log the error with its
    traceback at ERROR level (in the rule log and on stderr) and exit non-zero. ``threads``
    (the job's ``threads``) sets ``CBEC_THREADS``, the threads of the fixed-effects demeaner
    (whose results do not depend on it); BLAS runs on one thread (:func:`one_blas_thread`),
    so no result depends on the job's threads."""
    if threads is not None:
        os.environ["CBEC_THREADS"] = str(threads)
    log = setup(log_path, name)
    interval = heartbeat or float(os.environ.get("CBEC_HEARTBEAT_S", HEARTBEAT_S))
    t0 = time.perf_counter()
    try:
        with one_blas_thread(), Heartbeat(log, name, interval):
            main()
    except Exception as err:  # noqa: BLE001 - report every failure in the rule log
        log.error("%s: %s", type(err).__name__, err, exc_info=True)
        raise SystemExit(1) from err
    log.info("done in %.1f s", time.perf_counter() - t0)

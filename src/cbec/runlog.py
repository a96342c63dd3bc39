"""Logging for rule scripts: every message goes to the rule's log file and to stderr."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: seconds between two heartbeat lines of a running step (env ``CBEC_HEARTBEAT_S``)
HEARTBEAT_S = 10.0

_progress: dict[str, float] = {}


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
    (whose results do not depend on it)."""
    if threads is not None:
        os.environ["CBEC_THREADS"] = str(threads)
    log = setup(log_path, name)
    interval = heartbeat or float(os.environ.get("CBEC_HEARTBEAT_S", HEARTBEAT_S))
    t0 = time.perf_counter()
    try:
        with Heartbeat(log, name, interval):
            main()
    except Exception as err:  # noqa: BLE001 - report every failure in the rule log
        log.error("%s: %s", type(err).__name__, err, exc_info=True)
        raise SystemExit(1) from err
    log.info("done in %.1f s", time.perf_counter() - t0)

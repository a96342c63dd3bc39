"""Logging for rule scripts: every message goes to the rule's log file and to stderr."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(log_path: str | Path | None, name: str = "cbec") -> logging.Logger:
    """Configure the root logger to write to ``log_path`` and stderr; return a named logger."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, handlers=handlers, force=True)
    return logging.getLogger(name)


def run(main: Callable[[], object], log_path: str | Path | None, name: str) -> None:
    """Run a rule's ``main`` with logging; on failure log the error with its traceback at
    ERROR level (in the rule log and on stderr) and exit non-zero."""
    log = setup(log_path, name)
    t0 = time.perf_counter()
    try:
        main()
    except Exception as err:  # noqa: BLE001 - report every failure in the rule log
        log.error("%s: %s", type(err).__name__, err, exc_info=True)
        raise SystemExit(1) from err
    log.info("done in %.1f s", time.perf_counter() - t0)

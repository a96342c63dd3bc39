"""Threads of the fixed-effects demeaner: how many, and one work item per thread at a time."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def default_threads() -> int:
    """Threads for demeaning: ``CBEC_THREADS`` if set (the workflow sets the job's threads),
    else 1."""
    v = os.environ.get("CBEC_THREADS", "").strip()
    return max(int(v), 1) if v else 1


def each(fn: Callable[[int], None], items: list[int], threads: int) -> None:
    """``fn(j)`` for every item on ``threads`` threads, each item wholly on one thread (the
    compiled kernels release the GIL), so results never depend on the number of threads."""
    if threads <= 1 or len(items) <= 1:
        for j in items:
            fn(j)
    else:
        with ThreadPoolExecutor(min(threads, len(items))) as ex:
            list(ex.map(fn, items))

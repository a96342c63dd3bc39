"""Which customs years share a job: consecutive years are grouped while their combined size
stays within a limit, so small years (the synthetic presets: 0.2 M rows a year, a job mostly
start-up) share one job and large ones (licensed files of 10-30 M rows) keep a job each (a
cluster runs them in parallel; a job's memory stays that of one year, as a job streams its
years one after the other). Evaluated when the workflow is parsed: no heavy imports."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping

from cbec.config import all_years, year_input


def year_batches(sizes: Mapping[int, float], limit: float) -> list[list[int]]:
    """The years of `sizes` in order, grouped into batches of consecutive years whose total
    size stays within `limit`: a year above `limit` (every year when `limit` is 0) is a batch
    of its own; each run of smaller years between them is split into the fewest batches of
    about equal size that fit (:func:`_balanced`)."""
    batches: list[list[int]] = []
    run: list[int] = []
    for year in sorted(sizes):
        if limit > 0 and sizes[year] <= limit:
            run.append(year)
            continue
        batches += _balanced(run, sizes, limit) + [[year]]
        run = []
    return batches + _balanced(run, sizes, limit)


def _balanced(years: list[int], sizes: Mapping[int, float], limit: float) -> list[list[int]]:
    """`years` (each at most `limit`) split into the fewest consecutive batches that fit
    within `limit` (as many as filling batches greedily gives), their largest as small as
    possible (the earliest split among equal ones)."""
    n = len(years)
    cum = [0.0]
    for y in years:
        cum.append(cum[-1] + sizes[y])
    k, start = 0, 0
    for i in range(1, n + 1):  # the fewest batches: fill each while it fits
        if cum[i] - cum[start] > limit:
            k, start = k + 1, i - 1
    k += n > 0
    # worst[j][i]: the smallest largest batch of years[:i] in j batches; cut: its last start
    worst = [[math.inf] * (n + 1) for _ in range(k + 1)]
    cut = [[0] * (n + 1) for _ in range(k + 1)]
    worst[0][0] = 0.0
    for j in range(1, k + 1):
        for i in range(j, n + 1):
            for m in range(j - 1, i):
                w = max(worst[j - 1][m], cum[i] - cum[m])
                if w < worst[j][i]:
                    worst[j][i], cut[j][i] = w, m
    out, i = [], n
    for j in range(k, 0, -1):
        out.append(years[cut[j][i] : i])
        i = cut[j][i]
    return out[::-1]


def batch_name(years: Iterable[int]) -> str:
    """``2001-2004`` for a batch of consecutive years, ``2005`` for one year."""
    ys = sorted(int(y) for y in years)
    if ys != list(range(ys[0], ys[-1] + 1)):
        raise ValueError(f"a batch holds consecutive years, not {ys}")
    return str(ys[0]) if len(ys) == 1 else f"{ys[0]}-{ys[-1]}"


def batch_years(name: str) -> list[int]:
    """The years of a batch name (:func:`batch_name`)."""
    first, _, last = name.partition("-")
    return list(range(int(first), int(last or first) + 1))


def file_sizes(paths: Mapping[int, str]) -> dict[int, float]:
    """Bytes on disk of each year's file; a missing file counts as infinitely large (a job of
    its own, which then reports the missing file)."""
    return {y: os.path.getsize(p) if os.path.isfile(p) else math.inf for y, p in paths.items()}


def customs_year_sizes(config: dict) -> tuple[dict[int, float], float]:
    """Each configured year's customs size and the limit of a job (config.yaml ``customs``):
    the bytes of the delivered files against ``batch_mb`` (inputs.source: files), or the
    synthetic world's planned transaction rows against ``batch_rows``."""
    years, limits = all_years(config), config["customs"]
    if config["inputs"]["source"] == "files":
        paths = {y: year_input(config["inputs"], "customs", y) for y in years}
        return file_sizes(paths), limits["batch_mb"] * 1e6
    from cbec.synth.params import planned_customs_rows, resolve_params

    planned = planned_customs_rows(resolve_params(config["synthetic"], config["preset"]))
    return {y: planned[y] for y in years}, limits["batch_rows"]


def customs_batches(config: dict) -> list[str]:
    """The customs batches of a validated config, in year order (:func:`year_batches`)."""
    sizes, limit = customs_year_sizes(config)
    return [batch_name(b) for b in year_batches(sizes, limit)]

"""Customs years in batches (cbec.data.batches): small years share a job, a large year has
its own, consecutive years only, and config.yaml's customs limits decide (0: one job a year)."""

from __future__ import annotations

import copy
import math

import pytest
import yaml

from cbec.config import apply_defaults, validate_config
from cbec.data.batches import (
    batch_name,
    batch_years,
    customs_batches,
    customs_year_sizes,
    year_batches,
)

YEARS = list(range(2001, 2016))


def _flat(batches):
    return [y for b in batches for y in b]


def test_small_years_share_a_batch_and_a_large_year_is_alone():
    sizes = {2001: 1, 2002: 1, 2003: 10, 2004: 1, 2005: 1, 2006: 1}
    assert year_batches(sizes, 4) == [[2001, 2002], [2003], [2004, 2005, 2006]]


def test_batches_are_the_fewest_that_fit_and_balanced():
    sizes = dict.fromkeys(YEARS, 1.0)
    batches = year_batches(sizes, 5)
    assert [len(b) for b in batches] == [5, 5, 5]
    # 15 years of 1 within 4: four batches (the fewest), none above 4, none below 3
    batches = year_batches(sizes, 4)
    assert len(batches) == 4 and {len(b) for b in batches} <= {3, 4}
    # uneven sizes: greedy filling would leave [2001-2003] = 9 and [2004] = 5; balanced
    # batches of the same number have the smaller largest batch
    uneven = {2001: 3, 2002: 3, 2003: 3, 2004: 5}
    assert year_batches(uneven, 9) == [[2001, 2002], [2003, 2004]]


@pytest.mark.parametrize("limit", [0, 0.5])
def test_a_limit_below_every_year_gives_one_job_per_year(limit):
    sizes = dict.fromkeys(YEARS, 1)
    assert year_batches(sizes, limit) == [[y] for y in YEARS]
    # zero-sized years too (limit 0 means one job per year, not "sizes up to 0")
    assert year_batches(dict.fromkeys(YEARS, 0), 0) == [[y] for y in YEARS]


@pytest.mark.parametrize("seed", range(20))
def test_every_year_once_in_order_and_within_the_limit(seed):
    import random

    rnd = random.Random(seed)
    sizes = {y: rnd.choice([0, 1, 2, 5, 40]) * rnd.random() for y in YEARS}
    limit = rnd.choice([1.0, 3.0, 10.0, 100.0])
    batches = year_batches(sizes, limit)
    assert _flat(batches) == YEARS
    for b in batches:
        assert b == list(range(b[0], b[-1] + 1))
        assert len(b) == 1 or sum(sizes[y] for y in b) <= limit
    # the fewest batches: no two neighbours could have been one
    for a, b in zip(batches, batches[1:], strict=False):
        assert sum(sizes[y] for y in a + b) > limit or limit <= 0


def test_batch_names_round_trip():
    assert batch_name([2003, 2001, 2002]) == "2001-2003"
    assert batch_name([2005]) == "2005"
    assert batch_years("2001-2003") == [2001, 2002, 2003]
    assert batch_years("2005") == [2005]
    with pytest.raises(ValueError, match="consecutive"):
        batch_name([2001, 2003])


def _config(base_config, **customs):
    cfg = copy.deepcopy(base_config)
    cfg["customs"].update(customs)
    return apply_defaults(validate_config(cfg))


def test_paper_preset_years_share_jobs_and_real_volume_years_do_not(base_config, root):
    paper = customs_batches(_config(base_config))
    assert 1 < len(paper) < 8 and any("-" in b for b in paper)
    assert _flat(batch_years(b) for b in paper) == YEARS
    with open(root / "benchmarks/real_volume_customs.yaml", encoding="utf-8") as fh:
        overlay = yaml.safe_load(fh)
    cfg = copy.deepcopy(base_config)
    cfg["preset"] = overlay["preset"]
    cfg["synthetic"]["customs"] = overlay["synthetic"]["customs"]
    assert customs_batches(apply_defaults(validate_config(cfg))) == [str(y) for y in YEARS]


def test_the_override_sets_one_job_per_year_or_one_job(base_config):
    assert customs_batches(_config(base_config, batch_rows=0)) == [str(y) for y in YEARS]
    assert customs_batches(_config(base_config, batch_rows=10**9)) == ["2001-2015"]


def test_user_files_are_sized_in_bytes(base_config, tmp_path):
    cfg = copy.deepcopy(base_config)
    cfg["inputs"]["source"] = "files"
    cfg["inputs"]["customs"] = str(tmp_path / "customs_{year}.parquet")
    cfg["customs"]["batch_mb"] = 3
    for y in YEARS:
        # 1.5 MB a year, 2008 a licensed-size year of 5 MB, 2015 not delivered yet
        if y != 2015:
            size = 5_000_000 if y == 2008 else 1_500_000
            (tmp_path / f"customs_{y}.parquet").write_bytes(b"\0" * size)
    cfg = apply_defaults(validate_config(cfg))
    sizes, limit = customs_year_sizes(cfg)
    assert limit == 3e6 and sizes[2001] == 1.5e6 and math.isinf(sizes[2015])
    assert customs_batches(cfg) == [
        "2001", "2002-2003", "2004-2005", "2006-2007", "2008", "2009-2010", "2011-2012",
        "2013-2014", "2015",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "value,phrase", [(-1, "minimum"), ("many", "is not of type"), (1.5, "is not of type")]
)
def test_a_bad_limit_names_its_key(base_config, value, phrase):
    from cbec.errors import ConfigError

    cfg = copy.deepcopy(base_config)
    cfg["customs"]["batch_rows"] = value
    with pytest.raises(ConfigError, match=rf"customs\.batch_rows.*{phrase}"):
        validate_config(cfg)

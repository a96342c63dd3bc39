"""The synthetic member lists pass the pipeline's own plausibility checks (cbec.data.members):
no membership is older than the platform, whatever the number of listed non-manufacturers."""

from __future__ import annotations

import polars as pl
import yaml

from cbec.data.io import read_raw
from cbec.data.members import check_members
from cbec.synth import generate

SEED = 20250401


def test_member_lists_pass_the_plausibility_checks(tmp_path, root):
    # many non-manufacturers: their tenures are geometric, so the tail reaches past 1999
    params = {
        "presets": {"tiny": {"n_firms_2001": 600}},
        "members": {"non_manufacturer_share": 5.0, "mic_non_manufacturer_share": 5.0},
    }
    generate(params, "tiny", SEED, tmp_path / "raw", tmp_path / "truth")
    cfg = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    for platform in ("alibaba", "mic"):
        path = tmp_path / "raw" / "members" / f"{platform}.parquet"
        members = read_raw(path, "members", required=["member_id", "member_years", "scrape_date"])
        kept, dropped = check_members(
            members,
            str(path),
            launch_year=int(cfg["members"]["launch_year"][platform]),
            scrape_window=tuple(cfg["members"]["scrape_window"]),
            last_year=int(cfg["years"]["last"]),
        )
        assert kept.height == members.height > 500 and not dropped
        years = members["member_years"].str.extract(r"(\d+)").cast(pl.Int64)
        assert years.max() == 2024 - 1999 + 1  # the cap binds: the tail is there

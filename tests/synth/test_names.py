"""Name pieces, noise and codes."""

from __future__ import annotations

import numpy as np
import polars as pl

from cbec.synth import names as nm
from cbec.synth.firms import check_digit, unique_ints


def _pieces(n: int, rng: np.random.Generator) -> pl.DataFrame:
    core, _ = nm.cores_to_str(nm.sample_cores(rng, n))
    return pl.DataFrame(
        {
            "prefix": ["宁波"] * n,
            "core": core,
            "indword": ["塑料"] * n,
            "place": [""] * n,
            "suffix_idx": np.zeros(n, dtype=np.int64),
            "city_short": ["宁波"] * n,
        }
    )


def test_clean_names_assemble():
    rng = np.random.default_rng(0)
    p = _pieces(200, rng)
    names = nm.noisy_names(p, rng)
    assert names.str.starts_with("宁波").all() and names.str.ends_with("塑料有限公司").all()
    assert names.str.len_chars().is_between(10, 11).all()


def test_noise_kinds():
    rng = np.random.default_rng(1)
    p = _pieces(4000, rng)
    trad = nm.traditional_map([nm.CORE_CHARS, "塑料有限公司宁波"])
    clean = nm.assemble(p.with_columns(suffix=pl.lit("有限公司")))
    noisy = nm.noisy_names(
        p,
        rng,
        fullwidth=0.5,
        bracket_place=0.2,
        suffix_variant=0.2,
        typo=0.1,
        traditional=0.1,
        space=0.05,
        trad_map=trad,
    )
    changed = (noisy != clean).mean()
    assert 0.2 < changed < 0.6
    assert noisy.str.contains("（宁波）").any()  # bracketed place, full-width
    assert noisy.str.contains(r"\(宁波\)").any()  # bracketed place, half-width
    assert noisy.str.contains("有限责任公司").any()  # suffix variant
    assert noisy.str.contains("塑料有限公司").any()
    assert noisy.str.contains("寧波").any()  # traditional characters
    assert noisy.str.contains(" ").any()


def test_noise_is_seeded():
    p = _pieces(500, np.random.default_rng(2))
    a = nm.noisy_names(p, np.random.default_rng(5), typo=0.3, suffix_variant=0.3)
    b = nm.noisy_names(p, np.random.default_rng(5), typo=0.3, suffix_variant=0.3)
    c = nm.noisy_names(p, np.random.default_rng(6), typo=0.3, suffix_variant=0.3)
    assert a.equals(b) and not a.equals(c)


def test_check_digit_gb11714():
    # known valid organisation codes: 12345678-8 ... computed by the GB 11714 rule
    d = np.array([12345678, 69773009, 0])
    c = check_digit(d)
    w = np.array([3, 7, 9, 10, 5, 8, 4, 2])
    for num, ch in zip(d, c, strict=True):
        digits = [int(x) for x in f"{num:08d}"]
        r = 11 - (np.dot(digits, w) % 11)
        assert ch == {10: "X", 11: "0"}.get(r, str(r))
    assert c[0] == "8"


def test_unique_ints():
    rng = np.random.default_rng(3)
    x = unique_ints(rng, 5000, 6000)
    assert len(set(x.tolist())) == 5000 and x.min() >= 0 and x.max() < 6000


def test_person_names():
    s = nm.person_names(np.random.default_rng(4), 1000)
    assert s.str.len_chars().is_between(2, 3).all()
    assert s.str.slice(0, 1).is_in(list(nm.SURNAMES)).all()


def test_member_listings_follow_the_parameters(tiny_world):
    """Listing kinds of true members: rates near the parameters; English-only rows have no
    Chinese name; a trading company's name carries a trade word; a short name no suffix."""
    from cbec.synth.members import ALIBABA_HEADERS
    from cbec.synth.params import DEFAULTS

    raw, truth, _ = tiny_world
    q = DEFAULTS["names"]
    t = pl.read_parquet(truth / "members.parquet").filter(pl.col("list") == "alibaba")
    m = pl.read_parquet(raw / "members" / "alibaba.parquet").rename(
        {v: k for k, v in ALIBABA_HEADERS.items()}
    )
    d = t.join(m, on="member_id").filter(pl.col("kind") == "manufacturer")
    english = d["listing"].str.starts_with("english_")
    assert abs(english.mean() - q["member_english_only"]) < 0.06
    assert d.filter(english)["name_cn"].is_null().all()
    assert d.filter(~english)["name_cn"].is_not_null().all()
    assert d["name_en"].is_not_null().all()
    arm = d.filter(pl.col("listing") == "trading_arm")
    assert abs(d["listing"].str.ends_with("trading_arm").mean() - q["member_trading_arm"]) < 0.03
    assert arm["name_cn"].str.contains("|".join(nm.TRADE_WORDS)).all()
    short = d.filter(pl.col("listing") == "short_name")
    assert short.height > 0 and not short["name_cn"].str.contains("公司|厂$").any()


def test_noise_of_reads_one_sources_probabilities() -> None:
    import inspect

    from cbec.synth import names as nm

    q = {"customs_typo": 0.1, "member_typo": 0.2, "customs_old_name": 0.5, "member_space": 0.3}
    assert nm.noise_of(q, "customs") == {"typo": 0.1}
    assert nm.noise_of(q, "member") == {"typo": 0.2, "space": 0.3}
    assert set(nm.NOISE_KINDS) <= set(inspect.signature(nm.noisy_names).parameters)

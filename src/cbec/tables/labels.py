"""Variable, fixed-effect, statistic and table labels in English and in the paper's Chinese.

Regression rows in the paper use the variable codes (``platform``, ``lnqygm``) while column
headers use descriptive names (企业产能利用率); both styles are available through
:func:`var_label` (``style="code"`` / ``style="label"``). Interaction terms arrive from
pyfixest as ``"platform:sfhighict"`` and are shown as ``"platform × sfhighict"``. The label
tables themselves are data, in ``labels.toml`` next to this module.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

__all__ = [
    "CONTROLS",
    "DEFAULT_TITLES",
    "ESTIMATORS",
    "FE_LABELS",
    "FIGURE_TEXT",
    "HEADERS",
    "NOTES",
    "PAPER_CODES",
    "STAT_LABELS",
    "TEXT",
    "TREATMENTS",
    "VARIABLES",
    "canonical_fe",
    "estimator_label",
    "event_time_label",
    "fe_label",
    "fe_sort_key",
    "header_label",
    "note_text",
    "split_fixed_effects",
    "stat_label",
    "text",
    "title_for",
    "var_label",
]

Lang = Literal["en", "zh"]

LABELS_PATH = Path(__file__).with_name("labels.toml")


def _load_labels(path: Path = LABELS_PATH) -> dict[str, dict[str, dict[str, str]]]:
    """The label tables of ``labels.toml`` (``key = [English, Chinese]``) as
    ``table -> key -> {"en": .., "zh": ..}``, in the file's order."""
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    tables: dict[str, dict[str, dict[str, str]]] = {}
    for table, rows in raw.items():
        tables[table] = {}
        for key, pair in rows.items():
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
            ):
                raise ValueError(
                    f"{path.name}: [{table}] {key!r} must be [English, Chinese], got {pair!r}"
                )
            tables[table][key] = {"en": pair[0], "zh": pair[1]}
    return tables


_LABELS = _load_labels()
# name -> labels; Chinese follows the paper's wording where it has one.
VARIABLES: dict[str, dict[str, str]] = _LABELS["variables"]
# The variable codes the paper itself prints in its regression rows; every other name is
# shown by its label, also with ``style="code"``.
PAPER_CODES: frozenset[str] = frozenset(
    {"platform", "lnqygm", "lnage", "sfgyqy", "sfwzqy", "percs", "fc"}
    | {"sfhighict", "sfold", "sfhighscore", "cu"}
)

# Treatment variables (listed first in regression tables).
TREATMENTS: tuple[str, ...] = ("platform", "platform_mic")
# The paper's control variables (hidden behind a "Controls" row when requested).
CONTROLS: tuple[str, ...] = ("lnqygm", "lnage", "percs", "sfgyqy", "sfwzqy", "fc")

# Fixed effects as pyfixest writes them (``a^b`` = interacted) -> labels; the order of this
# dict is the row order in tables.
FE_LABELS: dict[str, dict[str, str]] = _LABELS["fixed_effects"]
_FE_ALIASES = {
    "year^ind2": "ind2^year",
    "year^city": "city^year",
    "year^province": "province^year",
    "city_code^year": "city^year",
    "year^city_code": "city^year",
    "province_code^year": "province^year",
}
_FE_PARTS: dict[str, dict[str, str]] = _LABELS["fe_parts"]

# Known entries of a column's "stats"; the order of this dict is the row order in tables.
STAT_LABELS: dict[str, dict[str, str]] = _LABELS["stats"]
# statistics that are p-values (printed as "<0.001" below 0.001)
P_VALUE_STATS: frozenset[str] = frozenset({"kp_lm_p", "pretrend_p", "wild_p", "ar_p"})
# statistics that are counts (printed with thousands separators)
COUNT_STATS: frozenset[str] = frozenset({"n_clusters"})

ESTIMATORS: dict[str, dict[str, str]] = _LABELS["estimators"]
# Column headers written in config.yaml (English) -> both languages; a header not listed
# here is shown as written.
HEADERS: dict[str, dict[str, str]] = _LABELS["headers"]
# Fixed interface strings.
TEXT: dict[str, dict[str, str]] = _LABELS["text"]
DEFAULT_TITLES: dict[str, dict[str, str]] = _LABELS["titles"]
# The notes the estimation code writes in English -> both languages.
NOTES: dict[str, dict[str, str]] = _LABELS["notes"]
# The text of the figures (titles, axes, legends; ``{var}`` and ``{ref}`` filled in there).
FIGURE_TEXT: dict[str, dict[str, str]] = _LABELS["figures"]


def note_text(note: str, lang: Lang = "en") -> str:
    """A note written by the estimation code, in ``lang`` when :data:`NOTES` knows it."""
    key = note.strip().rstrip(".")
    return NOTES.get(key, {}).get(lang, note)


def text(key: str, lang: Lang = "en") -> str:
    """A fixed interface string (``TEXT[key][lang]``)."""
    return TEXT[key][lang]


def var_label(name: str, lang: Lang = "en", style: Literal["code", "label"] = "label") -> str:
    """Label of a variable; interactions ``a:b`` become ``a × b`` (each part labelled).

    ``style="code"`` keeps the variable codes (as the paper's regression rows do);
    ``style="label"`` uses the descriptive names. Unknown names are returned unchanged.
    """
    parts = name.split(":")
    if style == "code":
        return " × ".join(p if p in PAPER_CODES else _label_or_code(p, lang) for p in parts)
    return " × ".join(_label_or_code(p, lang) for p in parts)


def _label_or_code(name: str, lang: Lang) -> str:
    if name in VARIABLES:
        return VARIABLES[name][lang]
    rel = event_time_label(name, lang)
    return rel if rel is not None else name


def event_time_label(
    name: str, lang: Lang = "en", window: tuple[int, int] | None = None
) -> str | None:
    """``rel_-3`` -> "−3" (``window``'s endpoints pool: "−5 and earlier", "5 and later");
    None for a name that is not an event-time coefficient."""
    if not name.startswith("rel_"):
        return None
    try:
        k = int(name[4:])
    except ValueError:
        return None
    num = f"−{-k}" if k < 0 else str(k)
    if window is not None and k == window[0]:
        return f"{num}及更早" if lang == "zh" else f"{num} and earlier"
    if window is not None and k == window[1]:
        return f"{num}及更晚" if lang == "zh" else f"{num} and later"
    return num


def header_label(header: object, lang: Lang = "en") -> str | None:
    """A column header from config.yaml in ``lang``: ``{"en": .., "zh": ..}`` or a string
    (translated when :data:`HEADERS` knows it)."""
    if header is None or header == "":
        return None
    if isinstance(header, dict):
        got = header.get(lang) or header.get("en")
        return None if got is None else str(got)
    return HEADERS.get(str(header), {}).get(lang, str(header))


def fe_label(fe: str, lang: Lang = "en") -> str:
    """Row label of a fixed effect (``firm_id``, ``ind2^year``, ``city^year``, ...)."""
    key = _FE_ALIASES.get(fe, fe)
    if key in FE_LABELS:
        return FE_LABELS[key][lang]
    parts = key.split("^")
    named = [_FE_PARTS.get(p, {}).get(lang, p) for p in parts]
    if lang == "zh":
        return "".join(named) + "固定效应"
    return "×".join(named) + " FE"


def fe_sort_key(fe: str) -> tuple[int, str]:
    """Order of fixed-effect rows: the known ones in ``FE_LABELS`` order, then alphabetical."""
    key = _FE_ALIASES.get(fe, fe)
    order = list(FE_LABELS)
    return (order.index(key), "") if key in order else (len(order), key)


def canonical_fe(fe: str) -> str:
    """Canonical spelling of a fixed effect (``year^ind2`` -> ``ind2^year``)."""
    return _FE_ALIASES.get(fe.strip(), fe.strip())


def split_fixed_effects(fe: list[str] | str | None) -> list[str]:
    """Fixed effects as a list: accepts a list or a pyfixest string ``"a+b^c"``."""
    if fe is None:
        return []
    if isinstance(fe, str):
        fe = [f for f in fe.split("+") if f.strip() and f.strip() != "0"]
    return [canonical_fe(f) for f in fe]


def stat_label(key: str, lang: Lang = "en") -> str:
    """Row label of a statistic; unknown keys are returned unchanged."""
    return STAT_LABELS[key][lang] if key in STAT_LABELS else key


def estimator_label(estimator: str, lang: Lang = "en") -> str:
    """Short label of an estimator (``feols`` -> OLS, ``iv2sls`` -> 2SLS, ...)."""
    return ESTIMATORS.get(estimator, {}).get(lang, estimator)


def title_for(table: str, lang: Lang = "en") -> str | None:
    """The paper's title of ``table`` (``"table2"``) in ``lang``, if known."""
    return DEFAULT_TITLES.get(table, {}).get(lang)

"""How Table 8 (the event study) is rendered: row labels by years since joining, and its notes
written as sentences in English and Chinese from the estimates JSON.

The estimation code records what happened in short English notes (``"twfe: dropped 12 rows
with missing cu/controls/FE/cluster"``); they stay as they are in the JSON and the log, and
are restated here in words for the reader, by the patterns and sentences of
``event_notes.toml``. A note not recognised is left out of the table
(it remains in the JSON).
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cbec.tables import labels as L

__all__ = ["event_study_notes", "event_study_render"]


def _fmt(n: str) -> str:
    return f"{int(n):,}"


NOTES_PATH = Path(__file__).with_name("event_notes.toml")


def load_note_patterns(path: Path = NOTES_PATH) -> list[tuple[re.Pattern[str], str, str]]:
    """(pattern, English, Chinese) of every ``[[note]]`` in ``path``, in order; ValueError naming
    the entry when a pattern does not compile or a sentence uses a field the pattern lacks."""
    with path.open("rb") as fh:
        entries = tomllib.load(fh).get("note", [])
    out = []
    for i, e in enumerate(entries, 1):
        where = f"{path.name}: note {i}"
        try:
            pattern = re.compile(e["pattern"])
            en, zh = str(e["en"]), str(e["zh"])
        except (KeyError, re.error) as err:
            raise ValueError(f"{where}: needs a valid pattern, en and zh ({err})") from err
        known = {"who", *pattern.groupindex}
        for text in (en, zh):
            used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            if used - known:
                raise ValueError(
                    f"{where}: {text!r} uses {sorted(used - known)}, not in the pattern"
                )
        out.append((pattern, en, zh))
    return out


# pattern of an estimation note -> its sentence in "en" / "zh" (``event_notes.toml``)
_PATTERNS = load_note_patterns()


def _phrase(template: str, m: re.Match[str], who: str) -> str:
    """``template`` filled with the estimator ``who`` and the note's named groups."""
    fields = {k: _fmt(v) if k == "n" else v for k, v in m.groupdict().items()}
    return template.format(who=who, **fields)


def _estimator_of(note: str) -> tuple[str | None, str]:
    key, sep, rest = note.partition(": ")
    if sep and key in L.ESTIMATORS and key != "static_twfe":
        return key, rest
    return None, note


def _sentences(notes: list[str], lang: L.Lang) -> list[str]:
    out: list[str] = []
    for note in notes:
        key, rest = _estimator_of(note)
        who = L.estimator_label(key, lang) if key else ""
        for pattern, en, zh in _PATTERNS:
            m = pattern.match(rest) or pattern.match(note)
            if m:
                out.append(_phrase(zh if lang == "zh" else en, m, who))
                break
    return list(dict.fromkeys(out))


def _signed(k: Any) -> str:
    """An event time with a true minus sign (−5)."""
    return f"−{-int(k)}" if k is not None and int(k) < 0 else str(k)


def _reading(est: Mapping[str, Any], lang: L.Lang) -> str:
    lo, hi = (_signed(k) for k in est.get("window", [None, None]))
    ref = _signed(est.get("ref", -1))
    if lang == "zh":
        return (
            f"各行为加入平台前后第k年的效应,以第{ref}年为参照;两端的{lo}和{hi}分别合并更早和更晚的年份。"
            "平均处理效应为按处理组企业—年份加权的加入后平均效应(静态双向固定效应模型为单一的加入后虚拟变量)。"
            "事前趋势F检验的原假设为全部提前项系数为零。"
        )
    return (
        f"Rows give the effect k years after joining, relative to year {ref}; the endpoints "
        f"{lo} and {hi} pool the earlier and later years. The ATT is the average effect after "
        "joining, weighted by treated firm-years (in the static TWFE, the single post-joining "
        "dummy). The pre-trend F tests that all leads are zero."
    )


def event_study_notes(est: Mapping[str, Any]) -> dict[str, str]:
    """The notes of the event-study table as sentences, by language."""
    raw = [str(n) for n in est.get("notes") or []]
    out = {}
    for lang in ("en", "zh"):
        sep = "" if lang == "zh" else " "
        out[lang] = sep.join([*_sentences(raw, lang), _reading(est, lang)])
    return out


def event_study_render(est: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(estimates as rendered, keyword arguments of the renderer) of an event-study table."""
    window = tuple(est.get("window") or (None, None))
    names = list(dict.fromkeys(k for c in est["columns"] for k in c["coef"]))
    row_labels = {}
    for k in names:
        if k.startswith("rel_"):
            row_labels[k] = {
                lang: L.event_time_label(k, lang, window) or k  # type: ignore[arg-type]
                for lang in ("en", "zh")
            }
    # the estimator row names each column; the header would repeat it
    columns = [{k: v for k, v in c.items() if k != "header"} for c in est["columns"]]
    table_est = dict(est, columns=columns, notes=event_study_notes(est))
    return table_est, {
        "coef_order": names,
        "stats_keys": ["pretrend_f", "pretrend_p", "n_clusters"],
        "row_labels": row_labels,
    }

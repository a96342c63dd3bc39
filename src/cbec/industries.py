"""The industry classification of the data: 2-digit CIC manufacturing industries.

One list, used by the synthetic world (:mod:`cbec.synth.params`) and as the default of
``measures.industries`` in config.yaml (:func:`cbec.config.apply_defaults`); a researcher whose
data have other industries sets ``measures.industries``.
"""

from __future__ import annotations

# CIC (GB/T 4754-2002) 2-digit manufacturing industries 13-43 (38 does not exist), as in ASIF
CIC_MANUFACTURING: tuple[str, ...] = (
    "13", "14", "15", "16", "17", "18", "19", "20", "21", "22",
    "23", "24", "25", "26", "27", "28", "29", "30", "31", "32",
    "33", "34", "35", "36", "37", "39", "40", "41", "42", "43",
)  # fmt: skip

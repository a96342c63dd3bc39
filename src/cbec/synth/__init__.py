"""Synthetic world with known truth (see docs/synthetic_world.md).

Entry points: :func:`generate` and :func:`write_customs_file` (in :mod:`cbec.synth.generator`).
"""

from __future__ import annotations

from .generator import generate, write_customs_file, write_customs_files
from .params import DEFAULTS, PRESETS, resolve_params

__all__ = [
    "generate",
    "write_customs_file",
    "write_customs_files",
    "resolve_params",
    "DEFAULTS",
    "PRESETS",
]

"""Synthetic world with known truth (see docs/synthetic_world.md).

Entry point: :func:`generate` (in :mod:`cbec.synth.generator`).
"""

from __future__ import annotations

from .generator import generate
from .params import DEFAULTS, PRESETS, resolve_params

__all__ = ["generate", "resolve_params", "DEFAULTS", "PRESETS"]

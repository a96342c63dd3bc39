"""Start-up cost of the light jobs: gathering the measures, Table 1 (descriptive) and the
workbook run as their own Snakemake jobs and must not import the estimators' libraries
(scipy, numba: about a CPU-second per job; benchmarks/results/scaling.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module", ["cbec.measures.gather", "cbec.tables.run", "cbec.data.panel", "cbec.data.customs"]
)
def test_light_modules_do_not_import_the_estimators(module):
    code = f"import sys, {module}; print(sorted({{'scipy', 'numba'}} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{module} imports {out.stdout.strip()}"


@pytest.mark.parametrize("module", ["cbec.synth", "cbec.data.contract", "cbec.data.customs"])
def test_jobs_reading_config_helpers_do_not_import_the_validator(module):
    """The config schema validator (jsonschema, referencing) is imported by validate_config
    only, not by the jobs that read cbec.config's helpers (the synthetic world's jobs)."""
    code = (
        f"import sys, {module}; print(sorted({{'jsonschema', 'referencing'}} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{module} imports {out.stdout.strip()}"

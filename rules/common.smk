# Shared set-up: validate the configuration before any job, and helpers for paths.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from cbec.config import all_years, analysis_years, validate_config  # noqa: E402
from cbec.errors import ConfigError  # noqa: E402

try:
    validate_config(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

YEARS = all_years(config)
ANALYSIS_YEARS = analysis_years(config)
SYNTHETIC = config["inputs"]["source"] == "synthetic"
PY = str(Path(workflow.basedir) / "scripts")


def raw_path(kind, year=None):
    """Path of a raw input as config.yaml sets it."""
    p = config["inputs"][kind]
    return p.format(year=year) if year is not None else p


def raw_years(kind):
    return [raw_path(kind, y) for y in YEARS]


def truth_file(name):
    """The synthetic truth, used only to print match quality in reports (never in tables)."""
    return f"resources/truth/{name}" if SYNTHETIC else ""


def table_outputs(name):
    return {
        "estimates": f"results/estimates/{name}.json",
        "tex": f"results/tables/{name}.tex",
        "md": f"results/tables/{name}.md",
        "html": f"results/tables/{name}.html",
    }


def all_targets():
    targets = ["results/measures/diagnostics.csv"]
    for name in config["tables"]["specs"]:
        targets += [f"results/tables/{name}.{ext}" for ext in ("tex", "md", "html")]
    if SYNTHETIC:
        targets.append("results/synthetic/calibration.md")
    return targets

# Shared set-up: validate the configuration before any job, and helpers for paths.
import sys
from os import environ
from pathlib import Path

# pyfixest orders some internal sets by hash (interacted fixed effects, collinearity
# checks); a fixed hash seed for every job makes reruns byte-identical.
environ["PYTHONHASHSEED"] = "0"
# pyfixest's Rust solvers (its LSMR demeaner, the last resort of cbec.estimation.fe, and the
# estimators used through pyfixest) sum in a thread-dependent order on several threads;
# one Rayon thread per job keeps them bit-for-bit reproducible. Our own demeaner runs on the
# job's `threads` (CBEC_THREADS, set by runlog.run) with results independent of them.
environ["RAYON_NUM_THREADS"] = "1"
# BLAS (numpy's and scipy's OpenBLAS) splits its sums by thread, so it runs on one thread in
# every job: not set here, since Snakemake sets OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and the
# like to the job's `threads` when it starts a job, but by runlog.run (cbec.runlog.one_blas_thread).

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from cbec.config import (
    all_years,
    analysis_years,
    apply_defaults,
    headline_spec,
    type_command_line,
    validate_config,
    year_input,
)  # noqa: E402
from cbec.data.batches import batch_years, customs_batches  # noqa: E402
from cbec.errors import ConfigError  # noqa: E402
from cbec.validation.oracle_names import oracle_names  # noqa: E402

# config files in the order they apply: the `configfile:` directive, then --configfile
_OVERRIDES = [str(f) for f in workflow.overwrite_configfiles]
_CONFIG_FILES = [
    str(f) for f in workflow.configfiles if str(f) not in _OVERRIDES
] + _OVERRIDES

# nested --config values arrive as strings ('{batch_rows: 0}' gives batch_rows '0'): typed
# as the schema asks before validation (cbec.config.type_command_line)
type_command_line(config, workflow.config_settings.config)
try:
    validate_config(config, files=_CONFIG_FILES)
except ConfigError as err:
    raise WorkflowError(str(err)) from None
apply_defaults(config)

YEARS = all_years(config)
ANALYSIS_YEARS = analysis_years(config)
# a {year} wildcard takes only the configured years
YEAR_PATTERN = "|".join(str(y) for y in YEARS)
# customs years in batches (config.yaml customs; cbec.data.batches): "2001-2007" shares a
# job, "2008" has its own; a {batch} wildcard takes only these
CUSTOMS_BATCHES = customs_batches(config)
BATCH_PATTERN = "|".join(CUSTOMS_BATCHES)
SYNTHETIC = config["inputs"]["source"] == "synthetic"
PY = str(Path(workflow.basedir) / "scripts")
# the tables (config.yaml tables.specs) and how they are rendered
TABLES = list(config["tables"]["specs"])
# figure name -> the event-study table it is drawn from (`figure:` of a table's spec)
EVENT_STUDY_FIGURES = {
    spec["figure"]: name
    for name, spec in config["tables"]["specs"].items()
    if spec["kind"] == "event_study" and "figure" in spec
}
TABLE_STYLE = {k: config["tables"][k] for k in ("stat", "lang")}
# the tables re-estimated on the synthetic truth, one oracle_table job each (rules/validation.smk)
ORACLE_NAMES = oracle_names(config["tables"]["specs"])
PLATFORMS = ["alibaba", "mic"]
DIAGNOSTIC_FIGURES = ["cu_distribution", "psm_balance", "match_scores", "first_stage"]


def raw_path(kind, year=None):
    """Path of a raw input as config.yaml sets it (a year's own path if inputs.<kind>_by_year
    has one: a delivery in another format, cbec.config.year_input)."""
    if year is None:
        return config["inputs"][kind]
    return year_input(config["inputs"], kind, year)


def raw_years(kind):
    return [raw_path(kind, y) for y in YEARS]


def table_outputs(name):
    return {
        "estimates": f"results/estimates/{name}.json",
        "tex": f"results/tables/{name}.tex",
        "md": f"results/tables/{name}.md",
        "html": f"results/tables/{name}.html",
        "docx": f"results/tables/{name}.docx",
    }


def figure_files(names=None):
    names = DIAGNOSTIC_FIGURES + list(EVENT_STUDY_FIGURES) if names is None else names
    return [f"results/figures/{n}.{ext}" for n in names for ext in ("png", "pdf")]


def report_input_files():
    """(key, path) of every raw input in config.inputs, {year} expanded: hashed, never read."""
    from cbec.report.provenance import input_files

    return input_files(config["inputs"], YEARS)


# the tables with published cells (src/cbec/validation/paper_results.yaml) this config has
SCORECARD_TABLES = [
    t
    for t in ("table2", "table3", "table4", "table5", "table6", "table7")
    if t in TABLES
]


def scorecard_inputs(wildcards):
    """The scorecard's estimates (the published tables this config estimates) and, on the
    synthetic world, its truth and the oracle tables."""
    inputs = {"estimates": [f"results/estimates/{t}.json" for t in SCORECARD_TABLES]}
    if SYNTHETIC:
        inputs["truth"] = "resources/truth/params.json"
        inputs["oracle"] = "results/validation/oracle_tables.json"
    return inputs


def all_targets():
    targets = ["results/measures/diagnostics.csv"]
    for name in TABLES:
        targets += [
            f"results/tables/{name}.{ext}" for ext in ("tex", "md", "html", "docx")
        ]
    targets.append("results/tables/tables.xlsx")
    if SCORECARD_TABLES:
        targets.append("results/validation/scorecard.md")
    if SYNTHETIC:
        targets.append("results/synthetic/calibration.md")
        targets.append("results/validation/bias_budget.md")
    targets += figure_files()
    targets.append("results/report.html")
    return targets


# Hook: pages shown in the report when a rule of the workflow produces them (the scorecard
# against the published tables, on any data; the bias budget of the synthetic world).
REPORT_PAGES = ["results/validation/scorecard.md", "results/validation/bias_budget.md"]


def report_pages():
    """The REPORT_PAGES that some rule of the workflow writes."""
    made = {str(f) for r in workflow.rules for f in r.output}
    if not SCORECARD_TABLES:
        made.discard("results/validation/scorecard.md")
    return [p for p in REPORT_PAGES if p in made]


# settings every regression table shares (the table rules; the oracle tables of validation)
TABLE_COMMON = {
    k: config["tables"][k]
    for k in ("fixed_effects", "cluster", "controls", "min_firms", "wild_bootstrap")
}


# Checksum manifests of the user's raw inputs (results/inputs/<key>.sha256, rewritten only
# when a file's content changes): a redelivered file with new content but its old
# modification time still reruns the rules that read it, and a vanished one stops them.
from cbec.data.manifest import (
    input_paths,
    manifest_path,
    update_manifest,
    vanished,
)  # noqa: E402

if not SYNTHETIC and workflow.is_main_process:
    _gone = []
    for _key, _paths in input_paths(config["inputs"], YEARS).items():
        _lost = vanished(manifest_path(_key), _paths)
        _gone += [f"inputs.{_key}: {p}" for p in _lost]
        if not _lost:
            update_manifest(manifest_path(_key), _paths)
    # results built from a file that no longer exists are not reported as up to date (the
    # targets are not known yet when this runs: check_inputs is recognized on the command line)
    if _gone and "check_inputs" not in sys.argv:
        raise WorkflowError(
            "input file(s) the results were built from no longer exist:\n  "
            + "\n  ".join(_gone)
            + "\nrestore them, or point config.yaml at the new delivery and rerun "
            "(the results in results/ are stale)"
        )


def manifests(*keys):
    """Manifests of the given input keys (user data only; synthetic inputs are rule outputs)."""
    return [] if SYNTHETIC else [manifest_path(k) for k in keys]

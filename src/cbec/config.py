"""Configuration loading and validation against the JSON schemas in ``schemas/``.

Errors name the offending key as a dotted path (``cleaning.min_employees``) so a user sees
at once which line of ``config.yaml`` to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cbec.errors import ConfigError
from cbec.industries import CIC_MANUFACTURING

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from referencing import Registry

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
#: where a key that no config file sets (or sets otherwise) came from
COMMAND_LINE = "--config (command line)"
_CLI_HINT = (
    "a mapping on the command line is YAML, --config 'customs={batch_mb: 0, batch_rows: 0}'; "
    "or put it in a --configfile"
)
# customs years the synthetic world delivers as GBK CSV unless synthetic.customs.csv_years
# says otherwise (the default of cbec.synth.params; here so that reading the config does not
# import the synthetic world)
SYNTHETIC_CSV_YEARS = (2001, 2002)


def _load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _registry(schema_dir: Path) -> Registry:
    """Every ``*.schema.yaml`` in ``schema_dir``, addressable by file name for ``$ref``."""
    # imported here: the jobs that read only the config's helpers (the synthetic world's
    # parameters, the input contract) start faster without the validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources = []
    for p in sorted(schema_dir.glob("*.schema.yaml")):
        resources.append(
            (p.name, Resource.from_contents(_load_yaml(p), default_specification=DRAFT202012))
        )
    return Registry().with_resources(resources)


def _validator(schema_dir: Path) -> Draft202012Validator:
    """The validator of ``config.schema.yaml`` (its ``$ref`` resolved in ``schema_dir``)."""
    from jsonschema import Draft202012Validator

    schema = _load_yaml(schema_dir / "config.schema.yaml")
    return Draft202012Validator(schema, registry=_registry(schema_dir))


def _key_path(error: Any) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        # the unexpected key is in the message, not the path
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        parts.append(extra[0] if extra else "?")
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        parts.append(missing[0] if missing else "?")
    return ".".join(parts) if parts else "(top level)"


def _get(node: Any, parts: list[str]) -> tuple[bool, Any]:
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def key_source(key: str, files: list[str], config: dict | None = None) -> str:
    """The config file a (dotted) key came from: the last of ``files`` that sets it to the
    value in ``config`` (Snakemake applies ``--configfile`` overrides in order, then
    ``--config``); else ``--config`` on the command line."""
    parts = [p for p in key.split(".") if p]
    has, value = _get(config, parts) if config is not None else (False, None)
    for f in reversed(files):
        try:
            node = _load_yaml(Path(f))
        except (OSError, yaml.YAMLError):
            continue
        found, in_file = _get(node, parts)
        if found:
            return str(f) if not has or in_file == value else COMMAND_LINE
    return COMMAND_LINE


def _read_value(text: str, number: bool) -> Any:
    """``text`` read as YAML (safe loader); when a ``number`` is wanted, also ``1e10`` (a
    float to Python and to ``--config key=1e10``, a string to YAML 1.1)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if number and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return text
    return value


def type_command_line(
    config: dict, given: Mapping[str, Any], schema_dir: Path = SCHEMA_DIR
) -> dict:
    """Give the nested values of ``--config`` (``given``, as Snakemake parsed them) the types
    the schema asks for, in ``config``, before :func:`validate_config`.

    Snakemake reads ``--config customs='{batch_rows: 0}'`` with YAML's base loader: every
    scalar inside a mapping or list arrives as a string (``'0'``). Such a string, where the
    schema wants another type, is read again as YAML (safe loader) and kept when it then has
    that type. Values from config files, and strings the schema wants, are left as they are;
    whatever still does not fit is reported by :func:`validate_config` (which then says how
    to give a mapping on the command line, or to use ``--configfile``)."""
    given = dict(given)
    validator = _validator(schema_dir)
    for e in list(validator.iter_errors(config)):
        parts = [str(p) for p in e.absolute_path]
        _found, value = _get(given, parts)
        if e.validator != "type" or not parts or not isinstance(value, str):
            continue
        wanted = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
        typed = _read_value(value, "number" in wanted)
        if any(validator.is_type(typed, t) for t in wanted):
            _found, parent = _get(config, parts[:-1])
            parent[int(parts[-1]) if isinstance(parent, list) else parts[-1]] = typed
    return config


def validate_config(
    config: dict,
    schema_dir: Path = SCHEMA_DIR,
    source: str = "config.yaml",
    files: list[str] | None = None,
) -> dict:
    """Validate ``config`` against ``config.schema.yaml``; raise :class:`ConfigError` naming the
    key and the file it came from (``files``: the config files in the order applied)."""
    validator = _validator(schema_dir)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for e in errors:
            key = _key_path(e)
            if e.validator == "additionalProperties":
                msg = f"unknown key '{key.split('.')[-1]}' (misspelled?)"
            elif e.validator == "required":
                msg = "required key is missing"
            elif e.validator == "const" and "description" in e.schema:
                msg = f"{e.message}: {e.schema['description']}"
            else:
                msg = e.message
            where = key_source(key, files, config) if files else source
            if e.validator == "type" and where == COMMAND_LINE:
                msg += f" ({_CLI_HINT})"
            lines.append(f"{where}: key '{key}': {msg}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    years = config["years"]
    if years["first"] > years["last"]:
        raise ConfigError(
            f"{source}: key 'years.first': {years['first']} is after years.last {years['last']}"
        )
    _check_year_keys(config, files, source)
    return config


def _check_year_keys(config: dict, files: list[str] | None, source: str) -> None:
    """Every year of ``inputs.customs_by_year`` is one of years.first..years.last."""
    first, last = config["years"]["first"], config["years"]["last"]
    for y in config["inputs"].get("customs_by_year", {}):
        if not (str(y).isdigit() and first <= int(y) <= last):
            key = f"inputs.customs_by_year.{y}"
            where = key_source(key, files, config) if files else source
            raise ConfigError(
                f"{where}: key '{key}': {y!r} is not a year of years.first..years.last "
                f"({first}..{last})"
            )


def year_input(inputs: dict, key: str, year: int) -> str:
    """Path of the raw input ``key`` for ``year``: the entry of ``inputs.<key>_by_year`` for
    that year if there is one (a delivery in another format or place), else the ``{year}``
    pattern ``inputs.<key>`` filled in."""
    by_year = {int(y): p for y, p in inputs.get(f"{key}_by_year", {}).items()}
    return by_year.get(int(year), inputs[key].format(year=year))


def synthetic_csv_inputs(config: dict) -> dict[int, str]:
    """The customs years the synthetic world writes as GBK CSV (``synthetic.customs.csv_years``
    within the configured years), as ``inputs.customs_by_year`` entries: the ``inputs.customs``
    pattern with a ``.csv`` suffix."""
    customs = (config.get("synthetic") or {}).get("customs") or {}
    years = customs.get("csv_years", SYNTHETIC_CSV_YEARS)
    csv = str(Path(config["inputs"]["customs"]).with_suffix(".csv"))
    return {int(y): csv.format(year=y) for y in years if int(y) in all_years(config)}


def apply_defaults(config: dict) -> dict:
    """Fill the optional keys left out of a validated config, in place; return it.

    ``measures.industries`` defaults to the 2-digit CIC manufacturing industries
    (:data:`cbec.industries.CIC_MANUFACTURING`, as in ASIF and the synthetic world);
    ``measures.yjz.law_of_motion_controls`` to ``[platform]`` (docs/methods.md),
    ``measures.yjz.max_theta_rel_se`` to null (no limit), ``measures.yjz.level_control`` to
    false. With
    synthetic inputs, ``inputs.customs_by_year`` gains the years the world writes as GBK CSV
    (:func:`synthetic_csv_inputs`; an entry given in the config wins); its keys become ints.
    """
    config["measures"].setdefault("industries", list(CIC_MANUFACTURING))
    config["measures"]["yjz"].setdefault("law_of_motion_controls", ["platform"])
    config["measures"]["yjz"].setdefault("max_theta_rel_se", None)
    config["measures"]["yjz"].setdefault("level_control", False)
    inputs = config["inputs"]
    by_year = {int(y): p for y, p in inputs.get("customs_by_year", {}).items()}
    if inputs["source"] == "synthetic":
        # the synthetic world delivers these years as GBK CSV, declared as a researcher would
        by_year = synthetic_csv_inputs(config) | by_year
    if by_year:
        inputs["customs_by_year"] = dict(sorted(by_year.items()))
    return config


def analysis_years(config: dict) -> list[int]:
    """Years of the sample: first..last without the excluded ones."""
    y = config["years"]
    return [t for t in range(y["first"], y["last"] + 1) if t not in set(y["excluded"])]


def all_years(config: dict) -> list[int]:
    """Every raw year first..last (the excluded years are still read: they link the panel)."""
    y = config["years"]
    return list(range(y["first"], y["last"] + 1))


def headline_spec(config: dict) -> dict:
    """Table 2 column (2) of ``config`` (the bias budget's headline): depvar, treatment,
    controls, fixed effects, cluster."""
    t = config["tables"]
    col = t["specs"]["table2"]["columns"][1]
    return {
        "depvar": col["depvar"],
        "treatment": col["treatment"],
        "controls": t["controls"] if col.get("controls") else [],
        "fixed_effects": col.get("fixed_effects", t["fixed_effects"]),
        "cluster": t["cluster"],
    }

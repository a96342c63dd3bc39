# The user's raw inputs: checksum manifests (a redelivered file with new content but its old
# modification time still reruns what reads it) and `snakemake check_inputs`, which checks
# every configured file against the contract of docs/data.md without running the pipeline.
from cbec.data.manifest import input_paths, manifest_path, update_manifest  # noqa: E402

if not SYNTHETIC and workflow.is_main_process:
    for _key, _paths in input_paths(config["inputs"], YEARS).items():
        update_manifest(manifest_path(_key), _paths)


def manifests(*keys):
    """Manifests of the given input keys (user data only; synthetic inputs are rule outputs)."""
    return [] if SYNTHETIC else [manifest_path(k) for k in keys]


rule check_inputs:
    log:
        "results/logs/check_inputs.log",
    conda:
        "../envs/cbec.yaml"
    params:
        inputs=config["inputs"],
        years=YEARS,
        cleaning=config["cleaning"],
        members=config["members"],
        last_year=config["years"]["last"],
    script:
        "../scripts/check_inputs.py"

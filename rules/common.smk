# Shared by every stage: the config's cross-reference check, wildcard constraints (one
# per path component, limited to the names the config defines) and target lists.
# Parse time only reads the config: no heavy imports, no globbing of results.
import os
import re
import sys

# The package of pure logic lives beside the rules; make it importable here and in every
# job (local, SLURM or conda env) without requiring an install.
PACKAGE_ROOT = os.path.join(workflow.basedir, "workflow_scripts")
sys.path.insert(0, PACKAGE_ROOT)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p
)

from bayling_pipeline.configcheck import base_model_of, check_config, system_kind

check_config(config)


def one_of(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(name) for name in sorted(names)) or "(?!)"


EVAL_TESTSETS = config["evaluation"]["testsets"]
EVAL_SYSTEMS = config["evaluation"]["systems"]
COMET = config["scoring"]["comet"]


wildcard_constraints:
    corpus=one_of(config["corpora"]),
    split="train|dev|test",
    testset=one_of(config["testsets"]),
    pair=one_of({p for t in config["testsets"].values() for p in t["directions"]}),
    model=one_of(config["models"]),
    dataset=one_of(config["datasets"]),
    run=one_of(config["finetune"]),
    system=one_of(set(config["models"]) | set(config["finetune"])),
    metric=one_of(config["scoring"]["metrics"]),
    comet=one_of([COMET["name"]] if COMET else []),


def needs(stage):
    """Threads and resources of a compute stage, from config["compute"]."""
    return config["compute"][stage]


def testset_directions(testset):
    return config["testsets"][testset]["directions"]


def per_direction(pattern, **fixed):
    """`pattern` for every evaluated (testset, direction)."""
    return [
        pattern.format(testset=testset, pair=pair, **fixed)
        for testset in EVAL_TESTSETS
        for pair in testset_directions(testset)
    ]


def per_system_direction(pattern, **fixed):
    """`pattern` for every evaluated (system, testset, direction)."""
    return [
        path
        for system in EVAL_SYSTEMS
        for path in per_direction(pattern, system=system, **fixed)
    ]

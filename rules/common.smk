# Shared by every stage: the config's cross-reference check, wildcard constraints (one
# per path component, limited to the names the config defines) and target lists.
# Parse time only reads the config: no heavy imports, no globbing of results.
import os
import re
import shlex
import sys

# The package of pure logic lives beside the rules. Make it importable here, and in every
# job without requiring an install (local, SLURM or conda env): `script:` adapters get
# their own folder on sys.path from Snakemake, shell jobs get it through PYTHONPATH.
PACKAGE_ROOT = os.path.join(workflow.basedir, "workflow_scripts")
sys.path.insert(0, PACKAGE_ROOT)
shell.prefix(
    f"set -euo pipefail; export PYTHONPATH={shlex.quote(PACKAGE_ROOT)}"
    "${{PYTHONPATH:+:$PYTHONPATH}}; "  # braces doubled: the prefix is formatted too
)

from bayling_pipeline.configcheck import (
    base_model_of,
    check_config,
    comet_revision,
    downloaded_testsets,
    published_directions,
    published_path,
    system_directions,
    system_kind,
)

check_config(config)


def one_of(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(name) for name in sorted(names)) or "(?!)"


EVAL_TESTSETS = config["evaluation"]["testsets"]
EVAL_SYSTEMS = config["evaluation"]["systems"]
COMET = config["scoring"]["comet"]
BASELINE = config["scoring"]["significance"]["baseline"]


wildcard_constraints:
    corpus=one_of(config["corpora"]),
    split="train|dev|test",
    testset=one_of(config["testsets"]),
    pair=one_of({p for t in config["testsets"].values() for p in t["directions"]}),
    model=one_of(config["models"]),
    dataset=one_of(config["datasets"]),
    run=one_of(config["finetune"]),
    system=one_of(
        set(config["models"]) | set(config["finetune"]) | set(config["published"])
    ),
    metric=one_of(config["scoring"]["metrics"]),
    comet=one_of([COMET["name"]] if COMET else []),
    published=one_of(config["download"]["published"]),


def needs(stage):
    """Threads and resources of a compute stage, from config["compute"]."""
    return config["compute"][stage]


def escalating(stage, key):
    """A resource of a compute stage that grows with each retry: attempt n asks n times the
    configured amount, so a job killed for time or memory comes back with more of it."""
    return lambda wildcards, attempt: needs(stage)[key] * attempt


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
    """`pattern` for every evaluated (system, testset, direction); a published system only
    where it has outputs."""
    return [
        pattern.format(system=system, testset=testset, pair=pair, **fixed)
        for system in EVAL_SYSTEMS
        for testset in EVAL_TESTSETS
        for pair in system_directions(config, system, testset)
    ]


# Input functions and target lists of the stages (called lazily, after all rules exist).


def corpus_split(split):
    """Input function: the given split of the dataset's corpus."""
    return lambda w: rules.download_split.output[split].format(
        corpus=config["datasets"][w.dataset]["corpus"]
    )


def decode_inputs(w):
    """The system's base checkpoint, its adapter if it is a fine-tuning run, the source."""
    inputs = {
        "model": rules.finetune_prepare_base.output[0].format(
            model=base_model_of(config, w.system)
        ),
        "source": rules.download_testset.output.source.format(
            testset=w.testset, pair=w.pair
        ),
    }
    if system_kind(config, w.system) == "finetuned":
        inputs["adapter"] = rules.finetune_lora.output.adapter.format(run=w.system)
    return inputs


def reference_inputs(testset, pair):
    """The primary reference, plus the folder of all references when scoring uses them."""
    inputs = {
        "reference": rules.download_testset.output.reference.format(
            testset=testset, pair=pair
        )
    }
    if config["scoring"]["references"] == "all" and testset in FETCHED_TESTSETS:
        inputs["references"] = rules.download_fetch_testset.output.references.format(
            testset=testset, pair=pair
        )
    return inputs


def score_inputs(w):
    return {
        "hypotheses": rules.decode_translate.output.hypotheses.format(**w),
        "meta": rules.decode_translate.output.meta.format(**w),
        "source": rules.download_testset.output.source.format(**w),
        **reference_inputs(w.testset, w.pair),
    }


def significance_inputs(w):
    """Every evaluated system's hypotheses for one (testset, direction), baseline first,
    and the references."""
    systems = significance_systems(w.testset, w.pair)
    return {
        "hypotheses": [
            rules.decode_translate.output.hypotheses.format(
                system=s, testset=w.testset, pair=w.pair
            )
            for s in systems
        ],
        **reference_inputs(w.testset, w.pair),
    }


def significance_systems(testset, pair):
    """The baseline, then every other system evaluated on (testset, pair)."""
    others = [
        s
        for s in EVAL_SYSTEMS
        if s != BASELINE and pair in system_directions(config, s, testset)
    ]
    return [BASELINE, *others]


def score_targets():
    """Every score file of the evaluation: sacreBLEU metrics, plus COMET when configured."""
    targets = [
        path
        for metric in config["scoring"]["metrics"]
        for path in per_system_direction(rules.score_sacrebleu.output[0], metric=metric)
    ]
    if COMET:
        targets += per_system_direction(
            rules.score_comet.output[0], comet=COMET["name"]
        )
    return targets


def significance_targets():
    """One paired bootstrap file per (testset, direction, metric) the baseline is scored
    on, when scoring.significance.baseline is set."""
    if BASELINE is None:
        return []
    directions = [
        (testset, pair)
        for testset in EVAL_TESTSETS
        for pair in system_directions(config, BASELINE, testset)
    ]
    targets = [
        rules.score_significance.output[0].format(testset=t, pair=p, metric=m)
        for m in config["scoring"]["metrics"]
        for t, p in directions
    ]
    if COMET:
        targets += [
            rules.score_significance_comet.output[0].format(
                testset=t, pair=p, comet=COMET["name"]
            )
            for t, p in directions
        ]
    return targets


def report_metrics():
    return list(config["scoring"]["metrics"]) + (["comet"] if COMET else [])


def published_targets():
    """Every published output the config lists, by (system, its test set, direction)."""
    return [
        rules.download_published.output.hypotheses.format(
            published=name, testset=spec["testset"], pair=pair
        )
        for name, spec in config["download"]["published"].items()
        for pair in published_directions(config, name)
    ]

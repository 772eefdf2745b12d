# BayLing-style language alignment, end to end:
#   download -> synthesize -> finetune -> decode -> score -> report
# Run everything:   snakemake --cores 2          (make demo does this in a fresh venv)
# One stage:        snakemake --cores 2 decode   (builds everything up to that stage)
import os
import sys

from snakemake.logging import logger
from snakemake.utils import min_version

min_version("9.0")

# The workflow's package (workflow_scripts/bayling_pipeline) checks the config files.
sys.path.insert(0, os.path.join(workflow.basedir, "workflow_scripts"))
from bayling_pipeline.workflow.configfiles import checked_configfile
from bayling_pipeline.workflow.validation import validate_config

# The embedded default, unless config files are named on the command line: a preset is
# complete on its own (--configfile presets/bayling1-comparison.yaml inherits nothing from
# the demo) and an overlay is layered explicitly
# (--configfile config.yaml presets/gpu-smollm2.yaml).
if not workflow.overwrite_configfiles:

    configfile: checked_configfile("config.yaml")


# Every problem of the config in one report before any job: YAML and repeated keys (with
# file and line), the schema (its defaults filled in), cross-references, names the
# workflow takes, local files. Warnings go to the log once, from the main process.
validate_config(
    config,
    workflow.configfiles,
    workflow.basedir,
    warn=logger.warning if workflow.is_main_process else None,
)


include: "rules/common.smk"
include: "rules/targets.smk"
include: "rules/download.smk"
include: "rules/synthesize.smk"
include: "rules/finetune.smk"
include: "rules/decode.smk"
include: "rules/score.smk"
include: "rules/report.smk"
include: "rules/constrained.smk"
include: "rules/judge.smk"
include: "rules/knowledge.smk"


rule all:
    default_target: True
    input:
        rules.report.input,
        # multi-turn answers to dialogue sets (BayLing-80)
        dialogue_targets(),
        # lexically constrained translation: its table (none while constrained.sets is empty)
        CONSTRAINED_TARGETS,
        # BayLing-80 judged pairwise: its tables and charts (none while judging.pairings is empty)
        JUDGE_TARGETS,
        # knowledge benchmarks: accuracy per system and subset (none while knowledge.suites is empty)
        KNOWLEDGE_TARGETS,

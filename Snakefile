# BayLing-style language alignment, end to end:
#   download -> synthesize -> finetune -> decode -> score -> report
# Run everything:   snakemake --cores 2          (make demo does this in a fresh venv)
# One stage:        snakemake --cores 2 decode   (builds everything up to that stage)
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "schemas/config.schema.yaml")


include: "rules/common.smk"
include: "rules/download.smk"
include: "rules/synthesize.smk"
include: "rules/finetune.smk"
include: "rules/decode.smk"
include: "rules/score.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        rules.report.input,
        # multi-turn answers to dialogue sets (BayLing-80), judged outside the workflow
        dialogue_targets(),

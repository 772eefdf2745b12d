"""Adapter of rule download_flores200_spm (see bayling_pipeline.download.sacrebleu_models)."""

from bayling_pipeline.download import fetch
from bayling_pipeline.download.sacrebleu_models import stage_spm_model
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]) as log, fetch.using(SETTINGS):
    spec, out = snakemake.params.spec, snakemake.output
    record = stage_spm_model(spec["url"], spec["sha256"], out.model, out.manifest)
    log.info("%s: %d pieces, sha256 %s", spec["url"], record["pieces"], record["sha256"])

"""Adapter of rule download_dialogues (see bayling_pipeline.decode.dialogues): fetch a dialogue
test set (pinned, or recorded in the lock file) and store it in this project's format."""

from bayling_pipeline.decode.dialogues import read_dialogues, write_dialogues
from bayling_pipeline.download import fetch
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]) as log, fetch.using(SETTINGS):
    spec = snakemake.params.spec
    path = fetch.fetch(spec["url"], spec["sha256"])
    count = write_dialogues(snakemake.output[0], read_dialogues(path))
    log.info("%s: %d dialogues from %s", snakemake.wildcards.dialogue_set, count, spec["url"])

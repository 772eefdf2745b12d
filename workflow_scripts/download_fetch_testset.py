"""Adapter of rule download_fetch_testset, and of download_fetch_<testset> (every direction
of a test set in one job, evaluation.pool_directions); see bayling_pipeline.download.testsets."""

from bayling_pipeline.download import fetch
from bayling_pipeline.download.testsets import fetch_testset
from bayling_pipeline.io import write_index
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]), fetch.using(SETTINGS):
    out, params = snakemake.output, snakemake.params
    spec = dict(params.spec)
    max_segments = spec.pop("max_segments", None)  # the test set's, not the source's
    if "pairs" in params.keys():  # pooled: the rule's outputs are lists, by direction
        files = (params.pairs, out.sources, out.references, out.folders, out.manifests)
        jobs = zip(*files, strict=True)
    else:
        pair = snakemake.wildcards.pair
        jobs = [(pair, out.source, out.reference, out.references, out.manifest)]
    for pair, source, reference, references, manifest in jobs:
        fetch_testset(
            spec, pair, source, reference, references, manifest, max_segments=max_segments
        )
    if "pairs" in params.keys():
        # its texts: what scoring and synthesis hygiene read through it
        write_index(out.index, [*out.sources, *out.references])

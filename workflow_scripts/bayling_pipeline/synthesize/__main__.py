"""``python -m bayling_pipeline.synthesize plan|shard|merge``.

The command line lives in :mod:`bayling_pipeline.synthesize.cli`.
"""

from bayling_pipeline.cli import run_cli
from bayling_pipeline.synthesize.cli import main

if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.synthesize")  # the name --help shows

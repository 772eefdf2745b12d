"""``python -m bayling_pipeline.score``: see :mod:`bayling_pipeline.score.cli`."""

from bayling_pipeline.cli import run_cli
from bayling_pipeline.score.cli import main

if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.score")  # the name --help shows

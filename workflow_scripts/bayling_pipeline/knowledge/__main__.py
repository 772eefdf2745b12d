"""``python -m bayling_pipeline.knowledge``: see :mod:`bayling_pipeline.knowledge.answer`."""

from bayling_pipeline.cli import run_cli
from bayling_pipeline.knowledge.answer import main

if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.knowledge")  # the name --help shows

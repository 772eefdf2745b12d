"""``python -m bayling_pipeline.download``: see :mod:`bayling_pipeline.download.corpus`."""

from bayling_pipeline.cli import run_cli
from bayling_pipeline.download.corpus import main

if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.download")  # the name --help shows

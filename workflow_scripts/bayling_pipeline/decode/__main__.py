"""``python -m bayling_pipeline.decode``: see :mod:`bayling_pipeline.decode.translate`."""

from bayling_pipeline.cli import run_cli
from bayling_pipeline.decode.translate import main

if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.decode")  # the name --help shows

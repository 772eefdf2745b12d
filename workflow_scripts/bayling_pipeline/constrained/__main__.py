"""``python -m bayling_pipeline.constrained``: see :mod:`bayling_pipeline.constrained.translate`."""

from bayling_pipeline.cli import run_cli
from bayling_pipeline.constrained.translate import main

if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.constrained")  # the name --help shows

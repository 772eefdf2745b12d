"""``python -m bayling_pipeline.report``: see :mod:`bayling_pipeline.report.write`."""

from bayling_pipeline.cli import run_cli
from bayling_pipeline.report.write import main

if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.report")  # the name --help shows

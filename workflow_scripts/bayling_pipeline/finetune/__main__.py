"""``python -m bayling_pipeline.finetune``: see :mod:`bayling_pipeline.finetune.train`."""

from bayling_pipeline.cli import run_cli
from bayling_pipeline.finetune.train import main

if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.finetune")  # the name --help shows

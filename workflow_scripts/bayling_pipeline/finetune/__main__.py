"""``python -m bayling_pipeline.finetune``: see :mod:`bayling_pipeline.finetune.train`."""

import sys

from bayling_pipeline.finetune.train import main

if __name__ == "__main__":
    sys.argv[0] = "python -m bayling_pipeline.finetune"  # what --help shows as the command
    sys.exit(main())

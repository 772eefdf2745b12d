"""``python -m bayling_pipeline.score``: see :mod:`bayling_pipeline.score.cli`."""

import sys

from bayling_pipeline.score.cli import main

if __name__ == "__main__":
    sys.argv[0] = "python -m bayling_pipeline.score"  # what --help shows as the command
    sys.exit(main())

"""``python -m bayling_pipeline.constrained``: see :mod:`bayling_pipeline.constrained.translate`."""

import sys

from bayling_pipeline.constrained.translate import main

if __name__ == "__main__":
    sys.argv[0] = "python -m bayling_pipeline.constrained"  # what --help shows as the command
    sys.exit(main())

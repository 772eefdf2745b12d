"""``python -m bayling_pipeline.download``: see :mod:`bayling_pipeline.download.corpus`."""

import sys

from bayling_pipeline.download.corpus import main

if __name__ == "__main__":
    sys.argv[0] = "python -m bayling_pipeline.download"  # what --help shows as the command
    sys.exit(main())

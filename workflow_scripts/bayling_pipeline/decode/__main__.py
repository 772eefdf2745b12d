"""``python -m bayling_pipeline.decode``: see :mod:`bayling_pipeline.decode.translate`."""

import sys

from bayling_pipeline.decode.translate import main

if __name__ == "__main__":
    sys.argv[0] = "python -m bayling_pipeline.decode"  # what --help shows as the command
    sys.exit(main())

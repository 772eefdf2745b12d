"""``python -m bayling_pipeline.decode``: see :mod:`bayling_pipeline.decode.translate`."""

import sys

from bayling_pipeline.decode.translate import main

if __name__ == "__main__":
    sys.exit(main())

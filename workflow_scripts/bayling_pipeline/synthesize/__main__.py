"""``python -m bayling_pipeline.synthesize``: see :mod:`bayling_pipeline.synthesize.engine`."""

import sys

from bayling_pipeline.synthesize.engine import main

if __name__ == "__main__":
    sys.exit(main())

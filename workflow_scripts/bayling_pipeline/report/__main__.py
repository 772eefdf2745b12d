"""``python -m bayling_pipeline.report``: see :mod:`bayling_pipeline.report.tables`."""

import sys

from bayling_pipeline.report.tables import main

if __name__ == "__main__":
    sys.exit(main())

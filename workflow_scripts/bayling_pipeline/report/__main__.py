"""``python -m bayling_pipeline.report``: see :mod:`bayling_pipeline.report.write`."""

import sys

from bayling_pipeline.report.write import main

if __name__ == "__main__":
    sys.argv[0] = "python -m bayling_pipeline.report"  # what --help shows as the command
    sys.exit(main())

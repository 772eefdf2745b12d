"""``python -m bayling_pipeline.synthesize plan|shard|merge``.

The command line lives in :mod:`bayling_pipeline.synthesize.cli`.
"""

import sys

from bayling_pipeline.synthesize.cli import main

if __name__ == "__main__":
    sys.argv[0] = "python -m bayling_pipeline.synthesize"  # what --help shows as the command
    sys.exit(main())

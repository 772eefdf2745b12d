"""Send a step's logging, stdout and stderr to its rule's log file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from bayling_pipeline.cli import USAGE_STATUS, UserError


@contextlib.contextmanager
def logged(path: str) -> Iterator[logging.Logger]:
    """Within the block, everything the step prints or logs goes to ``path`` (appended).

    Exceptions are logged with their traceback and re-raised, so the job fails and its
    log says why. A user error (``bayling_pipeline.cli.UserError``: a bad input file, a
    download needed offline) is logged as one line, ``error: ...``, without a traceback,
    printed once more on stderr (Snakemake's console) and ends the job with status 2,
    so that its message is not buried in two copies of a traceback.
    """
    failure = None
    with open(path, "a", encoding="utf-8") as handle:
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            with contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
                yield logging.getLogger("bayling_pipeline")
        except BaseException as error:
            # inputs are Snakemake's business here: a missing file is a bug, with traceback
            if not isinstance(error, UserError) or os.environ.get("BAYLING_TRACEBACK"):
                logging.getLogger("bayling_pipeline").exception("step failed")
                raise
            failure = str(error)
            logging.getLogger("bayling_pipeline").error("error: %s", failure)
        finally:
            root.removeHandler(handler)
    if failure is not None:
        print(f"error: {failure} (log: {path})", file=sys.stderr)
        sys.exit(USAGE_STATUS)

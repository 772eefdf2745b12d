"""Send a step's logging, stdout and stderr to its rule's log file."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def logged(path: str) -> Iterator[logging.Logger]:
    """Within the block, everything the step prints or logs goes to ``path`` (appended).

    Exceptions are logged with their traceback and re-raised, so the job fails and its
    log says why.
    """
    with open(path, "a", encoding="utf-8") as handle:
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            with contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
                yield logging.getLogger("bayling_pipeline")
        except BaseException:
            logging.getLogger("bayling_pipeline").exception("step failed")
            raise
        finally:
            root.removeHandler(handler)

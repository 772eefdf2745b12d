"""What every ``python -m bayling_pipeline...`` command shares: user errors without tracebacks,
and argument types that check a value and say what to write instead.

Each ``__main__`` block runs ``run_cli(main)``. A ``UserError`` (a bad argument, a missing,
malformed or mis-encoded input file, a download that is not allowed offline) prints one line,
``error: <what is wrong and what to do>``, and exits with status 2, as argparse does for a bad
option; any other exception is a bug and keeps its traceback. ``BAYLING_TRACEBACK=1`` shows
the traceback of a user error too::

    BAYLING_TRACEBACK=1 python -m bayling_pipeline.score --metric bleu ...
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from bayling_pipeline import languages

USAGE_STATUS = 2  # argparse's status for a bad command line; ours for every user error


class UserError(ValueError):
    """A problem the user can fix (a value given, an input file, the environment); its
    message says how. A ValueError, so callers that catch bad values catch it too."""


def describe(error: BaseException) -> str:
    """The one line a user error prints: its message, and for a missing or unreadable file
    the path and the reason."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}"
    return str(error)


def is_user_error(error: BaseException) -> bool:
    """UserError, or a file named on the command line that is missing or unreadable."""
    return isinstance(error, UserError | FileNotFoundError | IsADirectoryError | PermissionError)


def run_cli(main: Callable[[], int | None], prog: str | None = None) -> None:
    """Run a command's ``main()`` and exit with its status; a user error prints
    ``error: ...`` (no traceback, status 2)."""
    if prog:
        sys.argv[0] = prog  # what --help and argparse's errors show as the command
    try:
        status = main()
    except Exception as error:
        if not is_user_error(error) or os.environ.get("BAYLING_TRACEBACK"):
            raise
        name = prog or Path(sys.argv[0]).name
        print(f"{name}: error: {describe(error)}", file=sys.stderr)
        sys.exit(USAGE_STATUS)
    sys.exit(status or 0)


# --- argument types: argparse turns their ArgumentTypeError into "argument --x: ..." ---------


def _suggest_code(part: str) -> str | None:
    """The project's code for a sacreBLEU/ISO style code (``en``, ``zh``, ``deu``, ``EN``)."""
    lowered = part.strip().lower()
    if languages.is_known(part):
        return part
    for code in languages.known_codes():
        if code.lower() == lowered:
            return code  # only the case was wrong: eng_latn
    by_locale = languages.from_locale(part)
    if by_locale:
        return by_locale
    head = lowered.replace("-", "_").split("_")[0]
    for code in languages.known_codes():  # zh -> zho_Hans (first script), deu -> deu_Latn
        locale = languages.locale_of(code) or ""
        if locale.split("_")[0] == head or code.split("_")[0] == head:
            return code
    return None


def suggest_pair(pair: str) -> str | None:
    """``en-zh`` -> ``eng_Latn-zho_Hans``; None when no part can be mapped."""
    parts = pair.replace("_to_", "-").replace(">", "-").split("-")
    if len(parts) != 2:
        return None
    codes = [_suggest_code(part) for part in parts]
    if None in codes or codes[0] == codes[1]:
        return None
    return "-".join(codes)


def pair_argument(value: str) -> str:
    """An argparse ``type``: a direction in the project's codes (``eng_Latn-zho_Hans``)."""
    try:
        languages.parse_pair(value)
    except ValueError as error:
        suggestion = suggest_pair(value)
        if suggestion and suggestion != value:
            message = f"{value!r} is not written in the project's language codes: use {suggestion}"
        else:
            message = f"{error} (every code: bayling_pipeline/data/languages.tsv)"
        raise argparse.ArgumentTypeError(message) from None
    return value


def at_least(minimum: int, why: str = "") -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``minimum`` (``why`` explains the bound)."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if number < minimum:
            reason = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {number}{reason}")
        return number

    return parse


def json_object(value: str) -> dict:
    """An argparse ``type``: a JSON object given inline (``'{"split": "dev"}'``)."""
    import json

    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({error.msg} at character {error.pos}): {value!r}; quote the "
            """object for the shell, e.g. '{"key": "value"}'"""
        ) from None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object {{...}}, got {value!r}")
    return parsed


def input_file(value: str) -> str:
    """An argparse ``type``: an existing, readable file (not a folder)."""
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{value}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: is a folder; give a file")
    return value


def input_folder(value: str) -> str:
    """An argparse ``type``: an existing folder."""
    path = Path(value)
    if not path.is_dir():
        reason = "is a file; give a folder" if path.exists() else "no such folder"
        raise argparse.ArgumentTypeError(f"{value}: {reason}")
    return value

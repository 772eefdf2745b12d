"""Safe unpacking of downloaded archives, and strict reading of downloaded text.

    python -m bayling_pipeline.download.archives flores200_dataset.tar.gz /tmp/flores

``extract_tar`` checks every member before writing anything: absolute names, ``..``
components, links whose target leaves the folder, and device or FIFO members refuse the
whole archive. It then extracts into a temporary sibling with tarfile's ``data`` filter (a
second line of defence) and renames it into place. ``text_lines`` decodes bytes as strict
UTF-8 (gunzipping ``.gz`` first, a truncated stream being an error), NFC-normalizes each line
and names the file and line of any fault.
"""

from __future__ import annotations

import argparse
import gzip
import os
import posixpath
import tarfile
import unicodedata
import zlib
from pathlib import Path

from bayling_pipeline.cli import input_file, run_cli
from bayling_pipeline.io import DataError, atomic_path, decode_utf8, segments


class ArchiveError(DataError):
    """An archive that is unsafe, truncated or not what it should be."""


def _unsafe_reason(member: tarfile.TarInfo) -> str | None:
    """Why a member may not be extracted, or None when it is safe."""
    name = member.name
    if name.startswith("/") or posixpath.isabs(name) or ":" in name.split("/")[0]:
        return "absolute path"
    if ".." in name.split("/"):
        return "path leaves the target folder"
    if member.issym() or member.islnk():
        target = member.linkname
        base = posixpath.dirname(name) if member.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, target))
        if posixpath.isabs(target) or resolved == ".." or resolved.startswith("../"):
            return f"link to {target!r} points outside the target folder"
    elif not (member.isfile() or member.isdir()):
        return "device, FIFO or other special member"
    return None


def check_tar(path: str | os.PathLike) -> list[str]:
    """Every member name of a tar archive; ArchiveError if one is unsafe or it is truncated."""
    try:
        with tarfile.open(path) as archive:
            members = archive.getmembers()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise ArchiveError(f"{path}: not a readable tar archive ({error})") from error
    for member in members:
        reason = _unsafe_reason(member)
        if reason:
            raise ArchiveError(f"{path}: refusing member {member.name!r}: {reason}")
    return [member.name for member in members]


def extract_tar(path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a checked tar archive into ``dest`` atomically; return ``dest``."""
    check_tar(path)
    with atomic_path(dest) as tmp:
        tmp.mkdir()
        try:
            with tarfile.open(path) as archive:
                archive.extractall(tmp, filter="data")
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise ArchiveError(f"{path}: extraction failed ({error})") from error
    return Path(dest)


def tar_members(path: str | os.PathLike, names: list[str]) -> dict[str, bytes]:
    """The bytes of the named regular-file members of a checked tar archive (nothing is
    written to disk); ArchiveError names a missing member."""
    check_tar(path)
    found: dict[str, bytes] = {}
    with tarfile.open(path) as archive:
        for name in names:
            try:
                member = archive.getmember(name)
            except KeyError:
                raise ArchiveError(f"{path}: no member {name!r}") from None
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is None:
                raise ArchiveError(f"{path}: member {name!r} is not a regular file")
            found[name] = handle.read()
    return found


def gunzip(data: bytes, name: str) -> bytes:
    """Decompressed gzip ``data``; ArchiveError naming ``name`` when truncated or corrupt."""
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as error:
        raise ArchiveError(f"{name}: truncated or corrupt gzip data ({error})") from error


def read_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a file, gunzipped when its name ends in ``.gz``."""
    data = Path(path).read_bytes()
    return gunzip(data, str(path)) if str(path).endswith(".gz") else data


def text_lines(data: bytes, name: str, nfc: bool = True) -> list[str]:
    """Strict UTF-8 lines of ``data``, each NFC-normalized (unless ``nfc`` is false),
    without line ends: read as every stage reads segment files
    (``bayling_pipeline.io.segments``: only ``\\n`` separates lines, a form feed or U+2028
    stays inside its line, counted in the log).

    Raises DataError naming ``name`` for an empty document, invalid UTF-8 (with the line
    number and byte offset), a NUL byte or an absurdly long line (with the line number).
    """
    if not data.strip():
        raise DataError(f"{name}: empty document ({len(data)} bytes)")
    lines = segments(decode_utf8(data, name), name)
    return [unicodedata.normalize("NFC", line) for line in lines] if nfc else lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", type=input_file, help="a .tar, .tar.gz or .tgz file")
    parser.add_argument("dest", help="the folder to create")
    args = parser.parse_args(argv)
    print(extract_tar(args.archive, args.dest))


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.download.archives")

"""One file over HTTP(S) into the download cache: resumed only when the server proves it is
the same file, redirected only where allowed, retried, verified.

The network half of :mod:`bayling_pipeline.download.fetch` (``python -m
bayling_pipeline.download.fetch URL ...``), which calls :func:`download` under the cache
entry's lock. What makes a resumed download safe:

* the first answer's validator (a strong ``ETag``, else ``Last-Modified``) is kept beside
  the partial file (``.<name>.part.json``); a resume sends it as ``If-Range``, so a file
  changed upstream comes back whole (200) and the download restarts from zero instead of
  splicing two versions. A partial file without a validator is not resumed;
* a 206 answer must say it starts where the partial file ends (``Content-Range``) and carry
  the same validator; any mismatch discards the partial file and restarts from zero;
* redirects stay on the requested host (host and port), or go to one listed in
  ``download.allowed_hosts``; https is never redirected to http.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bayling_pipeline import durable
from bayling_pipeline.cli import UserError

log = logging.getLogger(__name__)

CHUNK = 1 << 16
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
USER_AGENT = "bayling-pipeline-fetch/1"
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class FetchError(UserError, RuntimeError):
    """A permanent download failure (404, checksum mismatch, retries exhausted, a refused
    redirect): the user's to fix (a pin, a mirror, the network), so commands print its
    message without traceback."""


class OfflineError(FetchError):
    """A network access was needed while the workflow runs offline."""


class _Transient(Exception):
    """A failure worth retrying (dropped connection, timeout, 5xx, a bad resume)."""


class _RedirectPolicy(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the same host and port or an allowed host, never from
    https to http."""

    def __init__(self, allowed_hosts):
        self.allowed = {h.lower() for h in allowed_hosts}

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if old.scheme == "https" and new.scheme != "https":
            raise FetchError(f"{req.full_url}: refused a redirect from https to {newurl}")
        host = (new.hostname or "").lower()
        if new.netloc.lower() != old.netloc.lower() and not {host, new.netloc.lower()} & (
            self.allowed
        ):
            raise FetchError(
                f"{req.full_url}: refused a redirect to another host ({newurl}); list "
                f"{host!r} in download.allowed_hosts if it is trusted"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _progress(total: int | None, initial: int, name: str):
    from tqdm import tqdm

    # disable=None: no bar when stderr is not a TTY (rule logs stay quiet)
    return tqdm(total=total, initial=initial, desc=name, unit="B", unit_scale=True, disable=None)


def _validator(headers) -> dict:
    """What identifies the version of a file an answer carries (strong ETag, Last-Modified)."""
    etag = headers.get("ETag")
    return {
        "etag": etag if etag and not etag.startswith("W/") else None,  # weak: not for If-Range
        "last_modified": headers.get("Last-Modified"),
    }


def _restart(part: Path, why: str) -> _Transient:
    part.unlink(missing_ok=True)
    _sidecar(part).unlink(missing_ok=True)
    return _Transient(f"{why}; restarting from zero")


def _sidecar(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _resume_headers(url: str, part: Path) -> tuple[int, dict]:
    """(offset, extra headers) to resume ``part``: only with the validator of its start."""
    if not part.exists():
        return 0, {}
    try:
        kept = json.loads(_sidecar(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = {}
    if kept.get("url") != url or not (kept.get("etag") or kept.get("last_modified")):
        log.info("%s: partial file without a validator; downloading from zero", url)
        part.unlink()
        return 0, {}
    start = part.stat().st_size
    return start, {"Range": f"bytes={start}-", "If-Range": kept["etag"] or kept["last_modified"]}


def _check_resumed(url: str, part: Path, response, start: int) -> int:
    """Where the body of ``response`` starts: ``start`` for a proven continuation, 0 when
    the server sent the whole file; raises _Transient (partial file discarded) otherwise."""
    if response.status != 206:
        log.info("%s: the server sent the whole file (changed upstream?); restarting", url)
        return 0
    kept = json.loads(_sidecar(part).read_text(encoding="utf-8"))
    now = _validator(response.headers)
    for key in ("etag", "last_modified"):
        if kept.get(key) and now[key] and now[key] != kept[key]:
            raise _restart(part, f"{key} changed from {kept[key]} to {now[key]} during resume")
    announced = response.headers.get("Content-Range", "")
    match = CONTENT_RANGE.fullmatch(announced.strip())
    if not match or int(match[1]) != start:
        raise _restart(part, f"asked for bytes {start}-, got Content-Range {announced!r}")
    total = match[3]
    length = response.headers.get("Content-Length")
    if total != "*" and int(match[2]) != int(total) - 1:
        raise _restart(part, f"Content-Range {announced!r} does not reach the end of the file")
    if length is not None and int(length) != int(match[2]) - start + 1:
        raise _restart(part, f"Content-Length {length} disagrees with {announced!r}")
    return start


def _transfer(url: str, part: Path, timeout: float, allowed_hosts=()) -> None:
    """One HTTP GET into ``part``, resuming it when safe; raises _Transient or FetchError."""
    start, extra = _resume_headers(url, part)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **extra}
    opener = urllib.request.build_opener(_RedirectPolicy(allowed_hosts))
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            if start:
                start = _check_resumed(url, part, response, start)
            if not start:
                durable.write_bytes(
                    _sidecar(part),
                    json.dumps({"url": url, **_validator(response.headers)}).encode(),
                )
            _receive(response, part, start)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:
            raise _restart(part, "range not satisfiable") from error
        if error.code in TRANSIENT_STATUS:
            raise _Transient(f"HTTP {error.code} {error.reason}") from error
        raise FetchError(f"{url}: HTTP {error.code} {error.reason}") from error
    except (http.client.HTTPException, OSError) as error:  # drops, resets, timeouts
        raise _Transient(f"{type(error).__name__}: {error}") from error


def _receive(response, part: Path, start: int) -> None:
    """Append the body to ``part`` (truncated to ``start`` first); _Transient when short."""
    length = response.headers.get("Content-Length")
    total = start + int(length) if length is not None else None
    received = start
    with open(part, "r+b" if start else "wb") as out:
        out.truncate(start)
        out.seek(start)
        with _progress(total, start, part.name.removesuffix(".part").lstrip(".")) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    if total is not None and received < total:
        raise _Transient(f"connection closed after {received} of {total} bytes")


def download(url: str, dest: Path, sha256: str | None, settings) -> str:
    """Download ``url`` to ``dest`` (retrying, resuming, verifying); return its sha256.

    ``settings`` is a ``fetch.Settings``. Call it holding the lock of ``dest`` (the partial
    file's name is fixed, so a killed download resumes). On a checksum mismatch the partial
    file is deleted and FetchError names the URL and both digests; ``dest`` is only ever
    created by renaming a verified file.
    """
    if settings.is_offline():
        raise OfflineError(
            f"{url}: needed but downloads are off (download.offline or HF_HUB_OFFLINE); "
            f"pre-stage it at {dest}"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.part")
    attempts = settings.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            _transfer(url, part, settings.timeout, settings.allowed_hosts)
            break
        except _Transient as error:
            if attempt == attempts:
                raise FetchError(
                    f"{url}: giving up after {attempts} attempts; last error: {error}"
                ) from error
            wait = settings.backoff * 2 ** (attempt - 1)
            log.warning("%s: %s; retry %d/%d in %.1fs", url, error, attempt, attempts - 1, wait)
            time.sleep(wait)
    actual = sha256_file(part)
    _sidecar(part).unlink(missing_ok=True)
    if sha256 and actual != sha256:
        part.unlink()
        raise FetchError(f"{url}: checksum mismatch: expected sha256 {sha256}, got {actual}")
    durable.commit(part, dest)
    return actual

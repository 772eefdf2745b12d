"""Pinned, verified, resumable downloads into a local cache; the only module that opens sockets.

    python -m bayling_pipeline.download.fetch URL --sha256 HEX --cache resources/downloads

Every remote file is named by its canonical (upstream) URL and lands in the cache at
``<cache>/<host>/<path>``, so a cache filled on a login node (or copied there by hand) is
found again by compute jobs that run offline. ``fetch(url, sha256)``:

* returns the cached file at once when it is there and matches the expected digest;
* refuses any network access when offline (``Settings.offline`` or ``HF_HUB_OFFLINE=1``),
  naming the URL and the cache path to pre-stage;
* downloads to ``.<name>.part`` next to the final path, resuming with an HTTP ``Range``
  request after a dropped connection; connection errors, timeouts and 5xx/408/429 answers
  are retried with exponential backoff, while 4xx answers and checksum mismatches stop at
  once with a message naming the URL and both digests;
* verifies the sha256 and only then renames the file into place, so a file that fails
  verification is never where a rule takes it as done.

The expected digest comes from the config (pinned) or, when the config gives none, from the
lock file (``locks/downloads.lock.json``): the first download records its digest there and
every later run enforces it. ``mirrors`` rewrite URL prefixes (an internal mirror, or the
loopback server of the tests) without changing cache paths, digests or lock entries; a
mirror that is a local folder (no URL scheme) is read when it holds the file, even offline,
and the upstream URL fetched when it does not.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import dataclasses
import fcntl
import hashlib
import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bayling_pipeline.cli import UserError, run_cli

log = logging.getLogger(__name__)

CHUNK = 1 << 16
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
USER_AGENT = "bayling-pipeline-fetch/1"


class FetchError(UserError, RuntimeError):
    """A permanent download failure (404, checksum mismatch, retries exhausted): the user's
    to fix (a pin, a mirror, the network), so commands print its message without traceback."""


class OfflineError(FetchError):
    """A network access was needed while the workflow runs offline."""


class _Transient(Exception):
    """A failure worth retrying (dropped connection, timeout, 5xx)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where and how downloads happen; mirrors the config's ``download:`` section."""

    cache: str = "resources/downloads"
    lock: str | None = "locks/downloads.lock.json"
    offline: bool = False
    mirrors: dict = dataclasses.field(default_factory=dict)
    retries: int = 4
    timeout: float = 60.0
    backoff: float = 1.0

    @classmethod
    def from_config(cls, section: dict | None) -> Settings:
        """Settings from the config's ``download:`` section (unknown keys ignored)."""
        fields = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (section or {}).items() if k in fields})

    def is_offline(self) -> bool:
        """Offline by the config switch or by ``HF_HUB_OFFLINE`` (1/true/yes/on)."""
        env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
        return self.offline or env in {"1", "true", "yes", "on"}


_SETTINGS: contextvars.ContextVar[Settings | None] = contextvars.ContextVar(
    "fetch_settings", default=None
)


@contextlib.contextmanager
def using(settings: Settings) -> Iterator[Settings]:
    """Within the block, ``fetch`` and the hub helpers use ``settings``."""
    token = _SETTINGS.set(settings)
    try:
        yield settings
    finally:
        _SETTINGS.reset(token)


def current() -> Settings:
    """The settings of the innermost ``using`` block, else the defaults."""
    return _SETTINGS.get() or Settings()


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def cache_path(url: str, cache: str | os.PathLike) -> Path:
    """``<cache>/<host>/<path>`` of a canonical URL; refuses paths that climb out."""
    parts = urllib.parse.urlsplit(url)
    relative = [parts.netloc, *[p for p in urllib.parse.unquote(parts.path).split("/") if p]]
    if any(part in ("", ".", "..") for part in relative) or not parts.scheme:
        raise FetchError(f"{url}: not a cacheable URL")
    return Path(cache).joinpath(*relative)


def mirrored(url: str, mirrors: dict) -> str:
    """``url`` with its longest matching mirror prefix replaced."""
    for prefix in sorted(mirrors, key=len, reverse=True):
        if url.startswith(prefix):
            return mirrors[prefix] + url[len(prefix) :]
    return url


def local_mirror_file(url: str, mirrors: dict) -> Path | None:
    """The file a local-folder mirror (a mirror prefix without a URL scheme, such as a
    checkout of the data beside the project) holds for ``url``; None when the mirror is a
    URL or lacks the file, so the upstream URL is fetched instead."""
    target = mirrored(url, mirrors)
    if target == url or "://" in target:
        return None
    path = Path(target)
    return path if path.is_file() else None


def _copied(source: Path, dest: Path, expected: str | None, url: str) -> str:
    """Copy a local mirror's file into the cache, verified like a download."""
    import shutil

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    shutil.copyfile(source, part)
    actual = sha256_file(part)
    if expected and actual != expected:
        part.unlink()
        raise FetchError(
            f"{url}: local mirror file {source} has sha256 {actual}, expected {expected}"
        )
    os.replace(part, dest)
    return actual


# --- lock file ---------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(lock: Path) -> Iterator[dict]:
    """Read-modify-write the lock file under an exclusive flock (parallel download jobs)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock.with_name(lock.name + ".flock"), "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        entries = json.loads(lock.read_text(encoding="utf-8")) if lock.exists() else {}
        before = json.dumps(entries, sort_keys=True)
        yield entries
        if json.dumps(entries, sort_keys=True) != before:
            tmp = lock.with_name(f".{lock.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n", "utf-8")
            os.replace(tmp, lock)


def locked_digest(key: str, settings: Settings) -> str | None:
    """The digest the lock file records for ``key`` (a canonical URL), or None."""
    if not settings.lock or not Path(settings.lock).exists():
        return None
    with _locked(Path(settings.lock)) as entries:
        return entries.get(key, {}).get("sha256")


def record_digest(key: str, digest: str, size: int, settings: Settings) -> None:
    """Record the first-seen digest of an unpinned file; later runs enforce it."""
    if not settings.lock:
        return
    with _locked(Path(settings.lock)) as entries:
        entries.setdefault(key, {"sha256": digest, "bytes": size})


# --- transfer ----------------------------------------------------------------------------


def _progress(total: int | None, initial: int, name: str):
    from tqdm import tqdm

    # disable=None: no bar when stderr is not a TTY (rule logs stay quiet)
    return tqdm(total=total, initial=initial, desc=name, unit="B", unit_scale=True, disable=None)


def _transfer(url: str, part: Path, timeout: float) -> None:
    """One HTTP GET into ``part``, resuming from its size; raises _Transient or FetchError."""
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if start and response.status != 206:
                start = 0  # the server ignored the Range: start over
            length = response.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            received = start
            with (
                open(part, "ab" if start else "wb") as out,
                _progress(total, start, part.name.removesuffix(".part").lstrip(".")) as bar,
            ):
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received < total:
                raise _Transient(f"connection closed after {received} of {total} bytes")
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:
            part.unlink()  # our partial file is longer than the resource: start over
            raise _Transient("range not satisfiable; restarting") from error
        if error.code in TRANSIENT_STATUS:
            raise _Transient(f"HTTP {error.code} {error.reason}") from error
        raise FetchError(f"{url}: HTTP {error.code} {error.reason}") from error
    except (http.client.HTTPException, OSError) as error:  # drops, resets, timeouts
        raise _Transient(f"{type(error).__name__}: {error}") from error


def download(url: str, dest: Path, sha256: str | None, settings: Settings) -> str:
    """Download ``url`` to ``dest`` (retrying, resuming, verifying); return its sha256.

    On a checksum mismatch the partial file is deleted and FetchError names the URL and
    both digests; ``dest`` is only ever created by renaming a verified file.
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
            _transfer(url, part, settings.timeout)
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
    if sha256 and actual != sha256:
        part.unlink()
        raise FetchError(f"{url}: checksum mismatch: expected sha256 {sha256}, got {actual}")
    os.replace(part, dest)
    return actual


def fetch(url: str, sha256: str | None = None, settings: Settings | None = None) -> Path:
    """The cached, verified local copy of ``url`` (downloaded when missing).

    ``sha256`` pins the content; without it the lock file's digest is enforced, or, on
    the first download, recorded. A cached file whose digest is wrong is refused, never
    silently replaced: the message says to delete it.
    """
    settings = settings or current()
    dest = cache_path(url, settings.cache)
    expected = sha256 or locked_digest(url, settings)
    with _exclusive(dest):  # parallel jobs sharing one file (the Flores tarball) take turns
        actual = _cached_or_downloaded(url, dest, expected, settings)
    if not sha256:
        record_digest(url, actual, dest.stat().st_size, settings)
    return dest


@contextlib.contextmanager
def _exclusive(dest: Path) -> Iterator[None]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.with_name(f".{dest.name}.flock"), "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        yield


def _cached_or_downloaded(url: str, dest: Path, expected: str | None, settings: Settings) -> str:
    if dest.exists():
        actual = sha256_file(dest)
        if expected and actual != expected:
            raise FetchError(
                f"{url}: cached file {dest} has sha256 {actual}, expected {expected}; "
                "delete it to download again"
            )
    elif (local := local_mirror_file(url, settings.mirrors)) is not None:
        actual = _copied(local, dest, expected, url)
        log.info("%s copied from the local mirror %s", url, local)
    else:
        if settings.is_offline():
            raise OfflineError(
                f"{url}: needed but downloads are off (download.offline or HF_HUB_OFFLINE); "
                f"pre-stage it at {dest}"
            )
        source = mirrored(url, settings.mirrors)
        if "://" not in source:  # a local-folder mirror without the file: go upstream
            source = url
        actual = download(source, dest, expected, settings)
        if source != url:
            log.info("%s fetched from mirror %s", url, source)
    return actual


def provenance(url: str, sha256: str | None, path: Path) -> dict:
    """A manifest entry for a fetched file: URL, digest, size, and how it is pinned."""
    return {
        "url": url,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "pinned": "config" if sha256 else "lock file (unpinned in the config)",
    }


# --- Hugging Face hub --------------------------------------------------------------------


def _hub_offline_check(what: str, settings: Settings) -> None:
    if settings.is_offline():
        raise OfflineError(
            f"{what}: needs the Hugging Face hub but downloads are off (download.offline or "
            "HF_HUB_OFFLINE); run the download stage on a machine with network first"
        )


def hf_file(repo: str, filename: str, revision: str, repo_type: str = "dataset") -> Path:
    """One file of a hub repository at a pinned revision, into the cache, digest-locked.

    The revision should be a commit hash; a branch name works but is recorded as unpinned
    in the lock file, whose digest then guards every later run.
    """
    settings = current()
    key = f"hf://{repo_type}s/{repo}@{revision}/{filename}"
    target = cache_path(f"hf://{repo_type}s/{repo}/{revision}/{filename}", settings.cache)
    expected = locked_digest(key, settings)
    if not target.exists():
        _hub_offline_check(key, settings)
        from huggingface_hub import hf_hub_download

        fetched = hf_hub_download(
            repo, filename, revision=revision, repo_type=repo_type,
            cache_dir=Path(settings.cache) / "hf-cache",
        )  # fmt: skip
        digest = sha256_file(fetched)
        if expected and digest != expected:
            raise FetchError(f"{key}: checksum mismatch: expected sha256 {expected}, got {digest}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(Path(fetched).read_bytes())
        os.replace(tmp, target)
    digest = sha256_file(target)
    if expected and digest != expected:
        raise FetchError(f"{key}: cached {target} has sha256 {digest}, expected {expected}")
    record_digest(key, digest, target.stat().st_size, settings)
    return target


def hf_snapshot(repo: str, revision: str, repo_type: str = "dataset", allow=None) -> Path:
    """A snapshot of a hub repository at a pinned revision (for instruction datasets)."""
    settings = current()
    _hub_offline_check(f"hf://{repo_type}s/{repo}@{revision}", settings)
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(
            repo,
            revision=revision,
            repo_type=repo_type,
            allow_patterns=allow,
            cache_dir=Path(settings.cache) / "hf-cache",
        )  # fmt: skip
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--sha256")
    parser.add_argument("--cache", default=Settings.cache)
    parser.add_argument("--lock", default=Settings.lock)
    parser.add_argument("--offline", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings(cache=args.cache, lock=args.lock, offline=args.offline)
    print(fetch(args.url, args.sha256, settings))


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.download.fetch")

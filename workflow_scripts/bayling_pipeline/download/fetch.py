"""Pinned, verified, resumable downloads into a local cache; the only module that opens sockets.

    python -m bayling_pipeline.download.fetch URL --sha256 HEX --cache resources/downloads

Every remote file is named by its canonical (upstream) URL and lands in the cache at
``<cache>/<host>/<path>``, so a cache filled on a login node (or copied there by hand) is
found again by compute jobs that run offline. ``fetch(url, sha256)``:

* returns the cached file at once when it is there and matches the expected digest;
* refuses any network access when offline (``Settings.offline`` or ``HF_HUB_OFFLINE=1``),
  naming the URL and the cache path to pre-stage;
* downloads (:mod:`bayling_pipeline.download.transfer`) to ``.<name>.part`` next to the
  final path, holding the entry's lock (two jobs wanting one file: one transfer), resuming
  with an HTTP ``Range`` request after a dropped connection only when the server proves
  it is the same file (``If-Range``, ``Content-Range``), else from zero; redirects stay
  on the host unless ``allowed_hosts`` lists the target, never from https to http;
  connection errors, timeouts and 5xx/408/429 answers
  are retried with exponential backoff, while 4xx answers and checksum mismatches stop at
  once with a message naming the URL and both digests;
* verifies the sha256 and only then renames the file into place, so a file that fails
  verification is never where a rule takes it as done.

The expected digest comes from the config (pinned) or, when the config gives none, from the
lock file (``locks/downloads.lock.json``): the first download records its digest there,
once the job that fetched it succeeded (``using``), and every later run enforces it. A URL
with a query is cached in a ``query-<hash>`` folder: two queries are two files.
``mirrors`` rewrite URL prefixes (an internal mirror, or the loopback server of the tests)
without changing cache paths, digests or lock entries; a
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
import json
import logging
import os
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from bayling_pipeline import durable
from bayling_pipeline.cli import run_cli
from bayling_pipeline.download.transfer import FetchError, OfflineError, download, sha256_file

log = logging.getLogger(__name__)

__all__ = ["FetchError", "OfflineError", "download", "sha256_file"]  # also fetch's API


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
    allowed_hosts: tuple = ()  # hosts a redirect may lead to, besides the requested one

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


# Digests first seen inside the outermost ``using`` block: (lock, key, entry, cached file).
_PENDING: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "fetch_pending", default=None
)


@contextlib.contextmanager
def using(settings: Settings) -> Iterator[Settings]:
    """Within the block, ``fetch`` and the hub helpers use ``settings``.

    The outermost block is the job: a digest first seen in it enters the lock file only
    when the block ends without an error, that is once the job accepted the file (a
    corpus with misaligned lines is rejected). On an error the unaccepted files leave the
    cache too, so a corrected upstream file is fetched, not refused, next time.
    """
    token = _SETTINGS.set(settings)
    outermost = _PENDING.get() is None
    pending_token = _PENDING.set([]) if outermost else None
    try:
        yield settings
        if outermost:
            for lock, key, entry, _ in _PENDING.get():
                _write_entry(lock, key, entry)
    except BaseException:
        if outermost:
            _drop_unaccepted(_PENDING.get())
        raise
    finally:
        if pending_token is not None:
            _PENDING.reset(pending_token)
        _SETTINGS.reset(token)


def _drop_unaccepted(pending: list) -> None:
    for lock, key, entry, path in pending:
        if path is None:
            continue
        with _exclusive(Path(path)):
            if not Path(path).exists() or _in_lock_file(lock, key):
                continue  # another job accepted it meanwhile: it stays
            Path(path).unlink()
            log.warning(
                "%s: not entered in the lock file (the job failed); removed the unaccepted "
                "download %s (sha256 %s)", key, path, entry["sha256"],
            )  # fmt: skip


def current() -> Settings:
    """The settings of the innermost ``using`` block, else the defaults."""
    return _SETTINGS.get() or Settings()


def cache_path(url: str, cache: str | os.PathLike) -> Path:
    """``<cache>/<host>/<path>`` of a canonical URL; refuses paths that climb out."""
    parts = urllib.parse.urlsplit(url)
    relative = [parts.netloc, *[p for p in urllib.parse.unquote(parts.path).split("/") if p]]
    if any(part in ("", ".", "..") for part in relative) or not parts.scheme:
        raise FetchError(f"{url}: not a cacheable URL")
    if parts.query:  # ?version=1 and ?version=2 are two files: a folder per query
        query = hashlib.sha256(parts.query.encode()).hexdigest()[:16]
        relative.insert(-1, f"query-{query}")
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
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = durable.unique_temp(dest, "part")
    shutil.copyfile(source, part)
    actual = sha256_file(part)
    if expected and actual != expected:
        part.unlink()
        raise FetchError(
            f"{url}: local mirror file {source} has sha256 {actual}, expected {expected}"
        )
    durable.commit(part, dest)
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
            text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
            durable.write_bytes(lock, text.encode("utf-8"))  # flushed, unique temporary


def locked_digest(key: str, settings: Settings) -> str | None:
    """The digest the lock file records for ``key`` (a canonical URL), or that this job
    saw first and will record once it succeeds; None when neither."""
    for lock, pending_key, entry, _ in _PENDING.get() or []:
        if (lock, pending_key) == (settings.lock, key):
            return entry["sha256"]
    if not settings.lock or not Path(settings.lock).exists():
        return None
    with _locked(Path(settings.lock)) as entries:
        return entries.get(key, {}).get("sha256")


def record_digest(key: str, digest: str, size: int, settings: Settings, path=None) -> None:
    """Record the first-seen digest of an unpinned file (``path`` in the cache); later
    runs enforce it. Inside a ``using`` block it is recorded when the block succeeds."""
    if not settings.lock:
        return
    entry = {"sha256": digest, "bytes": size}
    pending = _PENDING.get()
    if pending is None:
        _write_entry(settings.lock, key, entry)
    elif locked_digest(key, settings) is None:
        pending.append((settings.lock, key, entry, path))


def _in_lock_file(lock, key: str) -> bool:
    if not Path(lock).exists():
        return False
    with _locked(Path(lock)) as entries:
        return key in entries


def _write_entry(lock, key: str, entry: dict) -> None:
    with _locked(Path(lock)) as entries:
        entries.setdefault(key, entry)


# --- the cache -------------------------------------------------------------------------


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
        record_digest(url, actual, dest.stat().st_size, settings, dest)
    return dest


@contextlib.contextmanager
def _exclusive(dest: Path) -> Iterator[None]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.with_name(f".{dest.name}.flock"), "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        # the lock holder is the entry's only writer: other copies' temporaries (unique
        # names) are a killed job's; the resumable .<name>.part is kept
        durable.sweep(dest.parent, f".{dest.name}.*.part")
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
    with _exclusive(target):  # two jobs wanting one hub file: one copies, the other waits
        if not target.exists():
            _hub_offline_check(key, settings)
            _hub_copy(repo, filename, revision, repo_type, target, expected, settings)
    digest = sha256_file(target)
    if expected and digest != expected:
        raise FetchError(f"{key}: cached {target} has sha256 {digest}, expected {expected}")
    record_digest(key, digest, target.stat().st_size, settings, target)
    return target


def _hub_copy(repo, filename, revision, repo_type, target: Path, expected, settings) -> None:
    """Download one hub file (huggingface_hub's own cache) and copy it to ``target``
    through a unique, flushed temporary."""
    from huggingface_hub import hf_hub_download

    fetched = hf_hub_download(
        repo, filename, revision=revision, repo_type=repo_type,
        cache_dir=Path(settings.cache) / "hf-cache",
    )  # fmt: skip
    digest = sha256_file(fetched)
    if expected and digest != expected:
        raise FetchError(
            f"hf://{repo_type}s/{repo}@{revision}/{filename}: checksum mismatch: expected "
            f"sha256 {expected}, got {digest}"
        )
    tmp = durable.unique_temp(target, "part")
    try:
        shutil.copyfile(fetched, tmp)
        durable.commit(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


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

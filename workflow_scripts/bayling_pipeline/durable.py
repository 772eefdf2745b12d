"""Writes that survive a node crash, temporaries that never collide, and one live writer.

The ground floor under :mod:`bayling_pipeline.io`'s atomic writes, for the files that are
not declared outputs (checkpoints, caches, downloads), where a torn file would be read
back later:

* ``fsync_tree`` / ``commit``: a file or folder is flushed (its files, then its folders)
  before it is renamed into place, and the parent folder after, so a power cut leaves
  either the old name or the complete new one, never a zero-length file;
* ``unique_temp``: a temporary name no other process can pick (host, pid, random part),
  so two writers of the same cache entry never write into one file;
* ``RunLock``: a lock file naming pid, host and job id; a lock left by a dead process on
  this host, by a SLURM job that has ended, or on another host not refreshed for
  ``stale_seconds`` is taken over;
* ``sweep``: the leftovers of a killed job, removed by the job that owns them next.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from bayling_pipeline.cli import UserError

log = logging.getLogger(__name__)

#: A job id from the batch system, when there is one: names the job in a run lock.
JOB_ID_VARIABLES = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "JOB_ID")


def fsync_path(path: str | os.PathLike) -> None:
    """Flush one file or folder entry to disk (a folder: its list of names)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError as error:  # some file systems refuse fsync on folders: nothing to flush
        if error.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def fsync_tree(path: str | os.PathLike) -> None:
    """Flush a file, or every file of a folder and then its folders (deepest first)."""
    path = Path(path)
    if not path.is_dir():
        fsync_path(path)
        return
    for folder, _, files in os.walk(path, topdown=False):
        for name in files:
            fsync_path(Path(folder) / name)
        fsync_path(folder)


def commit(tmp: str | os.PathLike, final: str | os.PathLike) -> None:
    """Rename a complete file or folder ``tmp`` to ``final``, durably: ``tmp`` flushed
    first, the parent folder after. A folder already at ``final`` is moved aside and then
    removed, so a crash in between leaves the old one or the new one whole."""
    tmp, final = Path(tmp), Path(final)
    fsync_tree(tmp)
    aside = None
    if final.is_dir() and not final.is_symlink():
        aside = unique_temp(final, "old")
        os.replace(final, aside)
    os.replace(tmp, final)
    fsync_path(final.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def unique_temp(final: str | os.PathLike, kind: str = "tmp") -> Path:
    """A sibling name for a temporary of ``final`` that no other process or host picks:
    ``.<name>.<host>.<pid>.<random>.<kind>`` (hidden, and found again by ``sweep``)."""
    final = Path(final)
    host = socket.gethostname().split(".")[0] or "host"
    return final.with_name(f".{final.name}.{host}.{os.getpid()}.{secrets.token_hex(4)}.{kind}")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a unique temporary, flushed before the rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = unique_temp(path)
    try:
        tmp.write_bytes(data)
        commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sweep(folder: str | os.PathLike, pattern: str, older_than: float = 0.0) -> list[Path]:
    """Remove the temporaries matching ``pattern`` in ``folder`` (a killed job's leftovers)
    modified more than ``older_than`` seconds ago; return them. Call it only from the job
    that owns them (holding their lock), so that no live writer loses its file."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.glob(pattern)):
        try:
            if time.time() - path.lstat().st_mtime < older_than:
                continue
            size = _size(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:  # removed meanwhile by its owner
            continue
        log.info("removed %s (%d bytes), left by a killed job", path, size)
        removed.append(path)
    return removed


def _size(path: Path) -> int:
    if not path.is_dir():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file())


def job_id() -> str | None:
    """The batch system's id of this job, if it runs under one."""
    return next((os.environ[v] for v in JOB_ID_VARIABLES if os.environ.get(v)), None)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class LockedError(UserError, RuntimeError):
    """Another live job holds the run lock (its message names it)."""


class RunLock:
    """One live job per folder: ``<folder>/.run.lock`` holds ``{"pid", "host", "job",
    "started"}``. Taken when free, or when its holder is dead: a dead pid on this host, or
    a lock of another host not refreshed (``refresh``) for ``stale_seconds``."""

    def __init__(self, folder: str | os.PathLike, stale_seconds: float = 900.0):
        self.folder = Path(folder)
        self.path = self.folder / ".run.lock"
        self.stale_seconds = stale_seconds
        self.holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "job": job_id(),
            "started": time.time(),
        }
        self._refreshed = 0.0

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        # a short flock only around reading and replacing the lock file: two jobs that both
        # find a stale lock do not both take it over
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".run.lock.flock", "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            yield

    def stale_reason(self, held: dict) -> str | None:
        """Why the lock ``held`` may be taken over, or None while its holder may live."""
        if held.get("host") == self.holder["host"]:
            alive = pid_alive(int(held.get("pid", 0)))
            return None if alive else f"its process {held.get('pid')} is gone"
        if held.get("job") and _slurm_job_gone(str(held["job"])):
            return f"its SLURM job {held['job']} has ended (host {held.get('host')})"
        age = time.time() - self.path.stat().st_mtime
        if age > self.stale_seconds:
            return f"not refreshed for {age:.0f} s (host {held.get('host')})"
        return None

    def acquire(self) -> RunLock:
        """Take the lock; LockedError naming the holder when a live job has it."""
        with self._guard():
            held = _read_lock(self.path)
            if (
                held is not None
                and held.get("pid") == os.getpid()
                and held.get("host") == (self.holder["host"])
            ):
                return self
            if held is not None:
                reason = self.stale_reason(held) if held else "its lock file is unreadable"
                if reason is None:
                    raise LockedError(
                        f"{self.folder} is in use by pid {held.get('pid')} on "
                        f"{held.get('host')} (job {held.get('job') or '-'}) since "
                        f"{time.ctime(held.get('started', 0))}; two jobs must not write the "
                        f"same files. If that job is dead, remove {self.path}"
                    )
                log.warning("taking over the run lock of %s: %s", self.folder, reason)
            write_bytes(self.path, json.dumps(self.holder, sort_keys=True).encode())
        return self

    def refresh(self, every: float = 60.0) -> None:
        """Show this job is alive (touch the lock), at most once per ``every`` seconds."""
        if time.monotonic() - self._refreshed >= every:
            os.utime(self.path)
            self._refreshed = time.monotonic()

    def release(self) -> None:
        """Remove the lock if this process still holds it."""
        if not self.folder.is_dir():  # removed with the folder (checkpoints superseded)
            return
        with self._guard():
            held = _read_lock(self.path)
            if held and held.get("pid") == os.getpid() and held.get("host") == self.holder["host"]:
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _slurm_job_gone(job: str) -> bool:
    """Whether SLURM says job ``job`` no longer runs (False when it cannot tell)."""
    if not shutil.which("squeue") or not os.environ.get("SLURM_JOB_ID"):
        return False
    try:
        listed = subprocess.run(
            ["squeue", "--noheader", "--jobs", job, "--format", "%T"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    if listed.returncode != 0:  # "Invalid job id": gone from the queue
        return "invalid job id" in listed.stderr.lower()
    return listed.stdout.strip() not in ("RUNNING", "PENDING", "CONFIGURING", "COMPLETING")


def _read_lock(path: Path) -> dict | None:
    try:
        held = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):  # torn by a crash: nobody holds it
        return {}
    return held if isinstance(held, dict) else {}

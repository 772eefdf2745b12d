"""bayling_pipeline.download.fetch and .archives against a real HTTP server on 127.0.0.1 that
injects faults: dropped connections (resumed with Range), 503s, timeouts, 404s, wrong checksums,
truncated gzip, unsafe tarballs, and the offline switch (no socket opened)."""

from __future__ import annotations

import gzip
import hashlib
import io
import socket
import tarfile
import time

import pytest
from fileserver import FaultServer

from bayling_pipeline.download import archives, fetch
from bayling_pipeline.download import corpus as download

UPSTREAM = "https://upstream.example/"
TEXT = "".join(f"Zeile {i}: Grüße, café\u0301 {i * 7}\n" for i in range(4000)).encode()


@pytest.fixture
def served(tmp_path):
    """A folder of real files served on 127.0.0.1: (server, root)."""
    root = tmp_path / "www"
    (root / "data").mkdir(parents=True)
    (root / "data" / "de.txt").write_bytes(TEXT)
    (root / "data" / "en.txt").write_bytes(TEXT.replace(b"Zeile", b"Line"))
    with FaultServer(root) as server:
        yield server, root


@pytest.fixture
def settings(served, tmp_path):
    server, _ = served
    return fetch.Settings(
        cache=str(tmp_path / "cache"),
        lock=str(tmp_path / "lock.json"),
        mirrors={UPSTREAM: server.url},
        retries=2,
        timeout=0.5,
        backoff=0.01,
    )


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(settings) -> list:
    """Every file in the cache but the empty .flock guards (a failed download may leave
    none, not even a .part)."""
    files = fetch.Path(settings.cache).rglob("*")
    return sorted(p.name for p in files if p.is_file() and not p.name.endswith(".flock"))


def test_plain_download_is_byte_identical_and_cached(served, settings):
    server, root = served
    path = fetch.fetch(UPSTREAM + "data/de.txt", digest(TEXT), settings)
    assert path.read_bytes() == TEXT
    assert path == fetch.cache_path(UPSTREAM + "data/de.txt", settings.cache)
    assert fetch.fetch(UPSTREAM + "data/de.txt", digest(TEXT), settings) == path
    assert len(server.requests) == 1, "the second fetch must come from the cache"


def test_dropped_connection_resumes_with_range(served, settings):
    server, _ = served
    server.faults["/data/de.txt"] = ["drop"]
    path = fetch.fetch(UPSTREAM + "data/de.txt", digest(TEXT), settings)
    assert path.read_bytes() == TEXT
    assert server.ranged("/data/de.txt") == [f"bytes={len(TEXT) // 2}-"]


def test_503_then_success(served, settings):
    server, _ = served
    server.faults["/data/de.txt"] = [503, 503]
    assert fetch.fetch(UPSTREAM + "data/de.txt", digest(TEXT), settings).read_bytes() == TEXT
    assert len(server.requests) == 3


def test_slow_response_is_retried(served, settings):
    server, _ = served
    server.faults["/data/de.txt"] = ["slow"]
    assert fetch.fetch(UPSTREAM + "data/de.txt", digest(TEXT), settings).read_bytes() == TEXT


def test_always_slow_fails_clearly_and_leaves_nothing_final(served, settings):
    server, _ = served
    server.faults["/data/de.txt"] = ["slow"] * 3
    started = time.monotonic()
    with pytest.raises(fetch.FetchError, match=r"de\.txt: giving up after 3 attempts.*timed out"):
        fetch.fetch(UPSTREAM + "data/de.txt", digest(TEXT), settings)
    assert time.monotonic() - started < 5
    assert not fetch.cache_path(UPSTREAM + "data/de.txt", settings.cache).exists()


def test_404_is_permanent(served, settings):
    server, _ = served
    with pytest.raises(fetch.FetchError, match=r"127\.0\.0\.1:\d+/data/missing\.txt: HTTP 404"):
        fetch.fetch(UPSTREAM + "data/missing.txt", None, settings)
    assert len(server.requests) == 1, "a 404 is not retried"


def test_checksum_mismatch_names_url_and_both_digests(served, settings):
    wrong = "0" * 64
    with pytest.raises(fetch.FetchError) as error:
        fetch.fetch(UPSTREAM + "data/de.txt", wrong, settings)
    message = str(error.value)
    assert "/data/de.txt" in message and wrong in message and digest(TEXT) in message
    assert leftovers(settings) == []


@pytest.fixture
def no_sockets(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened while offline")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("how", ["config", "HF_HUB_OFFLINE"])
def test_offline_is_an_immediate_clear_error(how, served, settings, monkeypatch, no_sockets):
    server, _ = served
    if how == "config":
        settings = fetch.dataclasses.replace(settings, offline=True)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(fetch.OfflineError, match=r"de\.txt: needed but downloads are off.*"):
        fetch.fetch(UPSTREAM + "data/de.txt", digest(TEXT), settings)
    assert time.monotonic() - started < 0.5
    assert server.requests == []


def test_offline_uses_prestaged_cache(served, settings, monkeypatch, no_sockets):
    server, _ = served
    staged = fetch.cache_path(UPSTREAM + "data/de.txt", settings.cache)
    staged.parent.mkdir(parents=True)
    staged.write_bytes(TEXT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert fetch.fetch(UPSTREAM + "data/de.txt", digest(TEXT), settings).read_bytes() == TEXT
    assert server.requests == []


def test_hub_offline_is_an_immediate_clear_error(settings, monkeypatch, no_sockets):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with fetch.using(settings):
        with pytest.raises(fetch.OfflineError, match=r"hf://datasets/org/data@abc123/a\.txt"):
            fetch.hf_file("org/data", "a.txt", "abc123")
        with pytest.raises(fetch.OfflineError, match="needs the Hugging Face hub"):
            fetch.hf_snapshot("org/instructions", "abc123")


def test_unpinned_file_is_locked_then_enforced(served, settings):
    _, root = served
    path = fetch.fetch(UPSTREAM + "data/de.txt", None, settings)
    lock = fetch.json.loads(fetch.Path(settings.lock).read_text())
    assert lock[UPSTREAM + "data/de.txt"] == {"sha256": digest(TEXT), "bytes": len(TEXT)}
    # upstream changes and the cache is cleared: the lock file catches it
    path.unlink()
    (root / "data" / "de.txt").write_bytes(TEXT + b"changed\n")
    with pytest.raises(fetch.FetchError, match=f"expected sha256 {digest(TEXT)}"):
        fetch.fetch(UPSTREAM + "data/de.txt", None, settings)
    assert leftovers(settings) == []


def test_corrupted_cache_is_refused(served, settings):
    path = fetch.fetch(UPSTREAM + "data/de.txt", digest(TEXT), settings)
    path.write_bytes(b"tampered\n")
    with pytest.raises(fetch.FetchError, match="cached file .* delete it"):
        fetch.fetch(UPSTREAM + "data/de.txt", digest(TEXT), settings)


# --- archives ---------------------------------------------------------------------------


def test_truncated_gzip_is_a_clear_error_and_writes_nothing(served, settings, tmp_path):
    server, root = served
    packed = gzip.compress(TEXT)
    (root / "data" / "de.txt.gz").write_bytes(packed[: len(packed) // 2])
    (root / "data" / "en.txt.gz").write_bytes(gzip.compress(TEXT))
    files = {
        "eng_Latn": {"url": UPSTREAM + "data/en.txt.gz"},
        "deu_Latn": {"url": UPSTREAM + "data/de.txt.gz"},
    }
    with fetch.using(settings), pytest.raises(archives.ArchiveError, match=r"de\.txt\.gz: trunc"):
        download.fetch_corpus("url_parallel", {"files": files}, tmp_path / "c", tmp_path / "m")
    assert not (tmp_path / "c").exists() and not (tmp_path / "m").exists()


def tarball(path, members):
    """Write a .tar.gz of ``members``: (name, bytes) files or (name, "->target") symlinks."""
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content.removeprefix("->")
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return path


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ([("ok/a.txt", b"a\n"), ("../evil.txt", b"x\n")], "leaves the target folder"),
        ([("ok/a.txt", b"a\n"), ("ok/../../evil.txt", b"x\n")], "leaves the target folder"),
        ([("/tmp/evil.txt", b"x\n")], "absolute path"),
        ([("ok/link", "->../../outside")], "points outside"),
        ([("ok/link", "->/etc/passwd")], "points outside"),
    ],
)
def test_unsafe_tar_is_refused_and_nothing_is_written(members, reason, tmp_path):
    archive = tarball(tmp_path / "bad.tar.gz", members)
    target = tmp_path / "a" / "b" / "out"
    with pytest.raises(archives.ArchiveError, match=reason):
        archives.extract_tar(archive, target)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["bad.tar.gz"]
    with pytest.raises(archives.ArchiveError, match=reason):
        archives.tar_members(archive, [members[0][0]])


def test_safe_tar_extracts(tmp_path):
    archive = tarball(tmp_path / "ok.tar.gz", [("d/a.txt", b"a\n"), ("d/link", "->a.txt")])
    out = archives.extract_tar(archive, tmp_path / "out")
    assert (out / "d" / "a.txt").read_bytes() == b"a\n"
    assert (out / "d" / "link").resolve() == (out / "d" / "a.txt").resolve()
    assert archives.tar_members(archive, ["d/a.txt"]) == {"d/a.txt": b"a\n"}


def test_unsafe_tar_by_url_is_refused(served, settings, tmp_path):
    server, root = served
    tarball(root / "data" / "evil.tar.gz", [("x/de.txt", TEXT), ("x/en", "->../../../etc")])
    files = {
        "eng_Latn": {"url": UPSTREAM + "data/en.txt"},
        "deu_Latn": {"url": UPSTREAM + "data/evil.tar.gz", "member": "x/de.txt"},
    }
    with fetch.using(settings), pytest.raises(archives.ArchiveError, match="refusing member"):
        download.fetch_corpus("url_parallel", {"files": files}, tmp_path / "c", tmp_path / "m")
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty document"),
        (b" \n\n", "empty document"),
        (b"ok\nbad \xff byte\n", "line 2 is not valid UTF-8"),
    ],
)
def test_text_lines_errors(data, message):
    with pytest.raises(ValueError, match=f"f.txt: {message}"):
        archives.text_lines(data, "f.txt")


def test_text_lines_nfc_and_line_ends():
    assert archives.text_lines("\ufeffCafe\u0301\r\n\nb\n".encode(), "f") == ["Café", "", "b"]


def test_url_parallel_plain_gzip_and_tar(served, settings, tmp_path):
    server, root = served
    (root / "data" / "en.txt.gz").write_bytes(gzip.compress((root / "data/en.txt").read_bytes()))
    tarball(root / "data" / "de.tar.gz", [("c/de.txt", TEXT)])
    files = {
        "eng_Latn": {"url": UPSTREAM + "data/en.txt.gz"},
        "deu_Latn": {"url": UPSTREAM + "data/de.tar.gz", "member": "c/de.txt"},
    }
    with fetch.using(settings):
        manifest = download.fetch_corpus(
            "url_parallel", {"files": files}, tmp_path / "c.jsonl", tmp_path / "m.json"
        )
    assert manifest["records"] == 4000
    assert manifest["options"]["files"]["deu_Latn"]["member"].endswith("#c/de.txt")
    assert manifest["options"]["files"]["eng_Latn"]["pinned"].startswith("lock file")


def test_url_parallel_misaligned(served, settings, tmp_path):
    server, root = served
    (root / "data" / "short.txt").write_bytes(b"eins\nzwei\n")
    files = {
        "eng_Latn": {"url": UPSTREAM + "data/en.txt"},
        "deu_Latn": {"url": UPSTREAM + "data/short.txt"},
    }
    with fetch.using(settings), pytest.raises(ValueError, match=r"en\.txt \(4000 lines\).*short"):
        download.fetch_corpus("url_parallel", {"files": files}, tmp_path / "c", tmp_path / "m")

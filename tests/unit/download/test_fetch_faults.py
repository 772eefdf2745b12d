"""Rows of the fault matrix (docs/reliability.md) for downloads that run in one process
against the real loopback servers of tests/helpers/fileserver.py: a file changed upstream
between attempts, a wrong Content-Range, redirects to another port or from https to http,
a file the job rejects, and URLs that differ only in their query.

    .venv/bin/pytest -q tests/unit/download/test_fetch_faults.py

The rows with racing processes live in tests/e2e/test_faults.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fileserver import FaultServer, self_signed

from bayling_pipeline.download import corpus, fetch

TEXT = "".join(f"Zeile {i}: Grüße {i * 7}\n" for i in range(4000)).encode()
NEW = TEXT.replace(b"Zeile", b"Linie")
PATH = "/data/de.txt"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def www(tmp_path) -> Path:
    root = tmp_path / "www"
    (root / "data").mkdir(parents=True)
    (root / "data" / "de.txt").write_bytes(TEXT)
    return root


def _settings(tmp_path, **extra) -> fetch.Settings:
    return fetch.Settings(
        cache=str(tmp_path / "cache"),
        lock=str(tmp_path / "lock.json"),
        retries=3,
        timeout=2,
        backoff=0.01,
        **extra,
    )


def _leftovers(settings) -> list[str]:
    files = Path(settings.cache).rglob("*")
    return sorted(p.name for p in files if p.is_file() and not p.name.endswith(".flock"))


def _lock(settings) -> dict:
    lock = Path(settings.lock)
    return json.loads(lock.read_text()) if lock.exists() else {}


def test_file_changed_between_attempts_restarts_instead_of_splicing(www, tmp_path, caplog):
    """Row: the connection drops halfway, and the file changes upstream before the retry:
    the resume asks If-Range, gets the whole new file, and nothing spliced is locked in."""
    settings = _settings(tmp_path)
    with FaultServer(www) as server:
        url = server.url + PATH[1:]
        server.faults[PATH] = ["drop", lambda file: file.write_bytes(NEW)]
        with caplog.at_level("INFO"), fetch.using(settings):
            path = fetch.fetch(url)
        assert server.headers[1]["Range"] and server.headers[1]["If-Range"]
    assert path.read_bytes() == NEW
    assert _lock(settings)[url]["sha256"] == digest(NEW)
    assert "the server sent the whole file" in caplog.text
    assert _leftovers(settings) == ["de.txt"]


def test_file_changed_between_attempts_against_a_pin_is_refused(www, tmp_path):
    """Row (pinned): the same change against a pinned digest is a checksum mismatch;
    nothing enters the cache or the lock file."""
    settings = _settings(tmp_path)
    with FaultServer(www) as server:
        url = server.url + PATH[1:]
        server.faults[PATH] = ["drop", lambda file: file.write_bytes(NEW)]
        with pytest.raises(fetch.FetchError, match=f"expected sha256 {digest(TEXT)}"):
            with fetch.using(settings):
                fetch.fetch(url, digest(TEXT))
    assert _leftovers(settings) == [] and _lock(settings) == {}


def test_wrong_content_range_restarts_from_zero(www, tmp_path, caplog):
    """Row: a resume answered with 206 but a Content-Range that starts elsewhere (a broken
    proxy): the partial file is discarded and the download restarts from zero."""
    settings = _settings(tmp_path)
    with FaultServer(www) as server:
        url = server.url + PATH[1:]
        server.faults[PATH] = ["drop", "wrong-range"]
        with caplog.at_level("WARNING"), fetch.using(settings):
            path = fetch.fetch(url)
        assert [r for _, r in server.requests] == [None, f"bytes={len(TEXT) // 2}-", None]
    assert path.read_bytes() == TEXT
    assert "got Content-Range 'bytes 0-" in caplog.text and "restarting from zero" in caplog.text
    assert _lock(settings)[url]["sha256"] == digest(TEXT)


def test_redirect_to_another_port_is_refused_unless_allowed(www, tmp_path):
    """Row: a redirect to another host (here another port of 127.0.0.1) is refused,
    naming the setting; listed in download.allowed_hosts it is followed."""
    with FaultServer(www) as asked, FaultServer(www) as other:
        url = asked.url + PATH[1:]
        elsewhere = other.url + PATH[1:]
        asked.faults[PATH] = [("redirect", elsewhere)]
        settings = _settings(tmp_path)
        with pytest.raises(fetch.FetchError, match="redirect to another host.*allowed_hosts"):
            fetch.fetch(url, None, settings)
        assert other.requests == [] and _leftovers(settings) == [] and _lock(settings) == {}
        host = elsewhere.split("/")[2]
        asked.faults[PATH] = [("redirect", elsewhere)]
        allowed = _settings(tmp_path, allowed_hosts=(host,))
        assert fetch.fetch(url, None, allowed).read_bytes() == TEXT
        assert len(other.requests) == 1


def test_redirect_from_https_to_http_is_refused_even_when_allowed(www, tmp_path, monkeypatch):
    """Row: https redirected to http is refused, whatever allowed_hosts says."""
    certificate = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    with FaultServer(www, certificate=certificate) as secure, FaultServer(www) as plain:
        assert secure.url.startswith("https://")
        settings = _settings(tmp_path, allowed_hosts=("127.0.0.1",))
        assert fetch.fetch(secure.url + PATH[1:], None, settings).read_bytes() == TEXT
        secure.faults["/data/other.txt"] = [("redirect", plain.url + PATH[1:])]
        with pytest.raises(fetch.FetchError, match="redirect from https to http"):
            fetch.fetch(secure.url + "data/other.txt", None, settings)
        assert plain.requests == []


def test_rejected_download_is_not_locked_and_the_corrected_file_is_taken(www, tmp_path):
    """Row: a corpus job rejects its download (misaligned lines): no digest enters the lock
    file and the rejected file leaves the cache, so the corrected upstream file is
    fetched and accepted by the next run."""
    (www / "data" / "en.txt").write_bytes(b"one\ntwo\n")
    settings = _settings(tmp_path)
    with FaultServer(www) as server:
        files = {
            "deu_Latn": {"url": server.url + "data/de.txt"},
            "eng_Latn": {"url": server.url + "data/en.txt"},
        }
        options = {"files": files}
        with pytest.raises(ValueError, match="not line-aligned"), fetch.using(settings):
            corpus.fetch_corpus("url_parallel", options, tmp_path / "c1", tmp_path / "m1")
        assert _lock(settings) == {} and _leftovers(settings) == []
        corrected = NEW.replace(b"Linie", b"Line")
        (www / "data" / "en.txt").write_bytes(corrected)
        with fetch.using(settings):
            corpus.fetch_corpus("url_parallel", options, tmp_path / "c2", tmp_path / "m2")
    locked = _lock(settings)
    assert locked[files["eng_Latn"]["url"]]["sha256"] == digest(corrected)
    assert locked[files["deu_Latn"]["url"]]["sha256"] == digest(TEXT)


@pytest.mark.parametrize(
    "first,second,same",
    [
        ("https://h.example/get?id=1", "https://h.example/get?id=2", False),
        ("https://h.example/get?id=1", "https://h.example/get?id=1", True),
        ("https://h.example/a.txt", "https://h.example/a.txt?x", False),
    ],
)
def test_urls_differing_only_in_query_do_not_share_a_cache_file(first, second, same):
    assert (fetch.cache_path(first, "c") == fetch.cache_path(second, "c")) is same
    assert fetch.cache_path("https://h.example/a/b.txt", "c") == Path("c/h.example/a/b.txt")


def test_a_killed_copys_temporary_is_swept_and_the_partial_download_kept(www, tmp_path):
    """Row: a job killed while copying into the cache leaves a uniquely named temporary;
    the next job holding the entry's lock removes it (a resumable .part stays)."""
    settings = _settings(tmp_path)
    with FaultServer(www) as server:
        url = server.url + PATH[1:]
        dest = fetch.cache_path(url, settings.cache)
        dest.parent.mkdir(parents=True)
        stale = dest.with_name(f".{dest.name}.node7.12345.0badc0de.part")
        stale.write_bytes(b"half a copy")
        assert fetch.fetch(url, None, settings).read_bytes() == TEXT
    assert not stale.exists() and _leftovers(settings) == ["de.txt"]

"""A mirror that is a local folder (a checkout of the data beside the project): read when it
holds the file, even offline, verified like a download; the upstream URL (here a real
loopback server) is fetched when it does not hold it."""

from __future__ import annotations

import hashlib

import pytest
from fileserver import FaultServer

from bayling_pipeline.download import fetch

UPSTREAM = "https://upstream.example/data/"
BODY = b'{"premise": "Ma t\\u00fchjendasin oma taskud."}\n' * 50


@pytest.fixture
def folders(tmp_path):
    local = tmp_path / "checkout"
    served = tmp_path / "www" / "data"
    local.mkdir()
    served.mkdir(parents=True)
    (local / "a.jsonl").write_bytes(BODY)
    (served / "b.jsonl").write_bytes(BODY + b"{}\n")
    return tmp_path, local


def settings_for(tmp_path, mirrors, offline=False):
    return fetch.Settings(
        cache=str(tmp_path / "cache"),
        lock=str(tmp_path / "lock.json"),
        mirrors=mirrors,
        offline=offline,
        retries=0,
        backoff=0,
    )


def test_a_local_mirror_is_read_even_offline(folders):
    tmp_path, local = folders
    settings = settings_for(tmp_path, {UPSTREAM: f"{local}/"}, offline=True)
    digest = hashlib.sha256(BODY).hexdigest()
    path = fetch.fetch(UPSTREAM + "a.jsonl", digest, settings)
    assert path == fetch.cache_path(UPSTREAM + "a.jsonl", settings.cache)
    assert path.read_bytes() == BODY
    assert not list(path.parent.glob(".*.part"))


def test_a_file_the_local_mirror_lacks_comes_from_upstream(folders):
    tmp_path, local = folders
    with FaultServer(tmp_path / "www") as server:
        upstream = server.url + "data/"
        settings = settings_for(tmp_path, {upstream: f"{local}/"})
        path = fetch.fetch(upstream + "b.jsonl", None, settings)
        assert path.read_bytes() == BODY + b"{}\n"
        assert fetch.locked_digest(upstream + "b.jsonl", settings) == fetch.sha256_file(path)
        with pytest.raises(fetch.OfflineError, match="c.jsonl"):
            fetch.fetch(
                upstream + "c.jsonl", None, settings_for(tmp_path, {upstream: f"{local}/"}, True)
            )


def test_a_local_mirror_file_with_another_digest_is_refused(folders):
    tmp_path, local = folders
    settings = settings_for(tmp_path, {UPSTREAM: f"{local}/"})
    with pytest.raises(fetch.FetchError, match=r"local mirror file .*a\.jsonl has sha256"):
        fetch.fetch(UPSTREAM + "a.jsonl", "0" * 64, settings)
    assert not fetch.cache_path(UPSTREAM + "a.jsonl", settings.cache).exists()

"""The paper's real sources through a real HTTP server: the WMT22 test set (14 directions, as
sacrebleu downloads it) and the BayLing repository's published outputs, served from
../shared/data with the upstream paths, fetched with the digests pinned in
presets/bayling-wmt22.yaml; a Flores-200-layout tarball through the lock file; and the
download stage of the workflow run by Snakemake against the same server."""

from __future__ import annotations

import hashlib
import json
import unicodedata

import conftest
import pytest
import yaml
from conftest import ROOT, SHARED_DATA, run_snakemake
from fileserver import FaultServer

from bayling_pipeline.download import fetch, testsets
from bayling_pipeline.io import read_lines

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "wmt22").is_dir(),
    reason=f"{SHARED_DATA} (real WMT22 and BayLing files) is absent, e.g. in a fresh clone",
)

PRESET = yaml.safe_load((ROOT / "presets" / "bayling-wmt22.yaml").read_text())
WMT22 = PRESET["testsets"]["wmt22"]
WMT_UP = "https://raw.githubusercontent.com/wmt-conference/wmt22-news-systems/main/"
BAYLING_UP = "https://raw.githubusercontent.com/ictnlp/BayLing/main/"
SEGMENTS = {"zho_Hans-eng_Latn": 1875, "deu_Latn-eng_Latn": 1984, "ces_Latn-eng_Latn": 1448}


@pytest.fixture(scope="module")
def server():
    with FaultServer(SHARED_DATA) as server:
        yield server


@pytest.fixture(scope="module")
def mirrors(server):
    return {WMT_UP: server.url + "wmt22/", BAYLING_UP: server.url + "bayling/"}


@pytest.fixture(scope="module")
def wmt22(tmp_path_factory, mirrors):
    """Every WMT22 direction of the preset fetched: (out folder, settings, manifests)."""
    out = tmp_path_factory.mktemp("wmt22")
    settings = fetch.Settings(cache=str(out / "cache"), lock=None, mirrors=mirrors, timeout=5)
    manifests = {}
    with fetch.using(settings):
        for pair in WMT22["directions"]:
            manifests[pair] = testsets.fetch_testset(
                WMT22["download"],
                pair,
                out / f"{pair}.source.txt",
                out / f"{pair}.reference.txt",
                out / f"{pair}.references",
                out / f"{pair}.manifest.json",
            )
    return out, settings, manifests


def test_wmt22_raw_files_are_byte_identical_and_pinned(wmt22):
    out, settings, manifests = wmt22
    digests = WMT22["download"]["sha256"]
    assert len(digests) == 14 + 20  # 14 sources, 20 references
    for relative, digest in digests.items():
        url = WMT_UP + "txt/" + relative
        cached = fetch.cache_path(url, settings.cache)
        served = SHARED_DATA / "wmt22" / "txt" / relative
        assert cached.read_bytes() == served.read_bytes(), relative
        assert hashlib.sha256(cached.read_bytes()).hexdigest() == digest
    assert {f["pinned"] for m in manifests.values() for f in m["files"]} == {"config"}


def test_wmt22_normalized_outputs(wmt22):
    out, _, manifests = wmt22
    assert len(manifests) == 14
    for pair, manifest in manifests.items():
        source = read_lines(out / f"{pair}.source.txt")
        refs = {p.stem: read_lines(p) for p in (out / f"{pair}.references").iterdir()}
        assert manifest["segments"] == len(source) == len(read_lines(out / f"{pair}.reference.txt"))
        assert all(len(lines) == len(source) for lines in refs.values())
        assert sorted(refs) == sorted(manifest["references"])
        assert refs[manifest["primary_reference"]] == read_lines(out / f"{pair}.reference.txt")
        for line in source + [line for lines in refs.values() for line in lines]:
            assert line == unicodedata.normalize("NFC", line)
        assert set(manifest["languages"]) == set(pair.split("-"))
    for pair, count in SEGMENTS.items():
        assert manifests[pair]["segments"] == count
    assert manifests["eng_Latn-zho_Hans"]["segments"] == 2037
    # cs-en has no reference A: B is primary, C the second
    assert manifests["ces_Latn-eng_Latn"]["references"] == ["B", "C"]
    assert manifests["zho_Hans-eng_Latn"]["references"] == ["A", "B"]
    assert manifests["jpn_Jpan-eng_Latn"]["references"] == ["A"]
    assert (
        read_lines(out / "deu_Latn-eng_Latn.source.txt")[0]
        == read_lines(SHARED_DATA / "wmt22/txt/sources/generaltest2022.de-en.src.de")[0]
    )


def test_published_outputs_byte_identical(wmt22, tmp_path, mirrors):
    out, _, _ = wmt22
    settings = fetch.Settings(cache=str(tmp_path / "cache"), lock=None, mirrors=mirrors)
    published = PRESET["download"]["published"]
    fetched = 0
    with fetch.using(settings):
        for name, spec in published.items():
            for pair in spec["sha256"]:
                hyp = tmp_path / name / f"{pair}.hyp.txt"
                manifest = testsets.fetch_published(
                    spec, pair, out / f"{pair}.source.txt", hyp, hyp.with_suffix(".json")
                )
                raw = fetch.cache_path(manifest["url"], settings.cache).read_bytes()
                upstream = manifest["url"].replace(BAYLING_UP, "bayling/")
                upstream = upstream.replace(WMT_UP, "wmt22/")
                assert raw == (SHARED_DATA / upstream).read_bytes()
                assert manifest["sha256"] == spec["sha256"][pair]
                assert manifest["segments"] == len(read_lines(hyp))
                fetched += 1
    assert fetched == len([p for s in published.values() for p in s["sha256"]]) > 150
    assert set(published) >= {"bayling-7b", "bayling-13b", "gpt-4", "google-translate"}


def test_published_output_misaligned_is_refused(wmt22, tmp_path, mirrors):
    out, _, _ = wmt22
    spec = dict(PRESET["download"]["published"]["gpt-4"])
    settings = fetch.Settings(cache=str(tmp_path / "cache"), lock=None, mirrors=mirrors)
    with fetch.using(settings), pytest.raises(ValueError, match=r"2037 lines .* has 1875"):
        # the en-zh output is checked against the zh-en test set
        spec["url"] = spec["url"].replace("{src}-{tgt}", "en-zh")
        spec["sha256"] = {}
        testsets.fetch_published(
            spec,
            "zho_Hans-eng_Latn",
            out / "zho_Hans-eng_Latn.source.txt",
            tmp_path / "h",
            tmp_path / "m",
        )
    assert not (tmp_path / "h").exists()


def test_flores_tarball_is_locked_then_enforced(tmp_path, server):
    """A Flores-200-layout tarball (real WMT22 lines) unpinned: lock on first use, enforced."""
    import tarfile

    www = tmp_path / "www"
    (www / "nllb").mkdir(parents=True)
    with tarfile.open(www / "nllb" / "flores200_dataset.tar.gz", "w:gz") as archive:
        for code, short in (("eng_Latn", "en"), ("deu_Latn", "de")):
            name = "ref.A.en" if short == "en" else "src.de"
            folder = "references" if short == "en" else "sources"
            archive.add(
                SHARED_DATA / f"wmt22/txt/{folder}/generaltest2022.de-en.{name}",
                f"flores200_dataset/devtest/{code}.devtest",
            )
    spec = {"source": "flores200", "sha256": None, "split": "devtest"}
    lock = tmp_path / "lock.json"
    with FaultServer(www) as local:
        settings = fetch.Settings(
            cache=str(tmp_path / "cache"),
            lock=str(lock),
            mirrors={"https://dl.fbaipublicfiles.com/": local.url},
        )
        with fetch.using(settings):  # the job: its digests are locked once it succeeds
            manifest = testsets.fetch_testset(
                spec, "deu_Latn-eng_Latn", *(tmp_path / n for n in ("s", "r", "refs", "m.json"))
            )
        assert manifest["segments"] == 1984
        assert manifest["files"][0]["pinned"].startswith("lock file")
        entry = json.loads(lock.read_text())[testsets.FLORES200_URL]
        with fetch.using(settings):
            # the upstream tarball changes: the next fresh download is refused
            fetch.cache_path(testsets.FLORES200_URL, settings.cache).unlink()
            (www / "nllb" / "flores200_dataset.tar.gz").write_bytes(b"not the same")
            with pytest.raises(fetch.FetchError, match=f"expected sha256 {entry['sha256']}"):
                testsets.fetch_testset(
                    spec, "deu_Latn-eng_Latn", *(tmp_path / n for n in ("s2", "r2", "f2", "m2"))
                )
    assert not (tmp_path / "s2").exists()


def online_env() -> dict[str, str]:
    """The test workflow environment without HF_HUB_OFFLINE (which would block downloads)."""
    return {k: v for k, v in WORKFLOW_ENV().items() if k != "HF_HUB_OFFLINE"}


WORKFLOW_ENV = conftest.workflow_env


def test_download_stage_through_snakemake(tmp_path, mirrors, monkeypatch):
    """`snakemake download` with two WMT22 directions and two published systems, then the
    same offline from the cache it filled (a compute node), then offline with no cache."""
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    pairs = ["zho_Hans-eng_Latn", "eng_Latn-deu_Latn"]
    config["testsets"]["wmt22"] = {**WMT22, "directions": pairs}
    config["evaluation"]["testsets"] = ["wmt22"]
    published = PRESET["download"]["published"]
    config["download"] = {
        "mirrors": mirrors,
        "published": {
            name: {**published[name], "sha256": {p: published[name]["sha256"][p] for p in pairs}}
            for name in ("bayling-7b", "gpt-4")
        },
    }
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    # the download stage runs where the network is (a login node): HF_HUB_OFFLINE unset
    monkeypatch.setattr(conftest, "workflow_env", online_env)
    run_snakemake(tmp_path, configfile, "download")
    out = tmp_path / "results" / "download" / "testsets" / "wmt22"
    assert len(read_lines(out / "zho_Hans-eng_Latn.source.txt")) == 1875
    assert sorted(p.name for p in (out / "zho_Hans-eng_Latn.references").glob("*.txt")) == [
        "A.txt",
        "B.txt",
    ]
    hyp = tmp_path / "resources/published/bayling-7b/wmt22/eng_Latn-deu_Latn.hyp.txt"
    assert len(read_lines(hyp)) == 2037
    assert json.loads(hyp.with_suffix("").with_suffix(".manifest.json").read_text())["url"] == (
        BAYLING_UP + "exp/translation_benchmark/bayling-7b/en-de.hypo"
    )
    # offline on a "compute node": the same outputs again, from the pre-staged cache
    for path in (tmp_path / "results").rglob("*"):
        if path.is_file():
            path.unlink()
    config["download"]["offline"] = True
    configfile.write_text(yaml.safe_dump(config))
    run_snakemake(tmp_path, configfile, "download", "--forceall")
    assert len(read_lines(out / "zho_Hans-eng_Latn.source.txt")) == 1875
    # offline without the cache: a clear error, no output
    config["download"]["cache"] = "elsewhere"
    configfile.write_text(yaml.safe_dump(config))
    # --keep-going: the download target also stages the corpus and the model, whichever
    # job fails first would otherwise stop the others before they run
    result = run_snakemake(
        tmp_path, configfile, "download", "--forceall", "--keep-going", check=False
    )
    assert result.returncode != 0
    log = (tmp_path / "logs/download/testsets/wmt22/zho_Hans-eng_Latn.log").read_text()
    assert "downloads are off" in log and "pre-stage it at elsewhere/" in log

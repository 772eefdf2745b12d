"""Tests of bayling_pipeline.download.corpus: the real Django catalogs and small local files."""

from __future__ import annotations

import hashlib
import json
import unicodedata

import pytest

from bayling_pipeline.download import corpus as download
from bayling_pipeline.io import read_json, read_jsonl


@pytest.fixture(scope="module")
def django_corpus(tmp_path_factory):
    """The whole Django corpus, built once: (jsonl path, manifest, records)."""
    out = tmp_path_factory.mktemp("django")
    manifest = download.fetch_corpus(
        "django_catalogs", {"languages": "all"}, out / "c.jsonl", out / "m.json"
    )
    return out / "c.jsonl", manifest, list(read_jsonl(out / "c.jsonl"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  a\n b\t\tc ", "a b c"),
        ("Cafe\u0301", "Café"),  # decomposed -> NFC
        ("\n\n", ""),
    ],
)
def test_normalize_text(text, expected):
    assert download.normalize_text(text) == expected


def test_django_corpus_size(django_corpus):
    _, manifest, records = django_corpus
    assert manifest["records"] == len(records) >= 800
    assert len(manifest["languages"]) >= 90
    assert manifest["languages"]["eng_Latn"]["segments"] == len(records)
    assert manifest["languages"]["deu_Latn"]["name"] == "German"
    assert manifest["version"].startswith("django==")
    assert manifest["options"] == {"languages": "all", "min_segments": 0}


def test_django_known_translations(django_corpus):
    _, _, records = django_corpus
    by_english = {record["texts"]["eng_Latn"]: record for record in records}
    record = by_english["This field is required."]
    assert record["texts"]["deu_Latn"] == "Dieses Feld ist zwingend erforderlich."
    assert record["id"] == hashlib.sha256(b"This field is required.").hexdigest()[:16]
    assert "eng_Latn" in record["texts"] and len(record["texts"]) > 50


def test_django_records_are_normalized_and_sorted(django_corpus):
    _, _, records = django_corpus
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    for record in records:
        for text in record["texts"].values():
            assert text and text == unicodedata.normalize("NFC", text)
            assert "\n" not in text and "  " not in text and text == text.strip()


def test_manifest_sha256_and_determinism(django_corpus, tmp_path):
    path, manifest, _ = django_corpus
    data = path.read_bytes()
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    again = download.fetch_corpus(
        "django_catalogs", {"languages": "all"}, tmp_path / "c.jsonl", tmp_path / "m.json"
    )
    assert (tmp_path / "c.jsonl").read_bytes() == data
    assert again == manifest == read_json(tmp_path / "m.json")


def test_django_language_subset_and_min_segments(tmp_path):
    manifest = download.fetch_corpus(
        "django_catalogs",
        {"languages": ["deu_Latn", "fry_Latn"], "min_segments": 100},
        tmp_path / "c.jsonl",
        tmp_path / "m.json",
    )
    # Western Frisian has only a few dozen strings: dropped; English always kept.
    assert sorted(manifest["languages"]) == ["deu_Latn", "eng_Latn"]
    records = list(read_jsonl(tmp_path / "c.jsonl"))
    assert all(set(r["texts"]) == {"deu_Latn", "eng_Latn"} for r in records)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"languages": ["deu_Latn", "xxx_Latn"]}, "xxx_Latn"),
        ({"languages": ["hau_Latn"]}, "no Django catalog.*hau_Latn"),
        ({"languages": "deu_Latn"}, "'all' or a list"),
        ({"langs": "all"}, "unknown option"),
    ],
)
def test_django_bad_options(options, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        download.fetch_corpus("django_catalogs", options, tmp_path / "c", tmp_path / "m")
    assert not (tmp_path / "c").exists()


def test_unknown_source_lists_registered(tmp_path):
    with pytest.raises(ValueError, match="django_catalogs.*local_parallel"):
        download.fetch_corpus("nope", {}, tmp_path / "c", tmp_path / "m")


def test_registry_rejects_duplicates():
    with pytest.raises(ValueError, match="twice"):
        download.source("django_catalogs")(lambda options: None)


def _write(path, data: bytes):
    path.write_bytes(data)
    return str(path)


def test_local_parallel(tmp_path):
    files = {
        "eng_Latn": _write(tmp_path / "en.txt", "Hello\nCafe\u0301  bar\n\nHello\nBye\n".encode()),
        "deu_Latn": _write(tmp_path / "de.txt", b"Hallo\nCaf\xc3\xa9 Bar\nLeer\nHallo 2\n\n"),
    }
    manifest = download.fetch_corpus(
        "local_parallel", {"files": files}, tmp_path / "c.jsonl", tmp_path / "m.json"
    )
    records = list(read_jsonl(tmp_path / "c.jsonl"))
    expected = [
        {"id": download.record_id("Hello"), "texts": {"eng_Latn": "Hello", "deu_Latn": "Hallo"}},
        {
            "id": download.record_id("Café bar"),
            "texts": {"eng_Latn": "Café bar", "deu_Latn": "Café Bar"},
        },
        {"id": download.record_id("Bye"), "texts": {"eng_Latn": "Bye"}},
    ]
    assert records == sorted(expected, key=lambda r: r["id"])
    assert manifest["languages"] == {
        "deu_Latn": {"name": "German", "segments": 2},
        "eng_Latn": {"name": "English", "segments": 3},
    }
    assert json.loads((tmp_path / "m.json").read_text())["records"] == 3


@pytest.mark.parametrize(
    ("german", "message"),
    [
        (b"eins\nzwei\n", r"not line-aligned: \S*en.txt \(3 lines\), \S*de.txt \(2 lines\)"),
        (b"eins\nzw\xffei\ndrei\n", r"\S*de.txt: line 2 is not valid UTF-8"),
        (b"", r"\S*de.txt: empty document"),
    ],
)
def test_local_parallel_errors(german, message, tmp_path):
    files = {
        "eng_Latn": _write(tmp_path / "en.txt", b"one\ntwo\nthree\n"),
        "deu_Latn": _write(tmp_path / "de.txt", german),
    }
    with pytest.raises(ValueError, match=message):
        download.fetch_corpus("local_parallel", {"files": files}, tmp_path / "c", tmp_path / "m")


def test_local_parallel_unknown_code(tmp_path):
    files = {"eng_Latn": _write(tmp_path / "a", b"x\n"), "xx": _write(tmp_path / "b", b"y\n")}
    with pytest.raises(ValueError, match="'xx'"):
        download.fetch_corpus("local_parallel", {"files": files}, tmp_path / "c", tmp_path / "m")

"""Tests of bayling_pipeline.download.splits: deterministic leak-free splits and test-set files."""

from __future__ import annotations

from collections import Counter

import pytest

from bayling_pipeline.download import corpus as download
from bayling_pipeline.download import splits
from bayling_pipeline.io import read_json, read_jsonl, read_lines, write_jsonl


def _record(english: str, **texts: str) -> dict:
    return {"id": download.record_id(english), "texts": {"eng_Latn": english, **texts}}


@pytest.fixture(scope="module")
def django_records(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("django")
    download.fetch_corpus("django_catalogs", {}, out / "c.jsonl", out / "m.json")
    return list(read_jsonl(out / "c.jsonl"))


def _ids(split: dict[str, list[dict]]) -> dict[str, list[str]]:
    return {name: [r["id"] for r in records] for name, records in split.items()}


def test_split_is_deterministic_and_ordered(django_records):
    first = splits.split_records(django_records, 0.1, 0.1, seed=1)
    again = splits.split_records(list(reversed(django_records)), 0.1, 0.1, seed=1)
    assert set(first) == {"train", "dev", "test"}
    assert _ids(first) == _ids(again)
    for ids in _ids(first).values():
        assert ids == sorted(ids)
    assert _ids(first) != _ids(splits.split_records(django_records, 0.1, 0.1, seed=2))


def test_split_of_a_string_does_not_depend_on_the_rest(django_records):
    whole = splits.split_records(django_records, 0.1, 0.1, seed=1)
    half = splits.split_records(django_records[::2], 0.1, 0.1, seed=1)
    where = {r["id"]: name for name, records in whole.items() for r in records}
    for name, records in half.items():
        for record in records:
            assert where.get(record["id"], name) == name


@pytest.mark.parametrize(("dev", "test"), [(0.1, 0.1), (0.05, 0.2), (0.0, 0.1)])
def test_fractions_roughly_respected(django_records, dev, test):
    assigned = Counter(splits.assign_split(r, dev, test, seed=1) for r in django_records)
    total = len(django_records)
    assert abs(assigned["dev"] / total - dev) < 0.03
    assert abs(assigned["test"] / total - test) < 0.03
    result = splits.split_records(django_records, dev, test, seed=1)
    assert len(result["train"]) == assigned["train"]  # training records are never dropped
    # Leak removal drops some held-out records (month names, AM/PM, ...), never most.
    assert assigned["test"] * 0.5 <= len(result["test"]) <= assigned["test"]


def test_same_english_lands_in_same_split():
    records = [_record(f"Sentence number {i}.") for i in range(200)]
    twins = [{"id": f"x{i}", "texts": {"eng_Latn": f"sentence  NUMBER {i}."}} for i in range(200)]
    for record, twin in zip(records, twins, strict=True):
        assert splits.assign_split(record, 0.2, 0.2, 7) == splits.assign_split(twin, 0.2, 0.2, 7)


def _first_in(records, dev, test, seed, name):
    return next(r for r in records if splits.assign_split(r, dev, test, seed) == name)


def test_leaking_heldout_record_is_dropped():
    records = [_record(f"Sentence number {i}.", deu_Latn=f"Satz Nummer {i}.") for i in range(100)]
    train = _first_in(records, 0.2, 0.2, 1, "train")
    test = _first_in(records, 0.2, 0.2, 1, "test")
    # Plant the training record's German (up to case and spacing) in a test record.
    test["texts"]["deu_Latn"] = "  " + train["texts"]["deu_Latn"].upper()
    result = splits.split_records(records, 0.2, 0.2, seed=1)
    assert test not in result["test"] and train in result["train"]
    assert sum(len(v) for v in result.values()) == len(records) - 1
    splits.assert_no_leak(result["train"], result["dev"] + result["test"])
    with pytest.raises(
        splits.LeakError, match=r"1 held-out text\(s\) in 1 record.*deu_Latn: .satz nummer"
    ):
        splits.assert_no_leak(result["train"], [test])


def test_assert_no_leak_ignores_other_languages():
    train = [_record("Hello", deu_Latn="Hallo")]
    splits.assert_no_leak(train, [_record("Hi", nld_Latn="Hallo")])
    with pytest.raises(splits.LeakError, match="eng_Latn: 'hello'"):
        splits.assert_no_leak(train, [_record("hello")])
    assert issubclass(splits.LeakError, ValueError)


@pytest.mark.parametrize(("dev", "test"), [(-0.1, 0.1), (0.5, 0.5), (0.1, 1.2)])
def test_bad_fractions(dev, test):
    with pytest.raises(ValueError, match="fraction"):
        splits.split_records([], dev, test, seed=1)


def test_write_splits(django_records, tmp_path):
    corpus = tmp_path / "c.jsonl"
    write_jsonl(corpus, django_records)
    out = {name: tmp_path / f"{name}.jsonl" for name in ("train", "dev", "test")}
    summary = splits.write_splits(corpus, out, tmp_path / "s.json", 0.1, 0.1, seed=1)
    assert summary == read_json(tmp_path / "s.json")
    written = {name: list(read_jsonl(path)) for name, path in out.items()}
    assert summary["records"] == {name: len(records) for name, records in written.items()}
    assert summary["dropped"]["total"] == len(django_records) - sum(summary["records"].values())
    assert summary["dropped"]["total"] > 0
    german = sum("deu_Latn" in r["texts"] for r in written["test"])
    assert summary["languages"]["test"]["deu_Latn"] == german
    splits.assert_no_leak(written["train"], written["dev"] + written["test"])
    with pytest.raises(ValueError, match="exactly the splits"):
        splits.write_splits(corpus, {"train": out["train"]}, tmp_path / "s.json", 0.1, 0.1, 1)


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("Enter a valid date.", "eng_Latn", 4),
        ("请输入一个有效的日期。", "zho_Hans", 5.5),
        ("有効な日付を入力してください。", "jpn_Jpan", 7.5),
        ("กรอก วันที่", "tha_Thai", 5),  # 10 code points: combining marks count too
    ],
)
def test_source_words(text, code, words):
    assert splits.source_words(text, code) == words


TOY = [
    _record("One two three four.", deu_Latn="Eins zwei drei vier."),
    _record("Short.", deu_Latn="Kurz."),
    _record("English only here, five words."),
    _record("Alpha beta gamma delta epsilon.", deu_Latn="Alpha Beta Gamma Delta Epsilon."),
    _record("Six words are in this one.", deu_Latn="Sechs Wörter sind in diesem hier."),
]


@pytest.mark.parametrize(
    ("max_segments", "min_words", "expected"),
    [
        (
            None,
            0,
            [
                "One two three four.",
                "Short.",
                "Alpha beta gamma delta epsilon.",
                "Six words are in this one.",
            ],
        ),
        (
            None,
            4,
            [
                "One two three four.",
                "Alpha beta gamma delta epsilon.",
                "Six words are in this one.",
            ],
        ),
        (None, 5, ["Alpha beta gamma delta epsilon.", "Six words are in this one."]),
        (1, 5, ["Alpha beta gamma delta epsilon."]),
        (0, 0, []),
    ],
)
def test_build_testset(max_segments, min_words, expected):
    sources, references = splits.build_testset(TOY, "eng_Latn", "deu_Latn", max_segments, min_words)
    by_id = sorted((r for r in TOY if r["texts"]["eng_Latn"] in expected), key=lambda r: r["id"])
    assert sources == [r["texts"]["eng_Latn"] for r in by_id]
    assert references == [r["texts"]["deu_Latn"] for r in by_id]
    assert sorted(sources) == sorted(expected)


def test_cut_testset(tmp_path):
    test = tmp_path / "test.jsonl"
    write_jsonl(test, TOY)
    count = splits.cut_testset(test, "deu_Latn-eng_Latn", tmp_path / "s", tmp_path / "r", 3, 3)
    sources, references = read_lines(tmp_path / "s"), read_lines(tmp_path / "r")
    assert count == len(sources) == len(references) == 3
    pairs = {
        r["texts"]["deu_Latn"]: r["texts"]["eng_Latn"] for r in TOY if "deu_Latn" in r["texts"]
    }
    assert [pairs[s] for s in sources] == references


@pytest.mark.parametrize(
    ("pair", "min_words", "message"),
    [
        ("eng_Latn-fra_Latn", 0, r"eng_Latn-fra_Latn: no segments in \S*test.jsonl"),
        ("eng_Latn-deu_Latn", 50, r"eng_Latn-deu_Latn: no segments in \S*test.jsonl"),
        ("eng_Latn-xxx_Latn", 0, "unknown language code"),
    ],
)
def test_cut_testset_errors(tmp_path, pair, min_words, message):
    test = tmp_path / "test.jsonl"
    write_jsonl(test, TOY)
    with pytest.raises(ValueError, match=message):
        splits.cut_testset(test, pair, tmp_path / "s", tmp_path / "r", None, min_words)
    assert not (tmp_path / "s").exists()

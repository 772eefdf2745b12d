"""Data hygiene (bayling_pipeline.synthesize.hygiene) on real sentences: ALMA's
human-written de-en and zh-en pairs, the WMT22 test sets and BayLing-80, all from
../shared/data (tests skip without it).

    .venv/bin/pytest tests/unit/synthesize/test_hygiene.py -q
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from bayling_pipeline import languages
from bayling_pipeline.synthesize.hygiene import (
    ContaminationIndex,
    DropCounter,
    LanguageIdentifier,
    NearDuplicateIndex,
    langid,
    length_ratio_ok,
    lengths,
    normalization,
    normalize,
)

DATA = ROOT.parent / "shared" / "data"
ALMA = DATA / "alma" / "human_written_data"
WMT22 = DATA / "wmt22" / "txt"
BAYLING_80 = DATA / "bayling" / "data" / "BayLing-80"


def read_lines(path: Path) -> list[str]:
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared/data is not in a fresh clone)")
    return path.read_text(encoding="utf-8").splitlines()


def alma(pair: str, side: str) -> list[str]:
    return read_lines(ALMA / pair / f"train.{pair[:2]}-{pair[2:]}.{side}")


def sample(lines: list[str], count: int) -> list[str]:
    """`count` lines spread over the whole file (its first lines are one news story)."""
    return lines[:: max(1, len(lines) // count)][:count]


def bayling_80(language: str) -> list[str]:
    path = BAYLING_80 / f"BayLing-80.singleturn.{language}.jsonl"
    return [json.loads(line)["text"] for line in read_lines(path)]


def wmt22_texts() -> list[str]:
    if not WMT22.is_dir():
        pytest.skip(f"{WMT22} is absent (../shared/data is not in a fresh clone)")
    files = sorted((WMT22 / "sources").iterdir()) + sorted((WMT22 / "references").iterdir())
    return [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]


def bare(text: str) -> str:
    """Normalized words without punctuation (people's and people’s both give "people s")."""
    return " ".join(re.findall(r"\w+", normalize(text)))


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.fixture(scope="module")
def wmt22_index() -> ContaminationIndex:
    return ContaminationIndex.from_texts(wmt22_texts())


@pytest.fixture(scope="module")
def wmt22_bare() -> str:
    return "\n".join(bare(line) for line in wmt22_texts())


# --------------------------------------------------------------------------------------
# normalize
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  «Hello,   WORLD»!! ", "hello, world"),
        ("Ｆｕｌｌ　ｗｉｄｔｈ！", "full width"),
        ("Straße\tund\nWEG", "strasse und weg"),
        ("“你好，世界。”", "你好,世界"),
        ("x - y", "x - y"),
        ("...", ""),
        ("", ""),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


# --------------------------------------------------------------------------------------
# Language identification
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pair", "side", "code"),
    [("deen", "de", "deu_Latn"), ("deen", "en", "eng_Latn"), ("zhen", "zh", "zho_Hans")],
)
def test_identifies_real_lines(identifier, pair, side, code):
    lines = sample(alma(pair, side), 200)
    found = identifier.identify_many(lines)
    assert sum(result[0] == code for result in found) >= 0.95 * len(lines)
    assert found == [identifier.identify(line) for line in lines]


@pytest.mark.parametrize(("language", "code"), [("zh", "zho_Hans"), ("en", "eng_Latn")])
def test_identifies_bayling_80_instructions(identifier, language, code):
    questions = bayling_80(language)
    assert [result[0] for result in identifier.identify_many(questions)] == [code] * 80
    assert all(identifier.agrees_many(questions, code))


def test_identify_many_equals_identify_on_odd_inputs(identifier):
    german = sample(alma("deen", "de"), 20)
    texts = ["", " ", "🙂", "42", "\udcff lone surrogate", " ".join(german), *german]
    assert identifier.identify_many(texts) == [identifier.identify(text) for text in texts]
    assert identifier.identify("") == identifier.identify_many([""] * 9)[0]


@pytest.mark.parametrize(
    "text",
    [
        "OK",
        "%(count)s Dateien",
        "{0} / {1}",
        "<b>%s</b> &amp; %d",
        "12345 67890",
        "谢谢",
        "",
        "https://example.com/some/very/long/path/with/many/letters/in/it",
    ],
)
def test_agrees_when_too_short_to_judge(text):
    identifier = LanguageIdentifier()
    assert identifier.agrees(text, "eng_Latn")
    assert identifier.stats.as_dict() == {"too_short": 1}


def test_placeholder_pattern_only_runs_when_needed():
    """`reliable` skips the placeholder pattern when no mark is in the text: every text the
    pattern matches holds a mark (real lines, and one of each placeholder kind)."""
    crafted = ["%(n)s", "%1$s", "%5.2f", "{{ x }}", "{0}", "<br/>", "&amp;", "&#39;",
               "http://a.b", "https://a.b", "www.a.b", "ich@example.org"]  # fmt: skip
    texts = alma("deen", "de")[:3000] + alma("zhen", "zh")[:3000] + crafted
    matched = [text for text in texts if langid._PLACEHOLDERS.search(text)]
    assert set(crafted) <= set(matched)
    assert all(any(mark in text for mark in langid._PLACEHOLDER_MARKS) for text in matched)


def test_german_line_is_not_english(identifier):
    line = next(line for line in alma("deen", "de") if len(line) > 80)
    fresh = LanguageIdentifier()
    assert not fresh.agrees(line, "eng_Latn")
    assert fresh.agrees(line, "deu_Latn")
    assert fresh.stats.as_dict() == {"agree": 1, "disagree": 1}


def test_wrong_language_is_caught_in_bulk(identifier):
    german = sample(alma("deen", "de"), 500)
    verdicts = LanguageIdentifier().agrees_many(german, "eng_Latn")
    assert verdicts.count(False) >= 0.95 * len(german)
    assert all(LanguageIdentifier().agrees_many(german, ["deu_Latn"] * len(german)))


@pytest.mark.parametrize(
    ("text", "expected", "agrees"),
    [
        # one model label, several codes: zh covers both Chinese scripts and Cantonese
        ("近日刚搬至旧金山的一位28岁厨师本周被发现死于当地一家商场的楼梯间。", "zho_Hant", True),
        ("近日刚搬至旧金山的一位28岁厨师本周被发现死于当地一家商场的楼梯间。", "yue_Hant", True),
        # equivalent labels: nb/nn/no, bs/hr/sr
        (
            "Dette er ei setning på nynorsk, og ho handlar om vêret i Bergen i dag.",
            "nob_Latn",
            True,
        ),
        ("Ovo je rečenica na hrvatskom jeziku o vremenu u Zagrebu danas.", "srp_Latn", True),
        ("Ovo je rečenica na hrvatskom jeziku o vremenu u Zagrebu danas.", "bos_Latn", True),
        # different languages
        ("近日刚搬至旧金山的一位28岁厨师本周被发现死于当地一家商场的楼梯间。", "jpn_Jpan", False),
        ("Ovo je rečenica na hrvatskom jeziku o vremenu u Zagrebu danas.", "slv_Latn", False),
    ],
)
def test_equivalent_codes(identifier, text, expected, agrees):
    assert identifier.agrees(text, expected) is agrees


def test_script_picks_among_codes_of_one_label(identifier):
    assert identifier.identify("Ово је реченица на српском језику о времену у Београду.")[0] == (
        "srp_Cyrl"
    )
    assert identifier.identify("Ovo je rečenica na hrvatskom jeziku o vremenu u Zagrebu.")[0] in (
        "hrv_Latn",
        "srp_Latn",
        "bos_Latn",
    )


def test_unsupported_languages_are_unchecked(identifier):
    for code in ("hsb_Latn", "dsb_Latn", "udm_Cyrl", "kab_Latn"):
        assert languages.is_known(code) and not identifier.supports(code)
    fresh = LanguageIdentifier()
    line = alma("deen", "de")[1]
    assert fresh.agrees(line, "hsb_Latn")
    assert fresh.stats.as_dict() == {"unchecked": 1}
    assert identifier.supports("deu_Latn") and identifier.supports("nno_Latn")


def test_label_mapping_covers_the_model():
    mapping = langid._label_codes()
    assert all(languages.is_known(code) for codes in mapping.values() for code in codes)
    assert mapping["de"] == ("deu_Latn",)
    assert mapping["no"] == ("nob_Latn", "nno_Latn")
    assert mapping["zh"] == ("zho_Hans", "zho_Hant", "yue_Hant")
    unmapped = set(langid._model().labels) - set(mapping)
    assert unmapped == {"an", "dz", "fo", "la", "mg", "qu", "se", "vo", "wa"}
    assert (
        LanguageIdentifier().identify("Gallia est omnis divisa in partes tres, quarum unam")[0]
        is None
    )


def test_restricting_languages():
    zh = alma("zhen", "zh")[1]
    narrowed = LanguageIdentifier(["deu_Latn", "eng_Latn", "hsb_Latn"])
    assert narrowed.labels == ["de", "en"]
    assert narrowed.identify(zh)[0] in ("deu_Latn", "eng_Latn")
    assert not narrowed.supports("zho_Hans") and not narrowed.supports("hsb_Latn")
    assert narrowed.agrees(zh, "zho_Hans")  # unchecked: not among the narrowed labels
    traditional = LanguageIdentifier(["zho_Hant", "eng_Latn"])
    assert traditional.identify(zh)[0] == "zho_Hant"
    assert traditional.identify_many([zh] * 10) == [traditional.identify(zh)] * 10


# --------------------------------------------------------------------------------------
# Contamination
# --------------------------------------------------------------------------------------


def long_wmt_line(name: str, words: int = 14) -> str:
    lines = read_lines(WMT22 / "sources" / name)
    return next(line for line in lines if len(line.split()) >= words)


def test_planted_wmt22_sentence_is_found(wmt22_index):
    sentence = long_wmt_line("generaltest2022.de-en.src.de")
    before, after = alma("deen", "en")[5], alma("deen", "en")[6]
    found = wmt22_index.match(f"{before} Please translate: „{sentence}“ {after}")
    assert found is not None and found in normalize(sentence)
    assert len(found.split()) >= 8


def test_seven_shared_words_are_not_enough():
    sentence = long_wmt_line("generaltest2022.en-de.src.en")
    index = ContaminationIndex.from_texts([sentence], word_n=8)
    words = sentence.split()
    assert index.match("alpha beta " + " ".join(words[2:9]) + " gamma delta") is None
    assert index.match("alpha beta " + " ".join(words[2:10]) + " gamma delta") is not None


def test_chinese_sentence_is_found_by_characters(wmt22_index):
    lines = read_lines(WMT22 / "sources" / "generaltest2022.zh-en.src.zh")
    sentence = next(line for line in lines if len(line) >= 30)
    # quoted inside an English instruction, with its punctuation changed
    prompt = f'Translate into English: "{sentence.replace("，", ", ")}" Thanks!'
    found = wmt22_index.match(prompt)
    assert found is not None and len(found.replace(",", "").replace(" ", "")) >= 16
    assert found.replace(" ", "") in normalize(sentence).replace(" ", "")


@pytest.mark.parametrize(
    ("pair", "side", "most"),
    [("deen", "de", 0), ("deen", "en", 1), ("zhen", "en", 5), ("zhen", "zh", 1)],
)
def test_alma_lines_hardly_match_wmt22(wmt22_index, wmt22_bare, pair, side, most):
    # ALMA (WMT17-20, Flores) and WMT22 are different test sets, but news repeats itself.
    # Measured on these 2,000 lines per side: a quote of the 3-word WMT22 segment "How
    # dare you" as a clause, "socialism with Chinese characteristics in the new era", "law
    # of the People's Republic of China" and its 16-character Chinese counterpart. Every
    # match must be a verbatim shared string, and no more frequent than measured.
    lines = sample(alma(pair, side), 2000)
    hits = [
        (line, hit) for line, hit in zip(lines, wmt22_index.match_many(lines), strict=True) if hit
    ]
    assert len(hits) <= most
    for line, hit in hits:
        assert hit in normalize(line) and bare(hit) in wmt22_bare


def test_short_test_texts_match_only_as_a_clause():
    index = ContaminationIndex.from_texts(
        ["Das ist alles.", "Time is running out!", "Yes.", "谢谢", "你好吗我很好"]
    )
    assert index.match("Er sagte: das ist alles!") == "das ist alles"
    assert index.match("Das ist alles andere als erholsam.") is None
    assert index.match("Hurry, time is running out.") == "time is running out"
    assert index.match("Progress is needed and time is running out.") is None
    assert index.match("Yes, this is a long sentence that says yes.") is None  # not indexed
    assert index.match("我说谢谢。") is None  # fewer than 6 characters: not indexed
    assert index.match("他问：你好吗，我很好！") == "你好吗,我很好"
    assert index.match("他问你好吗我很好") is None


def test_short_wmt22_segment_planted_as_a_sentence(wmt22_index):
    lines = read_lines(WMT22 / "sources" / "generaltest2022.de-en.src.de")
    short = next(line for line in lines if 4 <= len(line.split()) <= 6 and line[-1] in ".!?")
    assert wmt22_index.match(f"Hier ist ein Beispiel. {short} Danke.") == normalize(short)


def test_match_many_equals_match(wmt22_index):
    planted = f"Bitte übersetzen: {long_wmt_line('generaltest2022.de-en.src.de')}"
    texts = [*sample(alma("zhen", "zh"), 150), "", "...", planted, *sample(alma("deen", "de"), 50)]
    assert wmt22_index.match_many(texts, batch=64) == [wmt22_index.match(t) for t in texts]


def test_long_documents_between_short_texts(wmt22_index):
    # over a million characters: the batched paths split it off into a batch of its own
    german = alma("deen", "de")
    document = " ".join(german[:1000] * 9)
    planted = f"{document} {long_wmt_line('generaltest2022.de-en.src.de')}"
    texts = [*german[:30], planted, *german[30:60], document[:300_000]]
    assert wmt22_index.match_many(texts) == [wmt22_index.match(text) for text in texts]
    assert wmt22_index.match(planted) is not None
    # a 200,000-byte text walks alone (at most 2**20 padded bytes per batch)
    texts_for_lid = [*german[:30], document[:200_000], *german[30:60]]
    identifier = LanguageIdentifier()
    expected_lid = [identifier.identify(text) for text in texts_for_lid]
    assert identifier.identify_many(texts_for_lid) == expected_lid
    one_by_one = NearDuplicateIndex()
    expected = [one_by_one.check_and_add(text) for text in texts]
    assert NearDuplicateIndex().check_and_add_many(texts) == expected


def test_bayling_80_questions_planted_in_instructions():
    questions = bayling_80("en") + bayling_80("zh")
    index = ContaminationIndex.from_texts(questions)
    prompts = [f"Answer the question. Question: {question} Answer:" for question in questions]
    assert None not in index.match_many(prompts)
    assert index.match_many(sample(alma("zhen", "en"), 500)) == [None] * 500


# --------------------------------------------------------------------------------------
# Near-duplicates
# --------------------------------------------------------------------------------------


def shingles(text: str, size: int = 5) -> set[str]:
    text = normalize(text)
    return {text[i : i + size] for i in range(max(len(text) - size + 1, 1))}


def jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y)


def test_exact_duplicates():
    line = alma("deen", "de")[3]
    index = NearDuplicateIndex()
    assert index.check_and_add(line) is None
    assert index.check_and_add(line) == "exact"
    assert index.check_and_add(f"  {line.upper()} !!") == "exact"
    assert len(index) == 1


def test_one_word_changed_is_near():
    lines = [line for line in alma("deen", "de") if len(line.split()) >= 25][:100]
    words_by_length: dict[int, list[str]] = {}
    for line in lines:
        for word in line.split():
            words_by_length.setdefault(len(word), []).append(word)
    index, checked = NearDuplicateIndex(), 0
    for number, line in enumerate(lines):
        words = line.split()
        middle = len(words) // 2
        others = [w for w in words_by_length[len(words[middle])] if w != words[middle]]
        words[middle] = others[number % len(others)]
        edited = " ".join(words)
        assert index.check_and_add(line) is None
        if jaccard(line, edited) >= 0.9:  # 69 of these 100 one-word edits
            checked += 1
            assert index.check_and_add(edited) == "near", (line, edited)
    assert checked >= 60


def test_fingerprints_serve_every_index_with_the_same_parameters():
    lines = sample(alma("deen", "de"), 300)
    lines += [line.upper() for line in lines[:50]]  # exact after normalization
    lines += [line.rsplit(" ", 1)[0] for line in lines[50:80] if len(line.split()) >= 20]
    shared = NearDuplicateIndex(threshold=0.5).fingerprints(lines, batch=64)
    fed_loose = NearDuplicateIndex(threshold=0.5).check_and_add_fingerprints(shared)
    for threshold in (0.5, 0.8, 0.95):  # thresholds may differ
        alone = NearDuplicateIndex(threshold=threshold).check_and_add_many(lines)
        fed = NearDuplicateIndex(threshold=threshold).check_and_add_fingerprints(shared)
        assert fed == alone
        assert alone.count("exact") == 50
    assert alone.count("near") < fed_loose.count("near")


def test_distinct_real_sentences_are_not_near():
    lines = sample(alma("deen", "en"), 1000) + sample(alma("zhen", "zh"), 1000)
    index = NearDuplicateIndex()
    results = index.check_and_add_many(lines)
    kept = [line for line, result in zip(lines, results, strict=True) if result is None]
    for line, result in zip(lines, results, strict=True):
        if result == "near":  # must really resemble a kept line
            assert max(jaccard(line, other) for other in kept if other != line) >= 0.6
    assert results.count("near") <= 0.005 * len(lines)


def test_many_equals_one_by_one_and_is_deterministic():
    lines = sample(alma("zhen", "en"), 500)
    edited = [line.replace(" the ", " a ", 1) for line in lines[20:] if " the " in line]
    lines += lines[:20] + edited[:40]
    one_by_one = NearDuplicateIndex()
    expected = [one_by_one.check_and_add(line) for line in lines]
    assert NearDuplicateIndex().check_and_add_many(lines, batch=37) == expected
    assert expected[500:520] == ["exact"] * 20 and expected.count("near") >= 20


SIGNATURES = """
import json, sys
from bayling_pipeline.synthesize.hygiene import ContaminationIndex, NearDuplicateIndex
lines = json.load(sys.stdin)
index = NearDuplicateIndex(seed=7)
print(json.dumps({
    "signatures": [index.signature(line).tolist() for line in lines],
    "results": index.check_and_add_many(lines + lines[:3]),
    "match": ContaminationIndex.from_texts(lines[:5]).match_many(lines),
}))
"""


def test_independent_of_python_hash_seed():
    lines = sample(alma("deen", "de"), 20) + sample(alma("zhen", "zh"), 20)
    outputs = []
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT / "workflow_scripts")}
        run = subprocess.run(
            [sys.executable, "-c", SIGNATURES],
            input=json.dumps(lines),
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outputs.append(json.loads(run.stdout))
    assert outputs[0] == outputs[1]
    index = NearDuplicateIndex(seed=7)
    assert outputs[0]["signatures"] == [index.signature(line).tolist() for line in lines]
    assert outputs[0]["results"] == [None] * 40 + ["exact"] * 3
    assert outputs[0]["match"][:5] != [None] * 5 and outputs[0]["match"][5:20] == [None] * 15


# --------------------------------------------------------------------------------------
# Length ratio, drop counter
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pair", "codes"), [("deen", ("deu_Latn", "eng_Latn")), ("zhen", ("zho_Hans", "eng_Latn"))]
)
def test_length_ratio_passes_real_pairs(pair, codes):
    source = alma(pair, pair[:2])
    target = alma(pair, pair[2:])
    passed = sum(length_ratio_ok(s, t, *codes) for s, t in zip(source, target, strict=True))
    assert passed >= 0.98 * len(source)


def test_length_ratio_rejects_five_times_longer():
    zh, en = alma("zhen", "zh")[1], alma("zhen", "en")[1]
    assert length_ratio_ok(zh, en, "zho_Hans", "eng_Latn")
    assert not length_ratio_ok(zh, " ".join([en] * 5), "zho_Hans", "eng_Latn")
    assert not length_ratio_ok(en, " ".join([en] * 5), "eng_Latn", "deu_Latn")
    assert length_ratio_ok("OK", "好的", "eng_Latn", "zho_Hans")
    with pytest.raises(ValueError, match="unknown language code"):
        length_ratio_ok(zh, en, "zh", "en")


def test_weighted_length_skips_the_script_lookup_only_below_the_dense_scripts():
    import numpy as np

    dense = np.flatnonzero(normalization._script_table() & sum(lengths._DENSITY))
    assert chr(int(dense.min())) == lengths._FIRST_DENSE
    # Latin with diacritics, Cyrillic: non-space characters; Han 3.3, Hangul 2.0 each
    assert lengths.weighted_length("Grüße, Welt") == 10.0
    assert lengths.weighted_length("Привет мир") == 9.0
    assert lengths.weighted_length("你好 ok") == pytest.approx(2 * 3.3 + 2)
    assert lengths.weighted_length("한국") == pytest.approx(4.0)


def test_drop_counter():
    first, second = DropCounter(), DropCounter({"near_duplicate": 2})
    first.drop("contaminated")
    first.drop("bad_language", 3)
    second.drop("contaminated")
    assert first.merge(second) is first
    assert first.as_dict() == {"bad_language": 3, "contaminated": 2, "near_duplicate": 2}
    assert list(first.as_dict()) == sorted(first.as_dict())
    assert first.total() == 7 and first["contaminated"] == 2 and first["missing"] == 0
    assert second == DropCounter({"contaminated": 1, "near_duplicate": 2})


def test_lone_surrogates_are_handled():
    # json.loads accepts "\udcff"; such texts must not crash any check
    text = "A corpus line with a bad \udcff byte in it, long enough to be judged."
    assert NearDuplicateIndex().check_and_add_many([text, text]) == [None, "exact"]
    assert ContaminationIndex.from_texts([text]).match(f"Quote: {text}") is not None
    assert LanguageIdentifier().identify(text)[0] == "eng_Latn"
    assert length_ratio_ok(text, text, "eng_Latn", "eng_Latn")

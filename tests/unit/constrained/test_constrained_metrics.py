"""Metrics of lexically constrained translation: term hits (exact, case-sensitive
substrings), the share of sentences with every term, and BLEU; on BayLing's released
outputs, the stage's numbers equal an independent computation written here.

.venv/bin/python -m pytest tests/unit/constrained/test_constrained_metrics.py -q
"""

from __future__ import annotations

import json

import pytest
import sacrebleu
from conftest import SHARED_DATA

from bayling_pipeline.constrained.metrics import (
    constraint_counts,
    score_file,
    score_outputs,
    terms_found,
)
from bayling_pipeline.constrained.sets import prepare_published, prepare_set
from bayling_pipeline.io import read_json

BAYLING = SHARED_DATA / "bayling"
SETS = {
    "eng_Latn-zho_Hans": "data/constrained_translation/constraints.en-zh.zh.jsonl",
    "zho_Hans-eng_Latn": "data/constrained_translation/constraints.zh-en.en.jsonl",
}
FILE_PAIRS = {"en-zh.zh": "eng_Latn-zho_Hans", "zh-en.en": "zho_Hans-eng_Latn"}
PUBLISHED = (
    sorted((BAYLING / "exp" / "constrained_translation").glob("*/hypo.*.jsonl"))
    if BAYLING.is_dir()
    else []
)


@pytest.mark.parametrize(
    "hypothesis,terms,found",
    [
        ("Is there a way to punish him?", ["Is", "punish him"], 2),
        ("is there a way to punish him?", ["Is"], 0),  # case-sensitive
        ("This is it.", ["is"], 1),  # a substring, not a word
        ("很抱歉，您点的餐可能会晚到。", ["可能会晚", "餐可能"], 2),
        ("很抱歉，您的餐会晚到。", ["可能会晚", "餐可能"], 0),
        ("App 与他联系", ["App 与", "App与"], 1),  # exact: spaces count
        ("", ["x"], 0),
        ("anything", [], 0),
    ],
)
def test_terms_found(hypothesis, terms, found):
    assert terms_found(hypothesis, terms) == found


def test_counts_and_rates():
    outputs = [
        {"src": "a", "tgt": "x y", "constraint": ["x", "y"], "hypo": "x y"},
        {"src": "b", "tgt": "x z", "constraint": ["x", "z"], "hypo": "x"},
        {"src": "c", "tgt": "w", "constraint": ["w"], "hypo": "W"},
    ]
    counts = constraint_counts(outputs)
    assert counts == {"sentences": 3, "terms": 5, "terms_found": 3, "sentences_all_terms": 1}
    result = score_outputs(outputs, "eng_Latn")
    rates = {s["metric"]: s["score"] for s in result["scores"]}
    assert rates["term_hit_rate"] == pytest.approx(60.0)
    assert rates["all_terms_rate"] == pytest.approx(100 / 3)
    assert "tok:13a" in result["scores"][0]["signature"]


def independent(path, bleu: bool = True):
    """Hit counts (and BLEU) of a released file, computed without the stage: every line's
    terms looked up with str.find, BLEU with sacreBLEU's one-call API."""
    hits = terms = complete = 0
    hypotheses, references = [], []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            found = [row["hypo"].find(term) >= 0 for term in row["constraint"]]
            hits, terms = hits + sum(found), terms + len(found)
            complete += all(found)
            hypotheses.append(row["hypo"])
            references.append(row["tgt"])
    rates = {
        "term_hit_rate": 100 * hits / terms,
        "all_terms_rate": 100 * complete / len(hypotheses),
    }
    if not bleu:
        return rates
    tokenize = "zh" if ".en-zh." in path.name else "13a"
    bleu = sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize).score
    return rates | {"bleu": bleu}


@pytest.mark.skipif(not PUBLISHED, reason=f"{BAYLING} (BayLing's released files) is absent")
def test_released_outputs_scored_by_the_stage_equal_an_independent_computation(tmp_path):
    assert len(PUBLISHED) == 22  # six systems; gpt-3.5-turbo has no zh_prompt files
    for pair, relative in SETS.items():
        prepare_set(
            {"path": str(BAYLING / relative)}, None, tmp_path / f"{pair}.jsonl",
            tmp_path / f"{pair}.json",
        )  # fmt: skip
    for number, path in enumerate(PUBLISHED):
        pair = FILE_PAIRS[path.name.split(".", 1)[1].removesuffix(".jsonl")[:8]]
        out = tmp_path / f"{number}.jsonl"
        prepare_published(
            {"path": str(path)}, path.parent.name, tmp_path / f"{pair}.jsonl",
            tmp_path / f"{pair}.json", out, tmp_path / f"{number}.meta.json",
        )  # fmt: skip
        record = score_file(out, tmp_path / f"{pair}.jsonl", pair, tmp_path / f"{number}.json")
        scores = {s["metric"]: s["score"] for s in read_json(tmp_path / f"{number}.json")["scores"]}
        # BLEU of one system's four files is enough to show the tokenizers are the right ones
        expected = independent(path, bleu=path.parent.name == "bayling-13b")
        assert {m: scores[m] for m in expected} == pytest.approx(expected, abs=1e-9), path
        assert record["sentences"] == (2037 if pair == "eng_Latn-zho_Hans" else 1875)
    # one value spelled out: BayLing-13B, English instruction, English->Chinese
    released = BAYLING / "exp/constrained_translation/bayling-13b/hypo.en-zh.zh.jsonl"
    assert independent(released, bleu=False)["term_hit_rate"] == pytest.approx(79.90, abs=0.005)

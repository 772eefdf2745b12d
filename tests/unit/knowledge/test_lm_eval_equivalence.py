"""The knowledge stage's multiple-choice scorer equals lm-evaluation-harness itself: lm-eval's
own HFLM (handed the same loaded SmolLM2) and its own xcopa task definitions (pointed at
the local XCOPA files) on the first items of several languages give the same
log-likelihood for every option and the same accuracy.

    .venv/bin/pytest tests/unit/knowledge/test_lm_eval_equivalence.py -q
"""

import json

import pytest
from conftest import SHARED_DATA

from bayling_pipeline.decode.loading import load
from bayling_pipeline.knowledge.multiple_choice import rank_items

XCOPA = SHARED_DATA / "xcopa" / "data"
# Latin script with diacritics, a language lm-eval spells out a two-word connector for, and
# a script without spaces: the token boundaries between context and option differ
LANGUAGES = ("ht", "qu", "zh")
ITEMS = 4  # per language: lm-eval's --limit 4 takes the test split's first four
TOLERANCE = 1e-4

pytestmark = pytest.mark.skipif(
    not XCOPA.is_dir(), reason=f"XCOPA data not found at {XCOPA} (see ../shared/data/README.md)"
)


def xcopa_rows() -> list[dict]:
    rows = []
    for language in LANGUAGES:
        path = XCOPA / language / f"test.{language}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines()[:ITEMS]
        rows += [
            {"subset": language, "index": i, "record": json.loads(line)}
            for i, line in enumerate(lines)
        ]
    return rows


@pytest.fixture(scope="module")
def lm_eval_run(smollm2_dir, tmp_path_factory):
    """(lm-eval's output with per-item samples, our answers) on the same loaded model."""
    pytest.importorskip("lm_eval", reason="lm-eval is a test requirement (requirements-dev.txt)")
    from lm_eval import evaluator
    from lm_eval.models.huggingface import HFLM
    from lm_eval_local import xcopa_task

    loaded = load(str(smollm2_dir))
    ours = rank_items(loaded, xcopa_rows(), "xcopa", batch_size=4)
    cache = tmp_path_factory.mktemp("datasets-cache")
    tasks = {f"xcopa_{lang}": xcopa_task(XCOPA, lang, cache) for lang in LANGUAGES}
    harness = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=4)
    theirs = evaluator.evaluate(harness, tasks, limit=ITEMS, log_samples=True)
    return theirs, ours


@pytest.mark.parametrize("language", LANGUAGES)
def test_option_loglikelihoods_equal_lm_eval(lm_eval_run, language):
    theirs, ours = lm_eval_run
    samples = sorted(theirs["samples"][f"xcopa_{language}"], key=lambda s: s["doc_id"])
    expected = [[response[0] for response in s["filtered_resps"]] for s in samples]
    found = [a["loglikelihoods"] for a in ours if a["subset"] == language]
    assert len(found) == len(expected) == ITEMS
    for item, (want, got) in enumerate(zip(expected, found, strict=True)):
        assert got == pytest.approx(want, abs=TOLERANCE), f"{language} item {item}"
    # the same gold and the same verdict on every item
    assert [a["gold"] for a in ours if a["subset"] == language] == [s["target"] for s in samples]
    assert [float(a["correct"]) for a in ours if a["subset"] == language] == [
        s["acc"] for s in samples
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_accuracy_equals_lm_eval(lm_eval_run, language):
    theirs, ours = lm_eval_run
    answers = [a for a in ours if a["subset"] == language]
    accuracy = sum(a["correct"] for a in answers) / len(answers)
    assert accuracy == theirs["results"][f"xcopa_{language}"]["acc,none"]

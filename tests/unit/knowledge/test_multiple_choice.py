"""The multiple-choice scorer: lm-eval's context/continuation split and predictions as
tables, the same split as lm-eval's own code on the real SmolLM2 tokenizer, resume of a
killed job from its partial file (other batch sizes, the same scores), and a LoRA adapter
(merged by the loader) scoring as the unmerged PEFT model does.

    .venv/bin/pytest tests/unit/knowledge/test_multiple_choice.py -q
"""

import json

import pytest

from bayling_pipeline.cli import UserError
from bayling_pipeline.decode.loading import Loaded, load
from bayling_pipeline.decode.resume import partial_path
from bayling_pipeline.knowledge.multiple_choice import (
    Resume,
    context_length,
    encode_pair,
    plan,
    rank_items,
    score_options,
    verdict,
)
from bayling_pipeline.knowledge.xcopa import Options, options_of

ROWS = [
    {
        "subset": "it",
        "index": 0,
        "record": {
            "premise": "L'uomo aprì il rubinetto.",
            "choice1": "Il gabinetto si riempì d'acqua.",
            "choice2": "L'acqua uscì dal beccuccio.",
            "question": "effect",
            "label": 1,
        },
    },
    {
        "subset": "ht",
        "index": 0,
        "record": {
            "premise": "Fi a te jwenn yon pinèz nan sereyal li.",
            "choice1": "Li te vide lèt la nan bòl la.",
            "choice2": "Li te pèdi apeti li.",
            "question": "effect",
            "label": 1,
        },
    },
    {
        "subset": "zh",
        "index": 0,
        "record": {
            "premise": "我掏空了口袋。",
            "choice1": "我找到了一张票根。",
            "choice2": "我找到了一件武器。",
            "question": "effect",
            "label": 0,
        },
    },
]
PAIRS = [
    ("Msye a te louvri tiyo a donk sa", " twalèt la te ranpli ak dlo."),
    ("我掏空了口袋 所以", " 我找到了一张票根。"),
    ("Answer: ", "A"),  # a trailing space moves to the continuation
    ("P: x\nQ: y\nA: a\nB: b\nAnswer:", " B"),
    ("<|im_start|>Hi", " there"),  # starts with the prefix token: no second one
]


@pytest.fixture(scope="module")
def loaded(smollm2_dir):
    return load(str(smollm2_dir))


@pytest.mark.parametrize(
    "sums,options,gold,expected",
    [
        # (acc, acc_norm by characters, acc_bytes by UTF-8 bytes) predictions
        ([-10.0, -12.0], ["ab", "abcdef"], 0, (0, 1, 1)),
        ([-6.0, -9.0], ["é", "ab"], 1, (0, 1, 0)),  # é: 1 character, 2 bytes
        ([-3.0, -3.0], ["a", "b"], 1, (0, 0, 0)),  # a tie: the first maximum, as numpy
        ([-1.0, -2.0, -0.5, -7.0], ["A", "B", "C", "D"], 2, (2, 2, 2)),
    ],
)
def test_verdict(sums, options, gold, expected):
    found = verdict(Options("ctx", options, gold), sums)
    predictions = (found["predicted"], found["predicted_norm"], found["predicted_bytes"])
    assert predictions == expected
    assert found["correct"] == (expected[0] == gold)
    assert found["correct_norm"] == (expected[1] == gold)
    assert found["loglikelihoods"] == sums and found["gold"] == gold


def test_plan_is_longest_first_and_stable():
    pairs = [([1], [2]), ([1, 2, 3], [4]), ([5], [6]), ([1, 2], [3, 4])]
    assert plan(pairs, 2) == [[1, 3], [0, 2]]  # equal lengths: by token ids
    assert plan(pairs, 3) == [[1, 3, 0], [2]]


def test_encode_pair_splits_where_lm_eval_does(smollm2_tokenizer):
    tokenizer = smollm2_tokenizer
    for context, continuation in PAIRS:
        context_ids, continuation_ids = encode_pair(tokenizer, context, continuation)
        whole = tokenizer.encode(context + continuation, add_special_tokens=False)
        bos = [tokenizer.bos_token_id]
        assert context_ids + continuation_ids in (whole, bos + whole), (context, continuation)
        assert context_ids == encode_pair(tokenizer, context.rstrip(), "x")[0]
    # an empty context is the prefix token (BOS) alone
    assert encode_pair(tokenizer, "", "hello") == (
        [tokenizer.bos_token_id],
        tokenizer.encode("hello", add_special_tokens=False),
    )


def test_encode_pair_equals_lm_eval_code(loaded):
    pytest.importorskip("lm_eval", reason="lm-eval is a test requirement (requirements-dev.txt)")
    from lm_eval.models.huggingface import HFLM

    harness = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=1)
    for context, continuation in PAIRS:
        assert encode_pair(loaded.tokenizer, context, continuation) == harness._encode_pair(
            context, continuation
        )
    assert context_length(loaded.model, loaded.tokenizer) == harness.max_length


def test_rank_items_records(loaded):
    answers = rank_items(loaded, ROWS, "xcopa", batch_size=3)
    assert [(a["subset"], a["index"]) for a in answers] == [("it", 0), ("ht", 0), ("zh", 0)]
    for answer, row in zip(answers, ROWS, strict=True):
        assert len(answer["loglikelihoods"]) == 2
        assert answer["gold"] == row["record"]["label"]
        assert answer["correct"] == (answer["predicted"] == answer["gold"])
        assert all(score < 0 for score in answer["loglikelihoods"])
    json.dumps(answers)  # one JSON line each
    with pytest.raises(UserError, match="hf backend"):
        rank_items(Loaded(tokenizer=loaded.tokenizer, device="cuda (vllm)"), ROWS, "xcopa", 2)


def test_a_killed_job_resumes_its_logged_batches(loaded, smollm2_dir, tmp_path):
    output = tmp_path / "answers.jsonl"
    resume = Resume(str(output), str(smollm2_dir), None)
    first = rank_items(loaded, ROWS, "xcopa", batch_size=2, resume=resume)
    partial = partial_path(output)
    lines = partial.read_text().splitlines()
    assert len(lines) == 1 + 3  # the fingerprint, then 6 requests in 3 batches
    # a batch in the log is taken as it is, not scored again: mark batch 0's sums
    batch = json.loads(lines[1])
    marked = {**batch, "texts": [-1000.0 - i for i in range(len(batch["texts"]))]}
    torn = lines[3][: len(lines[3]) // 2]  # the job was killed while writing batch 2
    partial.write_text("\n".join([lines[0], json.dumps(marked), lines[2], torn]) + "\n")
    resumed = rank_items(loaded, ROWS, "xcopa", batch_size=2, resume=resume)
    flat = [s for answer in resumed for s in answer["loglikelihoods"]]
    assert sorted(s for s in flat if s <= -1000) == sorted(marked["texts"])
    expected = [s for answer in first for s in answer["loglikelihoods"]]
    assert [s for s in flat if s > -1000] == [s for s in expected if s not in batch["texts"]]
    # another batch size is another plan: the log is stale, every batch is scored again,
    # and batches of 3 give the scores batches of 2 gave
    again = rank_items(loaded, ROWS, "xcopa", batch_size=3, resume=resume)
    assert [s for a in again for s in a["loglikelihoods"]] == pytest.approx(expected, abs=1e-4)


def test_lora_adapter_is_scored_like_the_unmerged_peft_model(loaded, smollm2_dir, tmp_path):
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)  # non-zero B matrices: the adapter changes the scores
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    adapted = get_peft_model(AutoModelForCausalLM.from_pretrained(smollm2_dir), config)
    with torch.no_grad():
        for name, weight in adapted.named_parameters():
            if "lora_B" in name:
                weight.mul_(0.05)
    adapted.save_pretrained(tmp_path / "adapter")

    merged = load(str(smollm2_dir), str(tmp_path / "adapter"))
    with_adapter = rank_items(merged, ROWS, "xcopa", batch_size=2)
    base = load(str(smollm2_dir))  # a copy of its own: PEFT wraps the model in place
    peft = PeftModel.from_pretrained(base.model, tmp_path / "adapter").eval()
    items = [options_of("xcopa", row["subset"], row["record"]) for row in ROWS]
    unmerged = score_options(peft, base.tokenizer, base.device, items, batch_size=2)
    plain = rank_items(loaded, ROWS, "xcopa", batch_size=2)
    for got, want, before in zip(with_adapter, unmerged, plain, strict=True):
        assert got["loglikelihoods"] == pytest.approx(want["loglikelihoods"], abs=1e-3)
        assert got["loglikelihoods"] != pytest.approx(before["loglikelihoods"], abs=1e-2)

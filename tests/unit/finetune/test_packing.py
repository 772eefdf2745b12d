"""Sequence packing: row filling tables, and on the real SmolLM2 a packed row computes
exactly what each of its examples computes alone (logits and assistant-token loss)."""

import random

import pytest

from bayling_pipeline.finetune import batching, packing
from bayling_pipeline.finetune import model as finetune_model
from bayling_pipeline.prompts.chat import IGNORE_INDEX, tokenize_dialogue


@pytest.mark.parametrize(
    "lengths,max_length,rows",
    [
        ([5], 8, [[0]]),
        ([5, 3], 8, [[0, 1]]),
        ([5, 4], 8, [[0], [1]]),
        ([6, 2, 4, 4], 8, [[0, 1], [2, 3]]),  # best fit: 2 joins 6, the fours pair up
        ([8, 8, 1], 8, [[0], [1], [2]]),
    ],
)
def test_pack_rows_table(lengths, max_length, rows):
    packed = packing.pack_rows(lengths, max_length, random.Random(0))
    assert sorted(sorted(row) for row in packed) == sorted(rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pack_rows_covers_everything_once_and_fills_rows(seed):
    rng = random.Random(seed)
    lengths = [rng.randint(20, 190) for _ in range(2000)]
    rows = packing.pack_rows(lengths, 256, random.Random(seed))
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= 256 for row in rows)
    assert sum(lengths) / (256 * len(rows)) > 0.97


def test_pack_rows_refuses_an_example_longer_than_a_row():
    with pytest.raises(ValueError, match="longer than max_length"):
        packing.pack_rows([3, 9], 8, random.Random(0))


def test_collate_packed_restarts_positions_and_ignores_first_tokens():
    rows = [
        [{"input_ids": [5, 6, 7], "labels": [5, 6, 7]}, {"input_ids": [8, 9], "labels": [8, 9]}],
        [{"input_ids": [4], "labels": [IGNORE_INDEX]}],
    ]
    ids, labels, positions, segments = packing.collate_packed(rows, pad_id=0)
    assert ids.tolist() == [[5, 6, 7, 8, 9], [4, 0, 0, 0, 0]]
    assert positions.tolist() == [[0, 1, 2, 0, 1], [0, 0, 1, 2, 3]]
    assert segments.tolist() == [[0, 0, 0, 1, 1], [0, 1, 1, 1, 1]]
    no = IGNORE_INDEX
    assert labels.tolist() == [[no, 6, 7, no, 9], [no, no, no, no, no]]


def test_block_causal_mask_table():
    import torch

    segments = torch.tensor([[0, 0, 1, 1, 2]])
    allowed = packing.block_causal_mask(segments, "sdpa")[0, 0].int().tolist()
    assert allowed == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 0, 0, 1],
    ]
    additive = packing.block_causal_mask(segments, "eager")[0, 0]
    assert ((additive == 0) == torch.tensor(allowed).bool()).all()
    assert additive.min() == torch.finfo(torch.float32).min


DIALOGUES = [
    [
        {"role": "user", "content": "Translate into German: Save the file"},
        {"role": "assistant", "content": "Datei speichern"},
    ],
    [
        {"role": "user", "content": "Translate into French: Delete"},
        {"role": "assistant", "content": "Supprimer"},
        {"role": "user", "content": "And into German?"},
        {"role": "assistant", "content": "Löschen"},
    ],
    [
        {"role": "user", "content": "Provide the Chinese translation: Log out"},
        {"role": "assistant", "content": "登出"},
    ],
]


@pytest.fixture(scope="module")
def examples(smollm2_tokenizer):
    return [tokenize_dialogue(smollm2_tokenizer, d, 256, "bayling") for d in DIALOGUES]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_logits_equal_each_example_alone(smollm2_dir, smollm2_tokenizer, examples, attn):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, attn_implementation=attn).eval()
    rows = [[examples[0], examples[2]], [examples[1]]]  # the second row ends in padding
    ids, labels, positions, segments = packing.collate_packed(rows, smollm2_tokenizer.pad_token_id)
    assert (segments == 2).any() or (segments[1] == 1).any(), "a row must carry padding"
    inputs, _ = packing.model_inputs(ids, labels, positions, segments, attn)
    with torch.no_grad():
        packed = model(**inputs).logits
        for r, row in enumerate(rows):
            at = 0
            for example in row:
                n = len(example["input_ids"])
                alone = model(input_ids=torch.tensor([example["input_ids"]])).logits[0]
                torch.testing.assert_close(packed[r, at : at + n], alone, atol=1e-4, rtol=0)
                at += n


def test_packed_loss_is_the_mean_over_all_assistant_tokens(
    smollm2_dir, smollm2_tokenizer, examples
):
    """The loss of a packed batch is the token-weighted mean over the examples' assistant
    tokens: what every example alone sums, divided by all their tokens."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()
    rows = [[examples[0], examples[2]], [examples[1]]]
    ids, labels, positions, segments = packing.collate_packed(rows, smollm2_tokenizer.pad_token_id)
    inputs, labels = packing.model_inputs(ids, labels, positions, segments, "sdpa")
    with torch.no_grad():
        packed = finetune_model.assistant_token_loss(
            model,
            inputs["input_ids"],
            inputs["attention_mask"],
            labels,
            position_ids=inputs["position_ids"],
        )
        sums, tokens = 0.0, 0
        for example in examples:
            ids, mask, labels = batching.collate([example], smollm2_tokenizer.pad_token_id)
            sums += finetune_model.assistant_token_loss(model, ids, mask, labels, reduction="sum")
            tokens += int((labels[:, 1:] != IGNORE_INDEX).sum())
    assert tokens == sum(sum(label != IGNORE_INDEX for label in e["labels"][1:]) for e in examples)
    torch.testing.assert_close(packed, sums / tokens, atol=1e-4, rtol=0)

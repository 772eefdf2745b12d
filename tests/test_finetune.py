"""Fine-tuning logic: batching tables, padding, recipe defaults, and a real 2-step LoRA run."""

import json
import random

import pytest

from bayling_pipeline import finetune
from bayling_pipeline.chat import IGNORE_INDEX
from bayling_pipeline.io import read_json, read_lines, write_jsonl


@pytest.mark.parametrize("count,batch_size", [(1, 8), (7, 3), (64, 8), (1000, 16)])
def test_length_grouped_batches_cover_every_example_once(count, batch_size):
    lengths = [random.Random(i).randint(5, 200) for i in range(count)]
    batches = finetune.length_grouped_batches(lengths, batch_size, random.Random(0))
    flat = sorted(i for batch in batches for i in batch)
    assert flat == list(range(count))
    assert all(1 <= len(batch) <= batch_size for batch in batches)


def test_length_grouping_reduces_padding():
    rng = random.Random(0)
    lengths = [rng.randint(10, 300) for _ in range(2048)]

    def padding(batches):
        return sum(
            max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches
        )

    order = list(range(len(lengths)))
    random.Random(1).shuffle(order)
    plain = [order[i : i + 8] for i in range(0, len(order), 8)]
    grouped = finetune.length_grouped_batches(lengths, 8, random.Random(1))
    assert padding(grouped) < padding(plain) / 5


def test_collate_pads_right_and_masks_padding():
    examples = [
        {"input_ids": [5, 6, 7], "labels": [IGNORE_INDEX, 6, 7]},
        {"input_ids": [8], "labels": [8]},
    ]
    ids, mask, labels = finetune.collate(examples, pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert labels.tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]


@pytest.mark.parametrize(
    "recipe,key,expected",
    [
        ({}, "max_steps", 100),
        ({"max_steps": 3}, "max_steps", 3),
        (
            {"lora": {"r": 4}},
            "lora",
            {"r": 4, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
        ),
    ],
)
def test_resolve_recipe_fills_defaults(recipe, key, expected):
    assert finetune.resolve_recipe(recipe)[key] == expected


def _dialogues(n):
    words = ["Save", "Delete", "Add user", "Change password", "Log out", "History"]
    german = [
        "Speichern",
        "Löschen",
        "Benutzer hinzufügen",
        "Passwort ändern",
        "Abmelden",
        "Geschichte",
    ]
    return [
        {
            "messages": [
                {
                    "role": "user",
                    "content": f"Provide the German translation for this sentence: {s}",
                },
                {"role": "assistant", "content": t},
            ]
        }
        for i in range(n)
        for s, t in [(words[i % 6], german[i % 6])]
    ]


def test_two_lora_steps_write_adapter_record_and_curve(smollm2_dir, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", _dialogues(12))
    write_jsonl(tmp_path / "dev.jsonl", _dialogues(4))
    recipe = {
        "max_steps": 2,
        "batch_size": 4,
        "warmup_steps": 0,
        "seed": 3,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj"]},
    }
    record = finetune.train(
        str(smollm2_dir),
        tmp_path / "train.jsonl",
        tmp_path / "dev.jsonl",
        recipe,
        tmp_path / "adapter",
        tmp_path / "training.json",
        tmp_path / "loss.tsv",
    )
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["target_modules"] == ["q_proj"]
    saved = read_json(tmp_path / "training.json")
    assert saved["seed"] == 3 and saved["recipe"]["max_steps"] == 2
    assert saved["versions"]["torch"] and saved["versions"]["peft"]
    assert [p["step"] for p in saved["loss_curve"]] == [1, 2]
    assert len(read_lines(tmp_path / "loss.tsv")) == 3
    assert record["parameters"]["trainable"] < record["parameters"]["total"] / 100
    # no temporary leftovers beside the outputs
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_assistant_token_loss_equals_the_models_own_loss(smollm2_dir, smollm2_tokenizer):
    import torch
    from transformers import AutoModelForCausalLM

    from bayling_pipeline.chat import tokenize_dialogue

    model = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()
    examples = [tokenize_dialogue(smollm2_tokenizer, d["messages"], 128) for d in _dialogues(3)]
    ids, mask, labels = finetune.collate(examples, smollm2_tokenizer.pad_token_id)
    with torch.no_grad():
        ours = finetune.assistant_token_loss(model, ids, mask, labels)
        theirs = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert torch.allclose(ours, theirs, atol=1e-4), (ours, theirs)

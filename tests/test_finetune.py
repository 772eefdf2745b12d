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


def _recipe(**extra):
    return {
        "max_steps": 6,
        "batch_size": 2,
        "warmup_steps": 0,
        "seed": 5,
        "log_every": 1,
        "lora": {"r": 2, "alpha": 4, "dropout": 0.1, "target_modules": ["q_proj"]},
        **extra,
    }


def _run(smollm2_dir, data, out, recipe, checkpoints=None):
    return finetune.train(
        str(smollm2_dir),
        data / "train.jsonl",
        data / "dev.jsonl",
        recipe,
        out / "adapter",
        out / "training.json",
        out / "loss.tsv",
        checkpoint_dir=checkpoints,
    )


def test_killed_training_resumes_from_its_checkpoint_and_matches(smollm2_dir, tmp_path, caplog):
    """kill -9 after the step-2 checkpoint; the rerun resumes at step 3 and ends where an
    uninterrupted run ends (same losses, same adapter weights)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from safetensors.torch import load_file

    from bayling_pipeline.io import write_json

    data = tmp_path / "data"
    write_jsonl(data / "train.jsonl", _dialogues(24))
    write_jsonl(data / "dev.jsonl", _dialogues(4))
    recipe = _recipe(checkpoint_every=2)
    reference = _run(smollm2_dir, data, tmp_path / "uninterrupted", recipe)

    out, ckpts = tmp_path / "killed", tmp_path / "killed" / "checkpoints"
    write_json(tmp_path / "recipe.json", recipe)
    command = [
        sys.executable,
        "-m",
        "bayling_pipeline.finetune",
        "--base-model",
        str(smollm2_dir),
        "--train",
        str(data / "train.jsonl"),
        "--dev",
        str(data / "dev.jsonl"),
        "--recipe",
        str(tmp_path / "recipe.json"),
        "--adapter",
        str(out / "adapter"),
        "--record",
        str(out / "training.json"),
        "--loss-curve",
        str(out / "loss.tsv"),
        "--checkpoints",
        str(ckpts),
    ]
    env = {**os.environ, "PYTHONPATH": str(finetune.Path(finetune.__file__).parents[1])}
    job = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (ckpts / "step-00000002" / "state.json").exists():
        assert job.poll() is None and time.time() < deadline, "no checkpoint was written"
        time.sleep(0.2)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not (out / "training.json").exists()

    with caplog.at_level("INFO", logger="bayling_pipeline.finetune"):
        resumed = _run(smollm2_dir, data, out, recipe, checkpoints=ckpts)
    assert "resuming from checkpoint" in caplog.text and "(step 2 of 6)" in caplog.text
    assert [p["step"] for p in resumed["loss_curve"]] == list(range(1, 7))
    assert [round(p["loss"], 5) for p in resumed["loss_curve"]] == [
        round(p["loss"], 5) for p in reference["loss_curve"]
    ]
    ours = load_file(out / "adapter" / "adapter_model.safetensors")
    theirs = load_file(tmp_path / "uninterrupted" / "adapter" / "adapter_model.safetensors")
    assert ours.keys() == theirs.keys()
    assert all((ours[k] - theirs[k]).abs().max() < 1e-5 for k in ours)
    assert not ckpts.exists(), "checkpoints are removed once the adapter is written"


def test_checkpoints_of_another_recipe_are_ignored(smollm2_dir, tmp_path):
    data = tmp_path / "data"
    write_jsonl(data / "train.jsonl", _dialogues(8))
    write_jsonl(data / "dev.jsonl", _dialogues(2))
    ckpts = tmp_path / "ckpts"
    from bayling_pipeline import checkpoints

    # a complete checkpoint from another recipe, and a half-written one
    (ckpts / "step-00000004").mkdir(parents=True)
    (ckpts / "step-00000004" / "state.json").write_text('{"fingerprint": "other", "step": 4}')
    (ckpts / ".step-00000005.x.tmp").mkdir()
    assert checkpoints.latest(ckpts, "mine") is None
    record = _run(smollm2_dir, data, tmp_path / "out", _recipe(max_steps=2), checkpoints=ckpts)
    assert [p["step"] for p in record["loss_curve"]] == [1, 2]

"""Fine-tuning logic: batching tables, padding, recipe defaults, and a real 2-step LoRA run."""

import importlib.util
import json
import random
import socket
from pathlib import Path

import pytest
from conftest import ROOT

from bayling_pipeline.finetune import batching
from bayling_pipeline.finetune import model as finetune_model
from bayling_pipeline.finetune import train as finetune
from bayling_pipeline.finetune.record import CHAT_FORMAT_FILE
from bayling_pipeline.io import read_json, read_lines, write_jsonl
from bayling_pipeline.prompts.chat import IGNORE_INDEX


@pytest.mark.parametrize("count,batch_size", [(1, 8), (7, 3), (64, 8), (1000, 16)])
def test_length_grouped_batches_cover_every_example_once(count, batch_size):
    lengths = [random.Random(i).randint(5, 200) for i in range(count)]
    batches = batching.length_grouped_batches(lengths, batch_size, random.Random(0))
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
    grouped = batching.length_grouped_batches(lengths, 8, random.Random(1))
    assert padding(grouped) < padding(plain) / 5


def test_collate_pads_right_and_masks_padding():
    examples = [
        {"input_ids": [5, 6, 7], "labels": [IGNORE_INDEX, 6, 7]},
        {"input_ids": [8], "labels": [8]},
    ]
    ids, mask, labels = batching.collate(examples, pad_id=0)
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
        ({}, "method", "lora"),
        ({}, "packing", False),
        ({}, "chat_format", "model@v1"),  # the record names the exact format version
        ({"chat_format": "bayling"}, "chat_format", "bayling@v1"),
        ({"chat_format": "llama3@v1"}, "chat_format", "llama3@v1"),
        ({"pack_length": 768, "max_length": 192}, "pack_length", 768),
    ],
)
def test_resolve_recipe_fills_defaults(recipe, key, expected):
    assert finetune.resolve_recipe(recipe)[key] == expected


@pytest.mark.parametrize(
    "recipe,rows",
    [({"packing": True}, 256), ({"packing": True, "pack_length": 1024}, 1024)],
)
def test_packed_rows_default_to_max_length(recipe, rows):
    assert batching.row_length(finetune.resolve_recipe(recipe)) == rows


def test_rows_shorter_than_an_example_are_refused():
    with pytest.raises(ValueError, match="pack_length must be at least max_length"):
        finetune.resolve_recipe({"pack_length": 64, "max_length": 128})


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

    from bayling_pipeline.prompts.chat import tokenize_dialogue

    model = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()
    examples = [tokenize_dialogue(smollm2_tokenizer, d["messages"], 128) for d in _dialogues(3)]
    ids, mask, labels = batching.collate(examples, smollm2_tokenizer.pad_token_id)
    with torch.no_grad():
        ours = finetune_model.assistant_token_loss(model, ids, mask, labels)
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


@pytest.mark.parametrize(
    "extra,weights",
    [
        ({}, "adapter_model.safetensors"),
        (
            {"method": "full", "packing": True, "chat_format": "bayling", "learning_rate": 1e-5},
            "model.safetensors",
        ),
    ],
    ids=["lora", "full-packed"],
)
def test_killed_training_resumes_from_its_checkpoint_and_matches(
    smollm2_dir, tmp_path, caplog, extra, weights
):
    """kill -9 after the step-2 checkpoint; the rerun resumes at step 3 and ends where an
    uninterrupted run ends (same losses, same weights), for LoRA and for full fine-tuning
    of packed rows."""
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
    recipe = _recipe(checkpoint_every=2, **extra)
    reference = _run(smollm2_dir, data, tmp_path / "uninterrupted", recipe)

    out, ckpts = tmp_path / "killed", tmp_path / "killed" / "checkpoints"
    write_json(tmp_path / "recipe.json", recipe)
    command = [
        sys.executable,
        "-m",
        "bayling_pipeline.finetune.train",
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
    ours = load_file(out / "adapter" / weights)
    theirs = load_file(tmp_path / "uninterrupted" / "adapter" / weights)
    assert ours.keys() == theirs.keys()
    assert all((ours[k] - theirs[k]).abs().max() < 1e-5 for k in ours)
    assert not ckpts.exists(), "checkpoints are removed once the adapter is written"


def test_checkpoints_of_another_recipe_are_ignored(smollm2_dir, tmp_path):
    data = tmp_path / "data"
    write_jsonl(data / "train.jsonl", _dialogues(8))
    write_jsonl(data / "dev.jsonl", _dialogues(2))
    ckpts = tmp_path / "ckpts"
    from bayling_pipeline.finetune import checkpoints

    # a complete checkpoint from another recipe, and a half-written one
    (ckpts / "step-00000004").mkdir(parents=True)
    (ckpts / "step-00000004" / "state.json").write_text('{"fingerprint": "other", "step": 4}')
    (ckpts / ".step-00000005.x.tmp").mkdir()
    assert checkpoints.latest(ckpts, "mine") is None
    record = _run(smollm2_dir, data, tmp_path / "out", _recipe(max_steps=2), checkpoints=ckpts)
    assert [p["step"] for p in record["loss_curve"]] == [1, 2]


# --- methods, precision, attention --------------------------------------------------------


def test_schema_recipe_defaults_match_the_code():
    import yaml

    from bayling_pipeline.prompts import chat_formats

    schema = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())
    recipe = schema["$defs"]["run"]["properties"]["recipe"]["properties"]
    for key, spec in recipe.items():
        if key != "lora":
            assert spec["default"] == finetune.RECIPE_DEFAULTS[key], key
    assert tuple(recipe["chat_format"]["enum"]) == chat_formats.ACCEPTED


@pytest.mark.parametrize(
    "method,precision,sharded,dtype,quantized",
    [
        ("lora", "bf16", False, "bfloat16", False),  # frozen base in bf16
        ("lora", "fp32", False, "float32", False),
        ("lora", "bf16", True, "float32", False),  # FSDP flat shards need one dtype
        ("full", "bf16", False, "float32", False),  # fp32 master weights, bf16 autocast
        ("qlora", "bf16", False, "bfloat16", True),
    ],
)
def test_load_settings_table(method, precision, sharded, dtype, quantized):
    from bayling_pipeline.finetune.model import load_settings

    settings = load_settings(method, precision, "sdpa", sharded)
    assert settings["dtype"] == dtype
    assert ("quantization_config" in settings) == quantized
    if quantized:
        assert settings["quantization_config"] == {
            "load_in_4bit": True,
            "bnb_4bit_quant_type": "nf4",
            "bnb_4bit_use_double_quant": True,
            "bnb_4bit_compute_dtype": "bfloat16",
        }


def test_qlora_is_refused_with_fsdp_and_unknown_methods_anywhere():
    from bayling_pipeline.finetune.model import load_settings

    with pytest.raises(ValueError, match="qlora is not supported with FSDP"):
        load_settings("qlora", "bf16", "sdpa", sharded=True)
    with pytest.raises(ValueError, match="unknown method"):
        load_settings("dora", "bf16", "sdpa", sharded=False)


@pytest.mark.parametrize(
    "precision,device,supported,expected",
    [
        ("auto", "cuda", True, "bf16"),
        ("auto", "cuda", False, "fp32"),
        ("auto", "cpu", False, "fp32"),
        ("bf16", "cpu", False, "fp32"),
        ("fp32", "cuda", True, "fp32"),
    ],
)
def test_resolve_precision_table(precision, device, supported, expected):
    from bayling_pipeline.finetune.model import resolve_precision

    assert resolve_precision(precision, device, supported) == expected


def test_flash_attention_falls_back_to_sdpa_with_a_log_line(caplog):
    from bayling_pipeline.finetune.model import resolve_attn_implementation

    with caplog.at_level("WARNING"):
        assert resolve_attn_implementation("flash_attention_2", "cpu", "fp32") == "sdpa"
    assert "flash_attention_2 unavailable" in caplog.text and "CUDA" in caplog.text
    assert resolve_attn_implementation("eager", "cpu", "fp32") == "eager"


@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes is installed"
)
def test_qlora_without_bitsandbytes_stops_at_once_naming_the_package(tmp_path):
    with pytest.raises(ImportError, match="needs the bitsandbytes package"):
        finetune.train(
            "no-model-is-loaded",
            tmp_path / "train.jsonl",
            tmp_path / "dev.jsonl",
            {"method": "qlora"},
            tmp_path / "adapter",
            tmp_path / "training.json",
            tmp_path / "loss.tsv",
        )


@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is None, reason="bitsandbytes is not installed"
)
def test_two_qlora_steps(smollm2_dir, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("4-bit weights need a GPU")
    write_jsonl(tmp_path / "train.jsonl", _dialogues(8))
    write_jsonl(tmp_path / "dev.jsonl", _dialogues(2))
    record = _run(smollm2_dir, tmp_path, tmp_path / "out", _recipe(method="qlora", max_steps=2))
    assert record["recipe"]["method"] == "qlora"
    assert (tmp_path / "out" / "adapter" / "adapter_model.safetensors").is_file()


def test_packed_training_records_non_padding_estimate_and_format(smollm2_dir, tmp_path):
    data = tmp_path / "data"
    write_jsonl(data / "train.jsonl", _dialogues(24))
    write_jsonl(data / "dev.jsonl", _dialogues(2))
    recipe = _recipe(max_steps=2, packing=True, chat_format="llama3", max_length=128)
    record = _run(smollm2_dir, data, tmp_path / "out", recipe)
    assert record["recipe"]["chat_format"] == "llama3@v1"
    assert all(0.9 < p["non_padding"] <= 1 for p in record["loss_curve"])
    assert 0.9 < record["non_padding"] <= 1
    # the formulas count the real model exactly: base (tied embeddings) + LoRA on q_proj
    parameters = record["parameters"]
    assert record["estimate"]["parameters"] == parameters["total"] - parameters["trainable"]
    assert record["estimate"]["trainable_parameters"] == parameters["trainable"]
    assert record["estimate"]["gpu_hours"] > 0
    saved = read_json(tmp_path / "out" / "adapter" / CHAT_FORMAT_FILE)
    assert saved == {"chat_format": "llama3@v1"}
    assert read_lines(tmp_path / "out" / "loss.tsv")[0].split("\t")[3] == "non_padding"


# --- several processes ------------------------------------------------------------------


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_shards_of_the_stream_are_disjoint_and_cover_it(processes):
    shards = [list(batching.shard_stream(iter(range(60)), processes, r)) for r in range(processes)]
    assert sorted(i for shard in shards for i in shard) == list(range(60))
    assert all(not set(a) & set(b) for a in shards for b in shards if a is not b)


def test_two_processes_match_one_process_accumulating_two_batches(smollm2_dir, tmp_path):
    """A real 2-process data-parallel run (accelerate launch, gloo on the CPU): the ranks
    train on disjoint batches, only rank 0 writes, and the loss curve and adapter equal a
    one-process run that accumulates the same two batches per step."""
    import os
    import subprocess
    import sys

    from safetensors.torch import load_file

    from bayling_pipeline.io import write_json

    data = tmp_path / "data"
    write_jsonl(data / "train.jsonl", _dialogues(24))
    write_jsonl(data / "dev.jsonl", _dialogues(2))
    recipe = _recipe(max_steps=2, max_length=64, seed=7)
    recipe["lora"]["dropout"] = 0.0  # no random masks, which differ between the two setups
    single = _run(smollm2_dir, data, tmp_path / "single", {**recipe, "gradient_accumulation": 2})

    out = tmp_path / "ddp"
    write_json(tmp_path / "recipe.json", recipe)
    accelerate = Path(sys.executable).parent / "accelerate"
    command = [
        str(accelerate),
        "launch",
        "--multi_gpu",  # the torch.distributed launcher; ACCELERATE_USE_CPU keeps it on CPU
        "--num_processes=2",
        "--num_machines=1",
        "--mixed_precision=no",
        "--dynamo_backend=no",
        "--main_process_port=0",  # accelerate picks a free port, as the workflow asks it to
        "-m",
        "bayling_pipeline.finetune.train",
        *("--base-model", str(smollm2_dir), "--train", str(data / "train.jsonl")),
        *("--dev", str(data / "dev.jsonl"), "--recipe", str(tmp_path / "recipe.json")),
        *("--adapter", str(out / "adapter"), "--record", str(out / "training.json")),
        *("--loss-curve", str(out / "loss.tsv"), "--threads", "1"),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(finetune.__file__).parents[1]),
        "ACCELERATE_USE_CPU": "true",
        "OMP_NUM_THREADS": "1",
    }
    with socket.socket() as default_port:  # another job holding accelerate's default port
        default_port.bind(("127.0.0.1", 29500))
        default_port.listen()
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    record = read_json(out / "training.json")
    assert record["processes"] == 2 and record["distributed"] == "MULTI_CPU"
    first = record["first_step_examples_per_process"]
    assert len(first) == 2 and first[0] and first[1] and not set(first[0]) & set(first[1])
    assert sorted(first[0] + first[1]) == single["first_step_examples_per_process"][0]
    assert result.stderr.count(" wrote ") == 1 and "rank 0 wrote" in result.stderr
    assert [round(p["loss"], 4) for p in record["loss_curve"]] == [
        round(p["loss"], 4) for p in single["loss_curve"]
    ]
    ours = load_file(out / "adapter" / "adapter_model.safetensors")
    theirs = load_file(tmp_path / "single" / "adapter" / "adapter_model.safetensors")
    # Adam divides by |gradient|: where a gradient is pure float noise (summed in another
    # order across processes), a component may move by up to one step (lr = 1e-3)
    for key in ours:
        assert (ours[key] - theirs[key]).abs().max() < 1e-3, key
        assert (ours[key] - theirs[key]).norm() < 1e-2 * theirs[key].norm(), key
    assert not [p for p in out.iterdir() if p.name.startswith(".")]

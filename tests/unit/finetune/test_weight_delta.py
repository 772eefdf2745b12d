"""Weight deltas: base + delta of a tiny random Llama is the target bit for bit, and a wrong
base (another shape, missing or extra tensors, or the same shapes with other weights) is
refused with a message that says so, leaving no output behind.

    .venv/bin/python -m pytest -v tests/unit/finetune/test_weight_delta.py
"""

from __future__ import annotations

import pytest
from tiny_llama import write_delta_release, write_wrong_base

from bayling_pipeline.download import fetch
from bayling_pipeline.finetune.weight_delta import (
    WRONG_BASE,
    DeltaError,
    checkpoint_digest,
    main,
    stage_delta_model,
    state_dict_digest,
)
from bayling_pipeline.io import read_json


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """base/, delta/ (BayLing-style float16 pickles) and target/ of a tiny Llama."""
    return write_delta_release(tmp_path_factory.mktemp("release"))


def _spec(release, sha256=None) -> dict:
    return {"source": "delta", "base": "tiny-llama", "path": str(release["delta"]),
            "sha256": sha256, "eos_token": None, "pad_token": None}  # fmt: skip


def _settings(tmp_path) -> fetch.Settings:
    return fetch.Settings(lock=str(tmp_path / "lock.json"), cache=str(tmp_path / "cache"))


def _refused(tmp_path, spec, base, settings=None) -> str:
    """Stage with a base that must be refused; return the message. No output, no temp."""
    with pytest.raises(DeltaError) as caught:
        stage_delta_model(spec, tmp_path / "model", base, settings or _settings(tmp_path))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".model", "model"))]
    return str(caught.value)


def test_base_plus_delta_is_the_target_bit_for_bit(release, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    settings = _settings(tmp_path)
    # small output shards: the job writes several, with an index, as for a 13B model
    provenance = stage_delta_model(
        _spec(release), tmp_path / "model", release["base"], settings, max_shard_bytes=4096
    )

    model_dir = tmp_path / "model"
    assert provenance["sha256"] == checkpoint_digest(release["target"])
    assert checkpoint_digest(model_dir) == provenance["sha256"]
    assert provenance["dtypes"] == ["float16"] and provenance["dropped_buffers"] == 2
    assert len(list(model_dir.glob("model-*-of-*.safetensors"))) > 1
    assert (model_dir / "model.safetensors.index.json").is_file()
    assert read_json(model_dir / "provenance.json")["pinned"] == "first build"
    # the first build records the digest in the lock file, keyed by the delta
    lock = read_json(tmp_path / "lock.json")
    assert lock == {
        f"weight-delta:{release['delta']}": {"sha256": provenance["sha256"], "bytes": 12448}
    }
    # it loads and computes what the target computes, with the delta's tokenizer
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert tokenizer.eos_token == "</s>" and tokenizer.pad_token == "</s>"
    ids = tokenizer(["translate the file into german"], return_tensors="pt")
    with torch.no_grad():
        logits = AutoModelForCausalLM.from_pretrained(model_dir)(**ids).logits
        expected = AutoModelForCausalLM.from_pretrained(release["target"])(**ids).logits
    assert torch.equal(logits, expected)


def test_a_pinned_digest_of_the_target_is_accepted(release, tmp_path):
    pin = checkpoint_digest(release["target"])
    provenance = stage_delta_model(
        _spec(release, pin), tmp_path / "model", release["base"], _settings(tmp_path)
    )
    assert provenance["pinned"] == "config" and provenance["sha256"] == pin
    assert not (tmp_path / "lock.json").exists()  # a pinned entry needs no lock entry


@pytest.mark.parametrize(
    "overrides,expected",
    [
        (
            {"intermediate_size": 48},
            "6 tensor(s) differ in shape (model.layers.0.mlp.down_proj.weight: base [16, 48], "
            "delta [16, 32], model.layers.0.mlp.gate_proj.weight: base [48, 16], delta [32, 16]",
        ),
        ({"vocab_size": 33}, "lm_head.weight: base [33, 16], delta [32, 16]"),
        (
            {"num_hidden_layers": 1},
            "the base lacks 9 tensor(s) (model.layers.1.input_layernorm.weight, ",
        ),
        (
            {"num_hidden_layers": 3},
            "the delta lacks 9 tensor(s) (model.layers.2.input_layernorm.weight, ",
        ),
    ],
    ids=["mlp-size", "vocabulary", "fewer-layers", "more-layers"],
)
def test_a_base_of_another_architecture_is_refused_naming_tensors(
    release, tmp_path, overrides, expected
):
    wrong = write_wrong_base(tmp_path / "wrong", **overrides)
    message = _refused(tmp_path, _spec(release), wrong)
    assert message.startswith(WRONG_BASE) and expected in message
    assert not (tmp_path / "lock.json").exists()  # nothing recorded for a refused build


def test_same_shapes_other_weights_fail_the_pinned_digest(release, tmp_path):
    wrong = write_wrong_base(tmp_path / "wrong", seed=7)
    pin = checkpoint_digest(release["target"])
    message = _refused(tmp_path, _spec(release, pin), wrong)
    assert WRONG_BASE in message and f"pins {pin}" in message
    assert "every tensor name and shape matched" in message


def test_the_lock_file_digest_guards_later_builds(release, tmp_path):
    settings = _settings(tmp_path)
    first = stage_delta_model(_spec(release), tmp_path / "first", release["base"], settings)
    wrong = write_wrong_base(tmp_path / "wrong", seed=7)
    message = _refused(tmp_path, _spec(release), wrong, settings)
    assert WRONG_BASE in message and settings.lock in message and first["sha256"] in message
    again = stage_delta_model(_spec(release), tmp_path / "again", release["base"], settings)
    assert again["pinned"] == "lock file" and again["sha256"] == first["sha256"]


def test_a_hub_delta_is_not_fetched_offline(release, tmp_path):
    spec = {**_spec(release), "repo": "ICTNLP/bayling-7b-diff", "revision": "0" * 40}
    del spec["path"]
    offline = fetch.Settings(lock=None, cache=str(tmp_path / "cache"), offline=True)
    with pytest.raises(fetch.OfflineError, match="ICTNLP/bayling-7b-diff"):
        stage_delta_model(spec, tmp_path / "model", release["base"], offline)


def _state():
    import torch

    return {"b.weight": torch.arange(6, dtype=torch.float16).reshape(2, 3),
            "a.bias": torch.ones(3, dtype=torch.float32)}  # fmt: skip


def _changed(change):
    import torch

    state = _state()
    if change == "order":
        return dict(reversed(list(state.items())))
    if change == "buffer":  # a recomputed buffer is not a weight
        return {**state, "model.layers.0.self_attn.rotary_emb.inv_freq": torch.ones(2)}
    if change == "name":
        return {"c.weight": state["b.weight"], "a.bias": state["a.bias"]}
    if change == "dtype":  # the same values, other bytes
        return {**state, "a.bias": state["a.bias"].double()}
    if change == "shape":  # the same bytes, another shape
        return {**state, "b.weight": state["b.weight"].reshape(3, 2)}
    if change == "value":
        return {**state, "b.weight": state["b.weight"] + torch.eye(2, 3, dtype=torch.float16)}


@pytest.mark.parametrize(
    "change,same",
    [("order", True), ("buffer", True), ("name", False), ("dtype", False),
     ("shape", False), ("value", False)],
)  # fmt: skip
def test_the_digest_covers_names_dtypes_shapes_and_bytes_only(change, same):
    assert (state_dict_digest(_changed(change)) == state_dict_digest(_state())) is same


def test_digest_command_prints_the_checkpoint_digest(release, capsys):
    main(["digest", str(release["target"])])
    assert capsys.readouterr().out.strip() == checkpoint_digest(release["target"])

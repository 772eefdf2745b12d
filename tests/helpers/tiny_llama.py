"""Tiny random Llama checkpoints released the way BayLing v1.0 was: base, delta, target.

    from tiny_llama import write_delta_release
    paths = write_delta_release(tmp_path)   # {"base": ..., "delta": ..., "target": ...}

The target is a 2-layer Llama (hidden size 16) whose weights lie on a 1/256 grid, and the
delta is target - base with a small grid-valued difference, so every float16 sum is exact:
base + delta must give the target bit for bit. Like BayLing's release, the delta is
float16 PyTorch pickles in two shards with an index, carries the rotary ``inv_freq``
buffers that transformers before 4.31 saved, and holds the tokenizer and config; the base
is float32 safetensors, as ``finetune_prepare_base`` stages a model. A "wrong base" is the
same or another architecture from another seed.
"""

from __future__ import annotations

from pathlib import Path

GRID = 256  # weights are multiples of 1/GRID: small sums of them are exact in float16
# the staged base needs one, as every staged model does; BayLing's delta has none
CHAT_TEMPLATE = "{% for m in messages %}{{ m.content }} {% endfor %}"
WORDS = "translate the file into german chinese english please save open close".split()


def tiny_tokenizer(chat_template: str | None = None):
    """A real word-level fast tokenizer over a dozen words, with Llama's special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(["<unk>", "<s>", "</s>", *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def tiny_config(**overrides):
    from transformers import LlamaConfig

    settings = dict(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
    )
    return LlamaConfig(**{**settings, **overrides})


def grid_state(seed: int, **overrides) -> dict:
    """The state dict of a random tiny Llama, rounded to the 1/GRID grid, in float16."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_config(**overrides))
    # + 0.0 turns -0.0 into 0.0: a sum that cancels gives 0.0, and the digest sees bytes
    return {
        name: (torch.round(tensor * GRID) / GRID + 0.0).half()
        for name, tensor in model.state_dict().items()
    }


def save_model(state: dict, folder: Path, dtype: str, tokenizer=None, **overrides) -> Path:
    """Save ``state`` as a transformers checkpoint (safetensors) in ``dtype``."""
    import torch
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(tiny_config(**overrides))
    model.load_state_dict(state)
    model.to(getattr(torch, dtype)).save_pretrained(folder)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    return folder


def save_delta(delta: dict, folder: Path, tokenizer) -> Path:
    """Save a delta as BayLing released its own: float16 pickles in two shards + index,
    with the rotary buffers, the config and the tokenizer."""
    import json

    import torch

    folder.mkdir(parents=True)
    state = dict(delta)
    for layer in range(tiny_config().num_hidden_layers):  # zero deltas of a recomputed buffer
        state[f"model.layers.{layer}.self_attn.rotary_emb.inv_freq"] = torch.zeros(4)
    names = sorted(state)
    halves = {"pytorch_model-00001-of-00002.bin": names[::2]}
    halves["pytorch_model-00002-of-00002.bin"] = names[1::2]
    for filename, part in halves.items():
        torch.save({name: state[name] for name in part}, folder / filename)
    weight_map = {name: filename for filename, part in halves.items() for name in part}
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    config = tiny_config(dtype="float16", architectures=["LlamaForCausalLM"])
    config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_delta_release(root: Path, seed: int = 0) -> dict[str, Path]:
    """base/ (float32 safetensors), delta/ (BayLing-style) and target/ (float16) under root."""
    import torch

    target = grid_state(seed)
    generator = torch.Generator().manual_seed(seed + 1)
    delta = {
        name: (torch.randint(-4, 5, t.shape, generator=generator) / GRID).half()
        for name, t in target.items()
    }
    base = {name: target[name] - delta[name] for name in target}  # exact on the grid
    tokenizer = tiny_tokenizer(chat_template=CHAT_TEMPLATE)
    return {
        "base": save_model(base, root / "base", "float32", tokenizer),
        "delta": save_delta(delta, root / "delta", tiny_tokenizer()),
        "target": save_model(target, root / "target", "float16", tokenizer),
    }


def write_wrong_base(folder: Path, seed: int = 7, **overrides) -> Path:
    """A base the delta was not made against: another seed, maybe another architecture
    (with a tokenizer, so the workflow can stage it as a model of its own)."""
    tokenizer = tiny_tokenizer(chat_template=CHAT_TEMPLATE)
    return save_model(grid_state(seed, **overrides), folder, "float32", tokenizer, **overrides)

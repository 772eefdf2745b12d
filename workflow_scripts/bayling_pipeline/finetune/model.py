"""The model a fine-tuning run trains: method, precision, attention kernel, loss module.

Used by :mod:`bayling_pipeline.finetune.setup` (``python -m bayling_pipeline.finetune ...``).

- ``lora``: frozen base (bf16 on a GPU, fp32 on CPU or when sharded) + fp32 LoRA adapters.
- ``qlora``: the base quantized to 4-bit NF4 (double quantization, bf16 compute) through
  bitsandbytes, + LoRA adapters. Needs the bitsandbytes package and a GPU.
- ``full``: every weight trained; fp32 master weights, bf16 autocast where supported.

Precision ``auto`` means bf16 on a GPU that supports it, else fp32. Under FSDP or
DeepSpeed the weights load in fp32 whatever the method, and the engine casts to bf16
for compute (its config's mixed precision), since a flat shard must have one dtype.
"""

from __future__ import annotations

import importlib.util
import logging

from bayling_pipeline.prompts.chat import IGNORE_INDEX

log = logging.getLogger(__name__)

METHODS = ("lora", "qlora", "full")


def require_bitsandbytes() -> None:
    """Fail early, naming the package, when QLoRA's quantization library is missing."""
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ImportError(
            "recipe.method 'qlora' needs the bitsandbytes package (4-bit weights), which is "
            "not installed: `pip install bitsandbytes` on a CUDA machine, or use method 'lora'"
        )


def resolve_precision(precision: str, device_type: str, bf16_supported: bool) -> str:
    """'bf16' or 'fp32' for a recipe's ``precision`` (auto, bf16, fp32) on a device."""
    if precision == "fp32":
        return "fp32"
    if device_type == "cuda" and bf16_supported:
        return "bf16"
    if precision == "bf16":
        log.warning("precision bf16 asked for, but %s has no bf16 support: fp32", device_type)
    return "fp32"


def resolve_attn_implementation(requested: str, device_type: str, precision: str) -> str:
    """The attention kernel to use; flash_attention_2 falls back to sdpa where it cannot run."""
    if requested != "flash_attention_2":
        return requested
    reasons = []
    if importlib.util.find_spec("flash_attn") is None:
        reasons.append("the flash_attn package is not installed")
    if device_type != "cuda":
        reasons.append(f"it needs a CUDA device, not {device_type}")
    if precision != "bf16":
        reasons.append("it needs bf16 weights or autocast")
    if reasons:
        log.warning("attention: flash_attention_2 unavailable (%s); using sdpa", "; ".join(reasons))
        return "sdpa"
    return requested


def quantization_settings() -> dict:
    """BitsAndBytesConfig arguments of QLoRA (Dettmers et al. 2023): NF4, double quant."""
    return {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": "bfloat16",
    }


def load_settings(method: str, precision: str, attn: str, sharded: bool) -> dict:
    """``from_pretrained`` keyword arguments (dtype by name, attention, quantization)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if method == "qlora" and sharded:
        raise ValueError("method qlora is not supported with FSDP or DeepSpeed; use lora")
    # a frozen base can live in bf16; trained weights stay fp32 (autocast computes in bf16)
    frozen_bf16 = precision == "bf16" and method == "lora" and not sharded
    settings = {"dtype": "bfloat16" if frozen_bf16 else "float32", "attn_implementation": attn}
    if method == "qlora":
        settings["dtype"] = "bfloat16"
        settings["quantization_config"] = quantization_settings()
    return settings


def build_model(base_model: str, recipe: dict, device, settings: dict):
    """The model to train: base model, with LoRA adapters unless the method is ``full``.

    ``device`` None leaves the weights on the CPU, for FSDP or DeepSpeed to shard and place.
    """
    import torch
    from transformers import AutoModelForCausalLM

    kwargs = {
        "dtype": getattr(torch, settings["dtype"]),
        "attn_implementation": settings["attn_implementation"],
        "trust_remote_code": recipe["trust_remote_code"],
    }
    if "quantization_config" in settings:
        from transformers import BitsAndBytesConfig

        quant = dict(settings["quantization_config"])
        quant["bnb_4bit_compute_dtype"] = getattr(torch, quant["bnb_4bit_compute_dtype"])
        kwargs["quantization_config"] = BitsAndBytesConfig(**quant)
        kwargs["device_map"] = {"": device}  # bitsandbytes quantizes while placing
    model = AutoModelForCausalLM.from_pretrained(base_model, **kwargs)
    if device is not None and "quantization_config" not in settings:
        model = model.to(device)
    checkpointing = {"use_reentrant": False}  # reentrant needs inputs that require grad
    if recipe["method"] == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=recipe["gradient_checkpointing"],
            gradient_checkpointing_kwargs=checkpointing,
        )
    elif recipe["gradient_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpointing)
    if recipe["method"] == "full":
        return model
    from peft import LoraConfig, get_peft_model

    lora = recipe["lora"]
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
    )
    return get_peft_model(model, config)


def assistant_token_loss(
    model, ids, mask, labels, reduction: str = "mean", position_ids=None, **body_kwargs
):
    """Cross-entropy over the learned (assistant) positions only.

    The vocabulary projection is applied to those positions alone: with a 49k-token
    vocabulary it is a large share of the compute, and most positions are prompt.
    Models without the usual ``<body>.lm_head`` layout fall back to full logits.
    ``mask`` is a 2-D padding mask, a 4-D packed-sequence mask, or None.
    """
    import torch

    target = labels[:, 1:]
    learned = target != IGNORE_INDEX
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = getattr(causal_lm, causal_lm.base_model_prefix, None)
    head = causal_lm.get_output_embeddings()
    inputs = {"input_ids": ids, "attention_mask": mask, "position_ids": position_ids}
    inputs["use_cache"] = False  # training: no key/value cache to fill
    if body is not None and head is not None:
        hidden = body(**inputs, **body_kwargs).last_hidden_state
        logits = head(hidden[:, :-1][learned])
    else:
        logits = model(**inputs, **body_kwargs).logits[:, :-1][learned]
    return torch.nn.functional.cross_entropy(logits.float(), target[learned], reduction=reduction)


def loss_module(model):
    """``model`` inside a module whose forward returns the summed assistant-token loss.

    Distributed wrappers (DDP, FSDP, DeepSpeed) act in their module's forward; the loss
    calls the model's body and head separately, so the whole computation must sit in one
    forward they wrap.
    """
    import torch

    class SummedAssistantLoss(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, ids, mask, labels, position_ids=None):
            return assistant_token_loss(
                self.model, ids, mask, labels, reduction="sum", position_ids=position_ids
            )

    return SummedAssistantLoss(model)

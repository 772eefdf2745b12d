"""Batched generation with a Hugging Face causal LM from token-id chat prompts.

Shared by decoding (:mod:`bayling_pipeline.decode.loading`: test sets and dialogues) and
the synthesis teacher (:mod:`bayling_pipeline.synthesize.teacher`), so a teacher's answer
and a decoded hypothesis come out of the same code. Prompts are sorted by length and
left-padded; answers stop at EOS or at the chat format's end-of-turn marker.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from bayling_pipeline.cli import UserError
from bayling_pipeline.prompts.chat import end_of_turn_text

log = logging.getLogger(__name__)


def plan_batches(lengths: list[int], batch_size: int, max_tokens: int = 0) -> list[list[int]]:
    """Indices grouped into batches, longest prompts first, so rows of a batch have similar
    lengths (little padding) and the first batch shows at once whether memory suffices.
    Ties keep input order, so the plan is the same on every run (batch-level resume).
    ``max_tokens`` > 0 also caps a batch's padded prompt tokens (rows x its longest
    prompt): short prompts then share a batch with many more rows than long ones."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if max_tokens <= 0:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    for index in order:
        batch = batches[-1] if batches else None
        # longest first: a batch's padded width is the length of its first prompt
        if batch and len(batch) < batch_size and (len(batch) + 1) * lengths[batch[0]] <= max_tokens:
            batch.append(index)
        else:
            batches.append([index])
    return batches


# What a Hugging Face checkpoint folder needs besides config.json (any one of each).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "vocab.txt")
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json")
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def check_model_folder(path, what: str = "model", adapter: bool = False) -> None:
    """UserError naming ``path`` and what it lacks, before transformers fails on it with a
    message about hub repository ids: compute jobs load local folders only (the rule
    ``finetune_prepare_base`` stages a model, ``finetune_train`` writes an adapter)."""
    folder = Path(path)
    if not folder.is_dir():
        looks_like_hub = str(path).count("/") == 1 and not folder.exists()
        hint = (
            "a hub id? Jobs load local folders: stage it with the rule finetune_prepare_base "
            "(a models entry in the config) or huggingface-cli download --local-dir"
            if looks_like_hub
            else "give the folder of a staged checkpoint (resources/models/<key>)"
        )
        reason = "is a file, not a folder" if folder.exists() else "no such folder"
        raise UserError(f"{what} {path}: {reason}; {hint}")
    if adapter:
        needs = {
            "adapter_config.json": ("adapter_config.json",),
            f"weights ({' or '.join(ADAPTER_WEIGHTS)})": ADAPTER_WEIGHTS,
        }
    else:
        needs = {
            "config.json": ("config.json",),
            f"a tokenizer ({', '.join(TOKENIZER_FILES)})": TOKENIZER_FILES,
            "weights (*.safetensors or pytorch_model*.bin)": WEIGHT_PATTERNS,
        }
    missing = [
        name
        for name, patterns in needs.items()
        if not any(next(folder.glob(pattern), None) for pattern in patterns)
    ]
    if missing:
        redo = "train it again" if adapter else "stage the model again"
        raise UserError(
            f"{what} {path}: not a complete {'adapter' if adapter else 'checkpoint'}, it lacks "
            f"{'; '.join(missing)}; {redo} (delete the folder and rerun its rule)"
        )


def load_model(model_dir: str, adapter_dir: str | None, trust_remote_code: bool = False):
    """(model, tokenizer, device): the base model with the adapter merged, in eval mode."""
    check_model_folder(model_dir)
    if adapter_dir:
        check_model_folder(adapter_dir, "adapter", adapter=True)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=dtype, trust_remote_code=trust_remote_code
    )
    if adapter_dir:
        from peft import PeftModel

        # Merging removes the adapter's extra matmuls from every decoding step.
        model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    return model.to(device).eval(), tokenizer, device


def generate(
    model,
    tokenizer,
    device,
    prompts: list[list[int]],
    batch_size: int,
    max_new_tokens: int,
    num_beams: int,
    *,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 1,
    chat_format: str = "model",
    batch_log=None,  # a bayling_pipeline.decode.resume.BatchLog
    batch_tokens: int = 0,
) -> list[str]:
    """Decode token-id prompts in length-sorted, left-padded batches; keep input order.

    An answer ends at an EOS token or at the chat format's end-of-turn marker. With
    ``batch_log``, batches it holds are not decoded again and every new batch is committed
    to it as soon as it is done.
    """
    import torch
    from tqdm import tqdm

    stop = stopping(tokenizer, model.generation_config, chat_format)
    outputs: list[str] = [""] * len(prompts)
    batches = plan_batches([len(p) for p in prompts], batch_size, batch_tokens)
    done = batch_log.load() if batch_log else {}
    resumed = 0
    for number, batch in enumerate(tqdm(batches, desc="decode", disable=not sys.stderr.isatty())):
        if number in done and done[number][0] == batch:
            texts = done[number][1]
            resumed += 1
        else:
            if temperature > 0:
                # one seed per batch: a resumed run samples its remaining batches alike
                torch.manual_seed(seed + number)
            texts = _generate_batch(
                model,
                tokenizer,
                device,
                [prompts[i] for i in batch],
                stop,
                max_new_tokens,
                num_beams,
                temperature,
                top_p,
            )
            if batch_log:
                batch_log.commit(number, batch, texts)
        for index, text in zip(batch, texts, strict=True):
            outputs[index] = text
    if resumed:
        log.info("resumed %d of %d batches from %s", resumed, len(batches), batch_log.path)
    return outputs


def stopping(
    tokenizer, generation_config=None, chat_format: str = "model"
) -> tuple[list[int], list[str]]:
    """(token ids, texts) that end an answer: the tokenizer's and the model's EOS ids (its
    generation config may list several, as Llama 3's does), and the chat format's end-of-turn
    marker, as a token where the vocabulary has it, else as text (``llama3`` headers written
    for a tokenizer without them)."""
    configured = getattr(generation_config, "eos_token_id", None)
    ids = [tokenizer.eos_token_id, *(configured if isinstance(configured, list) else [configured])]
    texts = []
    marker = end_of_turn_text(tokenizer, chat_format)
    if marker:
        token = tokenizer.convert_tokens_to_ids(marker)
        if token is not None and tokenizer.convert_ids_to_tokens(token) == marker:
            ids.append(token)
        else:
            texts.append(marker)
    return sorted({i for i in ids if i is not None}), texts


def _generate_batch(
    model, tokenizer, device, prompts, stop, max_new_tokens, num_beams, temperature, top_p
) -> list[str]:
    import torch

    eos_ids, stop_texts = stop
    pad_id = tokenizer.pad_token_id
    width = max(len(p) for p in prompts)
    # Left padding: every row's prompt ends in the last column, where generation starts;
    # the mask hides the padding and generate() derives position ids from it.
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p}
    with torch.inference_mode():
        generated = model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            pad_token_id=pad_id,
            eos_token_id=eos_ids,
            **(sampling if temperature > 0 else {"do_sample": False}),
            **({"stop_strings": stop_texts, "tokenizer": tokenizer} if stop_texts else {}),
        )
    texts = [tokenizer.decode(row[width:], skip_special_tokens=True) for row in generated]
    # a textual marker stays in the decoded text: the answer is what precedes it
    return [min((t.split(m)[0] for m in stop_texts), key=len, default=t) for t in texts]

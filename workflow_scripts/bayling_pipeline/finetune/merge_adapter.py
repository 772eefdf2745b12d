"""Merge a LoRA adapter into its base model: one standalone checkpoint for decoding.

Run by the rule ``finetune_merge`` (when ``finetune.<run>.merge`` is true); by hand::

    python -m bayling_pipeline.finetune.merge_adapter --base-model resources/models/smollm2-135m \
        --adapter results/finetune/bayling-smollm2/adapter \
        --output results/finetune/bayling-smollm2/merged

The output (safetensors weights, config, generation config, tokenizer) loads as a plain
model, e.g. ``python -m bayling_pipeline.decode --model .../merged``, with no PEFT at
decoding time. Merging happens in float32 and is saved in the base model's own dtype, so
the merged weights round once, like the base's did.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from bayling_pipeline.cli import at_least, run_cli
from bayling_pipeline.io import atomic_path, write_json
from bayling_pipeline.prompts.generation import check_model_folder

log = logging.getLogger(__name__)


def merge_adapter(base_model, adapter_dir, output_dir, trust_remote_code: bool = False) -> None:
    """Write base + adapter, merged, to ``output_dir`` (atomically)."""
    import torch
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    saved_dtype = AutoConfig.from_pretrained(base_model, trust_remote_code=trust_remote_code).dtype
    model = AutoModelForCausalLM.from_pretrained(
        base_model, dtype=torch.float32, trust_remote_code=trust_remote_code
    )
    merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    if saved_dtype is not None:
        merged = merged.to(saved_dtype)
    # the adapter directory holds the tokenizer training used (pad token included)
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir, trust_remote_code=trust_remote_code)
    with atomic_path(output_dir) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(
            tmp / "merged_from.json", {"base_model": str(base_model), "adapter": str(adapter_dir)}
        )
        chat_format = Path(adapter_dir) / "chat_format.json"  # finetune.record.CHAT_FORMAT_FILE
        if chat_format.is_file():
            shutil.copy(chat_format, tmp / chat_format.name)
    log.info("merged %s into %s -> %s", adapter_dir, base_model, output_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", required=True, help="the staged base model's folder")
    parser.add_argument("--adapter", required=True, help="the LoRA adapter folder")
    parser.add_argument("--output", required=True, help="the merged model folder to create")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--threads", type=at_least(1), default=None, help="CPU threads for torch")
    args = parser.parse_args(argv)
    check_model_folder(args.base_model, "--base-model")
    check_model_folder(args.adapter, "--adapter", adapter=True)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    merge_adapter(args.base_model, args.adapter, args.output, args.trust_remote_code)


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.finetune.merge_adapter")

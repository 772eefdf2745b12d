"""Optional vLLM backend of the decode stage (``decoding.backend: vllm``), for GPU nodes.

vLLM batches continuously and pages its KV cache, so greedy or sampled decoding of a large
test set is several times faster than HF ``generate`` on the same GPU. Beam search stays
with the HF backend (BayLing's beam 5): vLLM's beam search is a separate, slower API whose
scores are not HF's. Adapters are applied by vLLM's LoRA support, not merged.

Before trusting it for a paper table, check on the GPU node that it agrees with the HF
backend: :mod:`bayling_pipeline.decode.vllm_check`.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from bayling_pipeline.prompts.generation import check_model_folder, stopping

log = logging.getLogger(__name__)


NOT_INSTALLED = (
    "decoding.backend is 'vllm' but the vllm package is not installed here; install it on "
    "the GPU nodes (pip install vllm) or set decoding.backend: hf"
)


class BackendUnavailable(RuntimeError):
    """The configured backend cannot run here."""


def require_vllm():
    """The vllm module, or BackendUnavailable saying how to get it."""
    try:
        import vllm
    except ImportError as error:
        raise BackendUnavailable(NOT_INSTALLED) from error
    return vllm


def sampling_kwargs(settings, stop_token_ids: list[int], stop_texts: list[str]) -> dict:
    """vllm.SamplingParams arguments equivalent to the HF settings (bayling_pipeline.decode.settings
    Settings): temperature 0 is greedy, as HF's ``do_sample=False``."""
    if settings.num_beams > 1:
        raise ValueError(
            "the vllm backend decodes greedily or by sampling; use backend hf for num_beams > 1"
        )
    sampling = settings.temperature > 0
    return {
        "n": 1,
        "max_tokens": settings.max_new_tokens,
        "temperature": settings.temperature if sampling else 0.0,
        "top_p": settings.top_p if sampling else 1.0,
        "seed": settings.seed if sampling else None,
        "stop_token_ids": list(stop_token_ids),
        "stop": list(stop_texts),  # vLLM cuts a stop text off the returned answer itself
        "skip_special_tokens": True,
    }


def lora_rank(adapter_dir: str) -> int:
    """The rank ``r`` of a PEFT adapter (vLLM must reserve at least that much)."""
    return int(json.loads((Path(adapter_dir) / "adapter_config.json").read_text())["r"])


class Engine:
    """A vLLM engine with the tokenizer and adapter of one model; ``generate`` mirrors
    bayling_pipeline.prompts.generation.generate (token-id prompts in, raw texts out, input
    order)."""

    def __init__(self, model_dir: str, adapter_dir: str | None, trust_remote_code=False):
        vllm = require_vllm()
        check_model_folder(model_dir)
        if adapter_dir:
            check_model_folder(adapter_dir, "adapter", adapter=True)
        from transformers import AutoTokenizer, GenerationConfig

        self.tokenizer = AutoTokenizer.from_pretrained(
            model_dir, trust_remote_code=trust_remote_code
        )
        # its EOS ids stop generation, as HF generate() takes them from the model
        self.generation_config = GenerationConfig.from_pretrained(model_dir)
        options = (
            {"enable_lora": True, "max_lora_rank": lora_rank(adapter_dir)} if adapter_dir else {}
        )
        self.llm = vllm.LLM(
            model=str(model_dir), dtype="bfloat16", trust_remote_code=trust_remote_code, **options
        )
        self.lora = None
        if adapter_dir:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest("adapter", 1, str(adapter_dir))

    def generate(self, prompts: list[list[int]], settings, batch_log=None) -> list[str]:
        """Raw answers to token-id prompts, in input order (``batch_log`` is not used: vLLM
        schedules the whole set itself, so a killed job starts over)."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        ids, texts = stopping(self.tokenizer, self.generation_config, settings.chat_format)
        params = SamplingParams(**sampling_kwargs(settings, ids, texts))
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=p) for p in prompts],
            params,
            lora_request=self.lora,
            use_tqdm=sys.stderr.isatty(),
        )
        return [output.outputs[0].text for output in outputs]

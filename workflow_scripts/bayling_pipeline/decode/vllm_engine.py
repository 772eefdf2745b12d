"""Optional vLLM backend of the decode stage (``decoding.backend: vllm``), for GPU nodes.

vLLM batches continuously and pages its KV cache, so greedy or sampled decoding of a large
test set is several times faster than HF ``generate`` on the same GPU. Beam search stays
with the HF backend (BayLing's beam 5): vLLM's beam search is a separate, slower API whose
scores are not HF's. Adapters are applied by vLLM's LoRA support, not merged.

Before trusting it for a paper table, check on the GPU node that it agrees with the HF
backend (BLEU of vLLM's outputs against HF's on a fixed subset, greedy)::

    python -m bayling_pipeline.decode.vllm_engine check --model resources/models/llama-7b \
        --adapter results/finetune/bayling-7b/adapter \
        --source results/download/testsets/wmt22/zho_Hans-eng_Latn.source.txt \
        --pair zho_Hans-eng_Latn --segments 200 --min-bleu 90

It prints BLEU, chrF and the share of identical outputs, and exits with status 1 when BLEU
is below ``--min-bleu``. bf16 kernels differ between the two, so a few greedy paths split
late; a low BLEU means a real difference (template, stop tokens, adapter, dtype).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

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
    """vllm.SamplingParams arguments equivalent to the HF settings (bayling_pipeline.decode.translate
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
    bayling_pipeline.decode.translate.generate (token-id prompts in, raw texts out, input order)."""

    def __init__(self, model_dir: str, adapter_dir: str | None, trust_remote_code=False):
        vllm = require_vllm()
        from transformers import AutoTokenizer, GenerationConfig

        self.tokenizer = AutoTokenizer.from_pretrained(
            model_dir, trust_remote_code=trust_remote_code
        )
        # its EOS ids stop generation, as HF generate() takes them from the model
        self.generation_config = GenerationConfig.from_pretrained(model_dir)
        options = {"enable_lora": True, "max_lora_rank": lora_rank(adapter_dir)}
        self.llm = vllm.LLM(
            model=str(model_dir),
            dtype="bfloat16",
            trust_remote_code=trust_remote_code,
            **(options if adapter_dir else {}),
        )
        self.lora = None
        if adapter_dir:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest("adapter", 1, str(adapter_dir))

    def generate(self, prompts: list[list[int]], settings) -> list[str]:
        """Raw answers to token-id prompts, in input order."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        from bayling_pipeline.decode.translate import stopping

        ids, texts = stopping(self.tokenizer, self.generation_config, settings.chat_format)
        params = SamplingParams(**sampling_kwargs(settings, ids, texts))
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=p) for p in prompts],
            params,
            lora_request=self.lora,
            use_tqdm=sys.stderr.isatty(),
        )
        return [output.outputs[0].text for output in outputs]


def agreement(hf_texts: list[str], vllm_texts: list[str]) -> dict:
    """How close vLLM's outputs are to HF's: BLEU and chrF with HF's as the reference, and
    the share of identical outputs."""
    import sacrebleu

    if len(hf_texts) != len(vllm_texts):
        raise ValueError(f"{len(hf_texts)} HF outputs but {len(vllm_texts)} vLLM outputs")
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    return {
        "segments": len(hf_texts),
        "bleu": bleu.corpus_score(vllm_texts, [hf_texts]).score,
        "chrf": chrf.corpus_score(vllm_texts, [hf_texts]).score,
        "identical": sum(a == b for a, b in zip(hf_texts, vllm_texts, strict=True))
        / max(len(hf_texts), 1),
        "signature": str(bleu.get_signature()),
    }


def check_equivalence(args: argparse.Namespace) -> dict:
    """Decode the first ``--segments`` sentences greedily with both backends; compare."""
    from bayling_pipeline.decode import translate as decode
    from bayling_pipeline.io import read_lines

    settings = dataclasses.replace(decode.settings_from_args(args), temperature=0.0, num_beams=1)
    sources = read_lines(args.source)[: args.segments]
    outputs = {}
    for backend in ("hf", "vllm"):
        loaded = decode.load(args.model, args.adapter or None, backend, args.trust_remote_code)
        prompts = decode.translation_prompts(loaded.tokenizer, sources, args.pair, settings)
        raw = decode.generate_texts(loaded, prompts, dataclasses.replace(settings, backend=backend))
        outputs[backend] = decode.clean_all(raw, settings.postprocess)[0]
        del loaded  # free the GPU for the other backend
    result = agreement(outputs["hf"], outputs["vllm"])
    result["min_bleu"] = args.min_bleu
    result["passed"] = result["bleu"] >= args.min_bleu
    return result


def main(argv: list[str] | None = None) -> None:
    from bayling_pipeline.decode import translate as decode

    parser = argparse.ArgumentParser(description="vLLM backend checks")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="BLEU of vLLM vs HF outputs on a fixed subset")
    check.add_argument("--model", required=True)
    check.add_argument("--adapter", default="")
    check.add_argument("--source", required=True)
    check.add_argument("--pair", required=True)
    check.add_argument("--template", default=decode.Settings.template)
    check.add_argument("--chat-format", default=decode.Settings.chat_format)
    check.add_argument("--postprocess", default=decode.Settings.postprocess)
    check.add_argument("--batch-size", type=int, default=32)
    check.add_argument("--max-new-tokens", type=int, default=256)
    check.add_argument("--segments", type=int, default=200, help="first N sentences")
    check.add_argument("--min-bleu", type=float, default=90.0)
    check.add_argument("--trust-remote-code", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    result = check_equivalence(args)
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()

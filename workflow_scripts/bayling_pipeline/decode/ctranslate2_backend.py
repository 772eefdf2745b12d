"""The CTranslate2 backend of the decode stage (``decoding.backend: ctranslate2``), on CPUs
and GPUs.

CTranslate2 is an inference engine for Transformer models (Llama-family decoders among
them) with its own CPU and CUDA kernels, beam search, int8 / bfloat16 weights and a KV
cache that shrinks as beams finish. It decodes a converted model
(:mod:`bayling_pipeline.decode.convert`, rule ``decode_convert``, the adapter merged in);
a job given a Hugging Face folder instead converts it into a temporary folder first.

What it does as the hf backend does: the same prompt token ids (the converted folder holds
the source's tokenizer files), the same length-sorted batches and partial file of finished
batches (bayling_pipeline.decode.resume), the same end tokens (the model's EOS ids and the
chat format's end-of-turn token) and the same cleaning. Beam search scores a finished
hypothesis as HF does, sum of log-probabilities over generated tokens, end token included,
divided by that length ** length_penalty (the model's generation config, 1.0 by default).
What differs: HF stops a beam search when no running beam can beat the worst of
``num_beams`` finished ones by its heuristic; CTranslate2 stops once ``num_beams x
PATIENCE`` hypotheses have finished, so a longer hypothesis that HF finds late (or misses)
can differ. tests/unit/decode/test_ctranslate2.py measures the agreement. Sampling draws
from the same distribution but with CTranslate2's own random numbers; end-of-turn markers
that are text, not a token, are cut off after generation instead of stopping it.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import weakref

from bayling_pipeline.decode.convert import (
    conversion_quantization,
    convert,
    is_converted,
    verify,
)
from bayling_pipeline.prompts.generation import plan_batches, stopping

log = logging.getLogger(__name__)

# CTranslate2 finishes a beam search after num_beams x PATIENCE finished hypotheses; HF
# goes on while a running beam might still win. Chosen by the agreement with HF on the
# equivalence set (docs/finetune-and-decode.md, decoding.backend)
PATIENCE = 4.0


def resolve_compute_type(compute_type: str, device: str) -> str:
    """What CTranslate2 computes in: ``auto`` as the hf backend (float32 on the CPU,
    bfloat16 on a GPU), else the configured type."""
    if compute_type == "auto":
        return "float32" if device == "cpu" else "bfloat16"
    return compute_type


def generation_options(settings, end_ids: list[int], generation_config=None) -> dict:
    """Generator.generate_batch arguments for the decode Settings, matching HF generate():
    greedy or beam search (temperature 0) or sampling, at most max_new_tokens generated,
    the end token kept in the hypothesis so that beam scores are normalized by the same
    length as HF's, and the repetition settings of the model's generation config."""
    config = generation_config
    options = {
        "max_length": settings.max_new_tokens,
        "include_prompt_in_result": False,  # the prompt is forwarded at once, not returned
        "end_token": list(end_ids),
        "return_end_token": True,
        "beam_size": settings.num_beams,
        "patience": PATIENCE,
        "length_penalty": float(getattr(config, "length_penalty", None) or 1.0),
        "repetition_penalty": float(getattr(config, "repetition_penalty", None) or 1.0),
        "no_repeat_ngram_size": int(getattr(config, "no_repeat_ngram_size", None) or 0),
    }
    if settings.temperature > 0:
        options |= {
            "sampling_topk": 0,  # the whole vocabulary, nucleus-limited by top_p
            "sampling_topp": settings.top_p,
            "sampling_temperature": settings.temperature,
        }
    return options


class Engine:
    """A CTranslate2 generator with the tokenizer and generation config of a converted
    folder; ``generate`` mirrors bayling_pipeline.prompts.generation.generate (token-id
    prompts in, raw texts out in input order, resumable batches)."""

    def __init__(
        self,
        model_dir: str,
        adapter_dir: str | None = None,
        compute_type: str = "auto",
        threads: int | None = None,
        trust_remote_code: bool = False,
    ):
        import ctranslate2
        from transformers import AutoTokenizer, GenerationConfig

        if adapter_dir or not is_converted(model_dir):
            model_dir = self._convert_here(model_dir, adapter_dir, compute_type, trust_remote_code)
        self.manifest = verify(model_dir)
        self.device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.compute_type = resolve_compute_type(compute_type, self.device)
        self.generator = ctranslate2.Generator(
            str(model_dir),
            device=self.device,
            compute_type=self.compute_type,
            intra_threads=threads or 0,  # 0: CTranslate2's default
        )
        self.tokenizer = AutoTokenizer.from_pretrained(
            model_dir, trust_remote_code=trust_remote_code
        )
        try:
            self.generation_config = GenerationConfig.from_pretrained(model_dir)
        except OSError:  # no generation_config.json: HF's defaults
            self.generation_config = GenerationConfig()

    def _convert_here(self, model_dir, adapter_dir, compute_type, trust_remote_code) -> str:
        """Convert an HF folder (adapter merged) into a temporary folder removed with this
        engine: for commands run on a checkpoint directly; the workflow converts once."""
        log.warning(
            "%s: not converted for CTranslate2; converting it for this job only (the rule "
            "decode_convert converts once and caches)",
            model_dir,
        )
        folder = tempfile.mkdtemp(prefix="ctranslate2-")
        weakref.finalize(self, _remove, folder)
        output = f"{folder}/model"
        quantization = conversion_quantization(compute_type)
        convert(model_dir, adapter_dir, quantization, output, trust_remote_code=trust_remote_code)
        return output

    def info(self) -> dict:
        """What the metadata records about the engine and the converted model."""
        import ctranslate2

        return {
            "backend": "ctranslate2",
            "ctranslate2": ctranslate2.__version__,
            "compute_type": self.compute_type,
            "quantization": self.manifest["quantization"],
            "converted_from": self.manifest["source"],
            "patience": PATIENCE,
        }

    def generate(self, prompts: list[list[int]], settings, batch_log=None) -> list[str]:
        """Raw answers to token-id prompts, in input order, batch by batch as the hf
        backend plans them (resuming the batches ``batch_log`` holds)."""
        from tqdm import tqdm

        end_ids, stop_texts = stopping(self.tokenizer, self.generation_config, settings.chat_format)
        options = generation_options(settings, end_ids, self.generation_config)
        batches = plan_batches(
            [len(p) for p in prompts], settings.batch_size, settings.batch_tokens
        )
        done = batch_log.load() if batch_log else {}
        outputs = [""] * len(prompts)
        bar = tqdm(batches, desc="decode", disable=not sys.stderr.isatty())
        for number, batch in enumerate(bar):
            if number in done and done[number][0] == batch:
                texts = done[number][1]
            else:
                if settings.temperature > 0:
                    import ctranslate2

                    # one seed per batch, as the hf backend: a resumed run samples alike
                    ctranslate2.set_random_seed(settings.seed + number)
                texts = self._generate_batch([prompts[i] for i in batch], options, end_ids)
                # a textual end-of-turn marker: the answer is what precedes it
                texts = [
                    min((t.split(m)[0] for m in stop_texts), key=len, default=t) for t in texts
                ]
                if batch_log:
                    batch_log.commit(number, batch, texts)
            for index, text in zip(batch, texts, strict=True):
                outputs[index] = text
        return outputs

    def _generate_batch(self, prompts: list[list[int]], options: dict, end_ids) -> list[str]:
        tokens = [self.tokenizer.convert_ids_to_tokens(p) for p in prompts]
        results = self.generator.generate_batch(tokens, **options)
        texts = []
        for result in results:
            ids = list(result.sequences_ids[0])
            if ids and ids[-1] in end_ids:
                ids = ids[:-1]  # returned only for the length HF normalizes by
            texts.append(self.tokenizer.decode(ids, skip_special_tokens=True))
        return texts


def _remove(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)

"""Convert a model (a LoRA adapter merged in) to CTranslate2's format, for
``decoding.backend: ctranslate2``: verified, written atomically and cached by content.

Run by the rule ``decode_convert``; by hand::

    python -m bayling_pipeline.decode.convert --model resources/models/smollm2-135m \
        --adapter results/finetune/bayling-smollm2/adapter --quantization float32 \
        --output resources/ctranslate2/bayling-smollm2/float32

The output holds CTranslate2's ``model.bin``, ``config.json`` and vocabulary, the source's
tokenizer and generation files copied byte for byte (so prompts are the same token ids as
the hf backend's), and :data:`MANIFEST`: the source's content digest, the quantization, the
library versions, a numerical check against the source model and the size and SHA-256 of
every file, which :func:`verify` checks before a decoding job loads the folder.

The check: the converted model's next-token log-probabilities over a probe text against
the source model's (transformers, float32): in float32 the same argmax at every position
and at most ``FLOAT32_TOLERANCE`` apart; quantized (bfloat16, float16, int8) the argmax
agreement is recorded and a conversion below ``QUANTIZED_AGREEMENT`` is refused.

The cache (``--cache-dir``): a conversion is stored under a key of (source digest,
quantization, CTranslate2 version) and hard-linked into the output, so a rerun of the rule
(an input touched, the results folder cleaned) or a second system with the same weights
costs a digest, not a conversion. Writers hold a lock and write to a unique temporary name.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import shutil
import sys
from pathlib import Path

from bayling_pipeline.cli import UserError, at_least, run_cli
from bayling_pipeline.io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

MANIFEST = "ctranslate2_manifest.json"
QUANTIZATIONS = ("float32", "bfloat16", "float16", "int8")
# a probe in two scripts; its log-probabilities are compared position by position
PROBE = "Translate into German: The weather is nice today. 今天天气很好。"
FLOAT32_TOLERANCE = 1e-2  # max |log p difference| of a float32 conversion
QUANTIZED_AGREEMENT = 0.8  # least share of equal argmaxes of a quantized conversion
# source files that the conversion replaces (weights, the model config)
_NOT_COPIED = ("config.json", "*.safetensors", "*.safetensors.index.json", "*.bin", "*.pt")


def conversion_quantization(compute_type: str) -> str:
    """The weight type a ``decoding.compute_type`` needs converted: int8 types share int8
    weights (the type of the other layers is chosen at load time); auto is float32."""
    if compute_type in ("auto", "float32"):
        return "float32"
    if compute_type.startswith("int8"):
        return "int8"
    return compute_type


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 23), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_files(folder: str | os.PathLike) -> dict[str, dict]:
    """{relative path: {size, sha256}} of every file of a folder but the manifest."""
    folder = Path(folder)
    return {
        str(path.relative_to(folder)): {"size": path.stat().st_size, "sha256": file_sha256(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def source_digest(model_dir, adapter_dir=None) -> str:
    """SHA-256 over the contents of every file of the model (and adapter) folder: a
    retrained adapter or restaged model is another source, a touched one is not."""
    digest = hashlib.sha256()
    for role, folder in (("model", model_dir), ("adapter", adapter_dir)):
        if folder:
            for name, entry in folder_files(folder).items():
                digest.update(f"{role}/{name}:{entry['sha256']}\n".encode())
    return digest.hexdigest()


def is_converted(folder) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def verify(folder) -> dict:
    """The manifest of a converted folder, after checking every file's size and digest
    against it; UserError naming what differs (a torn copy, an edited file)."""
    folder = Path(folder)
    if not is_converted(folder):
        raise UserError(
            f"{folder}: not a CTranslate2 conversion of this workflow (no {MANIFEST}); "
            "convert it with python -m bayling_pipeline.decode.convert (rule decode_convert)"
        )
    manifest = read_json(folder / MANIFEST)
    found = folder_files(folder)
    problems = [
        f"{name}: {'missing' if name not in found else 'changed'}"
        for name, entry in manifest["files"].items()
        if found.get(name) != entry
    ]
    problems += [f"{name}: not in the manifest" for name in set(found) - set(manifest["files"])]
    if problems:
        raise UserError(
            f"{folder}: does not match its {MANIFEST} ({'; '.join(sorted(problems))}); "
            "delete the folder and convert again"
        )
    return manifest


def convert(
    model_dir,
    adapter_dir,
    quantization: str,
    output,
    cache_dir=None,
    trust_remote_code: bool = False,
    check: bool = True,
) -> dict:
    """Convert ``model_dir`` (+ ``adapter_dir``, merged) to ``output`` (atomically); with
    ``cache_dir``, reuse or fill the cached conversion of the same content. The manifest."""
    if quantization not in QUANTIZATIONS:
        raise UserError(f"quantization {quantization!r}: known are {', '.join(QUANTIZATIONS)}")
    import ctranslate2

    source = source_digest(model_dir, adapter_dir)
    key = hashlib.sha256(f"{source}:{quantization}:{ctranslate2.__version__}".encode())
    cached = Path(cache_dir) / key.hexdigest()[:24] if cache_dir else None
    with _locked(cached):
        if cached is not None and cached.is_dir():
            try:
                manifest = verify(cached)
                log.info("%s: the cached conversion %s", output, cached)
                with atomic_path(output) as tmp:
                    _link_tree(cached, tmp)
                return manifest
            except UserError as error:
                log.warning("%s; converting again", error)
        with atomic_path(output) as tmp:
            manifest = _convert_into(
                tmp, model_dir, adapter_dir, quantization, trust_remote_code, check
            )
            manifest["source"]["digest"] = source
            write_json(tmp / MANIFEST, manifest)
        if cached is not None:
            with atomic_path(cached) as tmp:
                _link_tree(output, tmp)
    return manifest


@contextlib.contextmanager
def _locked(cached: Path | None):
    """Hold an exclusive lock on the cache entry (none without a cache)."""
    if cached is None:
        yield
        return
    import fcntl

    cached.parent.mkdir(parents=True, exist_ok=True)
    with open(cached.with_name(cached.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _link_tree(source: Path, target: Path) -> None:
    """Copy a folder as hard links (no second copy of the weights), or as files where the
    two are on different file systems."""

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)


def _convert_into(tmp: Path, model_dir, adapter_dir, quantization, trust_remote_code, check):
    """CTranslate2's conversion into ``tmp``, the source's tokenizer files copied, checked
    against the source model; the manifest (without the source digest)."""
    import ctranslate2
    import transformers

    converter = _converter_class()(str(model_dir), adapter_dir, trust_remote_code)
    converter.convert(str(tmp), quantization=quantization, force=True)
    for path in sorted(Path(model_dir).iterdir()):
        written = (tmp / path.name).exists()  # CTranslate2's own files win
        if path.is_file() and not written and not any(path.match(p) for p in _NOT_COPIED):
            shutil.copy2(path, tmp / path.name)
    result = _check(converter.probe_ids, converter.reference, tmp, quantization) if check else {}
    return {
        "source": {"model": str(model_dir), "adapter": str(adapter_dir) if adapter_dir else None},
        "quantization": quantization,
        "ctranslate2": ctranslate2.__version__,
        "transformers": transformers.__version__,
        "check": result,
        "files": folder_files(tmp),
    }


def _converter_class():
    """CTranslate2's transformers converter, merging a LoRA adapter into the loaded model
    (in float32, as the hf backend merges on the CPU) and keeping the source model's
    log-probabilities on the probe for the check (the conversion takes the model apart)."""
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):
        def __init__(self, model_dir, adapter_dir, trust_remote_code):
            super().__init__(model_dir, trust_remote_code=trust_remote_code)
            self.adapter_dir = adapter_dir
            self.probe_ids = self.reference = None

        def load_model(self, model_class, model_name_or_path, **kwargs):
            import torch
            from transformers import AutoTokenizer

            kwargs["dtype"] = torch.float32  # merged and checked in float32
            model = model_class.from_pretrained(model_name_or_path, **kwargs)
            if self.adapter_dir:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, self.adapter_dir).merge_and_unload()
            # the tokenizer the hf backend loads (the model folder's), as the converter does
            tokenizer = AutoTokenizer.from_pretrained(
                model_name_or_path, trust_remote_code=self._trust_remote_code
            )
            self.probe_ids = tokenizer(PROBE)["input_ids"]
            with torch.inference_mode():
                logits = model.eval()(torch.tensor([self.probe_ids])).logits[0].float()
            self.reference = torch.log_softmax(logits, dim=-1).numpy()
            return model

    return Converter


def _check(ids: list[int], reference, folder: Path, quantization: str) -> dict:
    """The converted model's next-token log-probabilities on :data:`PROBE` (token ``ids``)
    against the source model's (``reference``, positions x vocabulary); UserError when
    they disagree beyond what the quantization explains."""
    import ctranslate2
    import numpy as np

    compute_type = "int8_float32" if quantization == "int8" else "float32"  # runs on any CPU
    generator = ctranslate2.Generator(str(folder), device="cpu", compute_type=compute_type)
    converted = np.array(generator.forward_batch([ids], return_log_probs=True))[0]
    del generator
    result = {
        "probe_tokens": len(ids),
        "compute_type": compute_type,
        "argmax_agreement": float(np.mean(converted.argmax(-1) == reference.argmax(-1))),
        "max_abs_logprob_diff": float(np.abs(converted - reference).max()),
    }
    exact = quantization == "float32"
    failed = (
        result["argmax_agreement"] < 1.0 or result["max_abs_logprob_diff"] > FLOAT32_TOLERANCE
        if exact
        else result["argmax_agreement"] < QUANTIZED_AGREEMENT
    )
    if failed:
        raise UserError(
            f"the {quantization} conversion disagrees with its source model on a probe "
            f"text ({result}); CTranslate2 may not support this architecture correctly"
        )
    log.info("conversion check: %s", result)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the model folder (HF checkpoint)")
    parser.add_argument("--adapter", default="", help="a LoRA adapter to merge ('' = none)")
    parser.add_argument("--quantization", choices=QUANTIZATIONS, default="float32")
    parser.add_argument("--output", required=True, help="the converted folder to create")
    parser.add_argument("--cache-dir", default="", help="content-keyed cache ('' = none)")
    parser.add_argument("--threads", type=at_least(1), default=None)
    parser.add_argument("--trust-remote-code", action="store_true")
    args = parser.parse_args(argv)
    from bayling_pipeline.prompts.generation import check_model_folder

    check_model_folder(args.model, "--model")
    if args.adapter:
        check_model_folder(args.adapter, "--adapter", adapter=True)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    convert(
        args.model,
        args.adapter or None,
        args.quantization,
        args.output,
        cache_dir=args.cache_dir or None,
        trust_remote_code=args.trust_remote_code,
    )


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.decode.convert")

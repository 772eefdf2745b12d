"""Models released as weight deltas: target = base + delta, verified, tensor by tensor.

BayLing v1.0's weights were released as deltas against LLaMA (every tensor of BayLing minus
the same tensor of LLaMA; ``apply_delta.py`` in BayLing's repository adds them back in
float16). Added to the wrong base, such a delta yields a model that loads and generates
garbage without a word of complaint; here a wrong base is an error:

* names and shapes first, before any arithmetic: every delta tensor needs a base tensor of
  the same shape, and neither side may have tensors the other lacks (the first few
  mismatches are named, with their shapes);
* then a digest of the resulting state dict, compared with the one the model entry pins
  (``sha256``), or else with the one the lock file recorded on the first build.

The digest (``state_dict_digest``) is stable whatever the shard layout, storage format or
order of the tensors: sha256 over the lines ``<tensor digest>  <name>`` in sorted name
order, each tensor digest the sha256 of ``name``, dtype, shape and the raw (little-endian)
bytes. ``digest DIR`` prints it for any checkpoint: a trusted copy made by BayLing's own
script (the same float16 sums) gives the pin. The weights the delta was taken from need
not: (target - base) + base is rounded, so its bytes can differ in the last bit.

Memory: tensors are read lazily (safetensors and memory-mapped PyTorch pickles), added in
the delta's dtype (float16 for BayLing, as its own script does), and written as output
shards of at most ``--max-shard-gb``, so a 13B model needs about one output shard of RAM,
not two models' worth. Rule ``finetune_prepare_base`` runs it for models of source
``delta``; by hand::

    python -m bayling_pipeline.finetune.weight_delta apply --base resources/models/llama-7b \\
        --spec-json '{"source": "delta", "base": "llama-7b", "path": "bayling-7b-diff", \\
        "sha256": null}' --output resources/models/bayling-7b-v1
    python -m bayling_pipeline.finetune.weight_delta digest resources/models/bayling-7b-v1
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import types
from pathlib import Path

from bayling_pipeline.cli import UserError, input_folder, json_object, run_cli
from bayling_pipeline.download import fetch
from bayling_pipeline.finetune.prepare_base import fix_special_tokens
from bayling_pipeline.finetune.weight_files import (
    Shards,
    TensorInfo,
    is_recomputed,
    plan_shards,
    scan,
    shard_file,
)
from bayling_pipeline.io import atomic_path, write_json

log = logging.getLogger(__name__)

WRONG_BASE = "the base is not the one this delta was made against"
MAX_SHARD_BYTES = 2 << 30  # peak RAM of the job is about one output shard
SHOWN = 5  # mismatches named in an error


class DeltaError(ValueError):
    """A delta that cannot be applied to this base, or a result that fails its digest."""


# --- verification ----------------------------------------------------------------------


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def compatibility_problems(base: dict[str, TensorInfo], delta: dict[str, TensorInfo]) -> list[str]:
    """What keeps ``delta`` from applying to ``base``: shape mismatches, tensors one side
    lacks (each with the first few names); empty when every tensor pairs up."""
    shared = sorted(set(base) & set(delta))
    mismatched = [
        f"{name}: base {list(base[name].shape)}, delta {list(delta[name].shape)}"
        for name in shared
        if base[name].shape != delta[name].shape
    ]
    problems = []
    if mismatched:
        problems.append(f"{len(mismatched)} tensor(s) differ in shape ({_listed(mismatched)})")
    for where, names in (("base", set(delta) - set(base)), ("delta", set(base) - set(delta))):
        if names:
            problems.append(f"the {where} lacks {len(names)} tensor(s) ({_listed(sorted(names))})")
    return problems


def check_compatible(base: dict[str, TensorInfo], delta: dict[str, TensorInfo]) -> None:
    """Raise DeltaError, saying the base is the wrong one, unless every tensor pairs up."""
    problems = compatibility_problems(base, delta)
    if problems:
        raise DeltaError(f"{WRONG_BASE}: " + "; ".join(problems))


def check_digest(actual: str, expected: str | None, pinned_by: str) -> None:
    """Raise DeltaError when the applied weights' digest is not the pinned one."""
    if expected and actual != expected:
        raise DeltaError(
            f"{WRONG_BASE} (or the pin is wrong): base + delta has state-dict digest "
            f"{actual}, but {pinned_by} pins {expected}; every tensor name and shape "
            "matched, so the base has the right architecture and different weights"
        )


# --- digests ---------------------------------------------------------------------------


def tensor_digest(name: str, tensor) -> str:
    """sha256 of a tensor's name, dtype, shape and raw bytes."""
    import torch

    dtype = str(tensor.dtype).removeprefix("torch.")
    digest = hashlib.sha256(f"{name}\n{dtype}\n{','.join(map(str, tensor.shape))}\n".encode())
    # the raw bytes through a uint8 view: works for bfloat16 too, which numpy cannot hold
    digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def combined_digest(tensor_digests: dict[str, str]) -> str:
    """The state-dict digest from its tensors' digests (any order in, sorted by name)."""
    lines = "".join(f"{tensor_digests[name]}  {name}\n" for name in sorted(tensor_digests))
    return hashlib.sha256(lines.encode()).hexdigest()


def state_dict_digest(state_dict: dict) -> str:
    """The digest of a name -> tensor mapping (recomputed buffers left out)."""
    return combined_digest(
        {name: tensor_digest(name, t) for name, t in state_dict.items() if not is_recomputed(name)}
    )


def checkpoint_digest(folder: str | Path) -> str:
    """The state-dict digest of a checkpoint folder, read one tensor at a time."""
    infos, _ = scan(folder)
    shards = Shards(keep=1)
    return combined_digest(
        {name: tensor_digest(name, shards[info.shard].tensor(name)) for name, info in infos.items()}
    )


# --- applying --------------------------------------------------------------------------


def apply_delta(
    base_dir: str | Path, delta_dir: str | Path, out_dir: str | Path, max_shard_bytes: int
) -> dict:
    """Write the weights base + delta into the existing folder ``out_dir`` as safetensors
    shards; return their digest and counts. Refuses (DeltaError) before any arithmetic when
    names or shapes do not pair up."""
    from safetensors.torch import save_file
    from tqdm import tqdm

    base, _ = scan(base_dir)
    delta, dropped = scan(delta_dir)
    check_compatible(base, delta)
    plan = plan_shards(delta, max_shard_bytes)
    base_shards, delta_shards = Shards(), Shards(keep=1)  # the plan reads the delta in order
    digests, weight_map, dtypes, parameters, total = {}, {}, set(), 0, 0
    with tqdm(total=len(delta), desc="base + delta", unit="tensor", disable=None) as bar:
        for index, names in enumerate(plan, start=1):
            tensors = {}
            for name in names:
                change = delta_shards[delta[name].shard].tensor(name)
                if not change.is_floating_point():
                    raise DeltaError(f"delta tensor {name} is {change.dtype}, not a float type")
                # in the delta's dtype: float16 for BayLing, the arithmetic of its own script
                result = change + base_shards[base[name].shard].tensor(name).to(change.dtype)
                tensors[name], digests[name] = result, tensor_digest(name, result)
                dtypes.add(str(result.dtype).removeprefix("torch."))
                parameters += result.numel()
                total += result.numel() * result.element_size()
                bar.update()
            filename = shard_file(index, len(plan))
            save_file(tensors, str(Path(out_dir) / filename), metadata={"format": "pt"})
            weight_map.update(dict.fromkeys(names, filename))
            del tensors  # before the next shard's tensors: one output shard in memory
    if len(plan) > 1:
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        write_json(Path(out_dir) / "model.safetensors.index.json", index)
    return {
        "sha256": combined_digest(digests),
        "tensors": len(digests),
        "parameters": parameters,
        "bytes": total,
        "dtypes": sorted(dtypes),
        "dropped_buffers": len(dropped),
    }


# --- a model entry of source delta ------------------------------------------------------

# what a delta repository needs to become a model: weights, config, tokenizer
DELTA_FILES = ["*.json", "*.safetensors", "*.bin", "*.model", "*.txt"]


def delta_location(spec: dict, settings: fetch.Settings) -> tuple[Path, str]:
    """The local folder of an entry's delta (a hub repository is fetched first, as the
    download stage fetches: its cache, offline switch) and the delta's lock-file key."""
    if spec.get("path"):
        folder = Path(spec["path"]).expanduser()
        if not folder.is_dir():
            raise DeltaError(f"the delta folder {folder} does not exist")
        return folder, f"weight-delta:{spec['path']}"
    repo, revision = spec["repo"], spec["revision"]
    with fetch.using(settings):
        folder = fetch.hf_snapshot(repo, revision, repo_type="model", allow=DELTA_FILES)
    return folder, f"weight-delta:hf://models/{repo}@{revision}"


def save_config_and_tokenizer(spec: dict, delta_dir: Path, out_dir: Path) -> dict:
    """Copy the delta's config, generation config and tokenizer (as BayLing's script does),
    with the entry's token fixes; return what the provenance records of them."""
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    trust = bool(spec.get("trust_remote_code", False))
    config = AutoConfig.from_pretrained(delta_dir, trust_remote_code=trust)
    try:
        generation = GenerationConfig.from_pretrained(delta_dir)
    except OSError:  # older checkpoints keep their generation settings in config.json
        generation = GenerationConfig.from_model_config(config)
    tokenizer = AutoTokenizer.from_pretrained(delta_dir, trust_remote_code=trust)
    # the token fixes touch a model's config and generation config only: no need to load
    # the weights for them, the two configs stand in for the model
    configs = types.SimpleNamespace(config=config, generation_config=generation)
    eos, pad = spec.get("eos_token"), spec.get("pad_token")
    fix_special_tokens(configs, tokenizer, eos, pad, require_chat_template=False)
    if tokenizer.chat_template is None:  # BayLing's: it predates chat templates
        log.warning(
            "the tokenizer has no chat template: decode and fine-tune this model with an "
            "explicit chat_format (BayLing's is bayling), not model"
        )
    config.save_pretrained(out_dir)
    generation.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    architecture = (config.architectures or [config.model_type])[0]
    return {
        "architecture": architecture,
        "eos_token": tokenizer.eos_token,
        "pad_token": tokenizer.pad_token,
    }


def stage_delta_model(
    spec: dict,
    output: str | Path,
    base_dir: str | Path,
    settings: fetch.Settings | None = None,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> dict:
    """Write the model of a ``source: delta`` entry (base + delta, the delta's config and
    tokenizer) to ``output``, verified; return its provenance. ``base_dir`` is the staged
    base model. An unpinned entry (``sha256: null``) is checked against the digest the
    lock file recorded, or on its first build records it there."""
    settings = settings or fetch.Settings()
    delta_dir, key = delta_location(spec, settings)
    pinned = spec.get("sha256")
    expected = pinned or fetch.locked_digest(key, settings)
    pinned_by = "the model entry's sha256" if pinned else f"{settings.lock} ({key})"
    with atomic_path(output) as tmp:
        tmp.mkdir()
        applied = apply_delta(base_dir, delta_dir, tmp, max_shard_bytes)
        check_digest(applied["sha256"], expected, pinned_by)
        provenance = {
            "spec": spec,
            "base": str(base_dir),
            "delta": str(delta_dir),
            **applied,
            **save_config_and_tokenizer(spec, delta_dir, tmp),
            "pinned": "config" if pinned else "lock file" if expected else "first build",
        }
        write_json(tmp / "provenance.json", provenance)
    if not pinned:
        fetch.record_digest(key, applied["sha256"], applied["bytes"], settings)
    if expected:
        log.info("%s: digest %s as %s pins", output, applied["sha256"], pinned_by)
    else:  # only names and shapes were checked
        log.warning(
            "%s: first build of %s, digest %s recorded in %s; pin it (sha256) once the "
            "model is known good",
            output, key, applied["sha256"], settings.lock or "no lock file (unverified)",
        )  # fmt: skip
    return provenance


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    apply = commands.add_parser("apply", help="stage a model entry of source delta")
    apply.add_argument(
        "--spec-json", required=True, type=json_object, help="the model entry of config.yaml"
    )
    apply.add_argument(
        "--base", required=True, type=input_folder, help="the staged base model folder"
    )
    apply.add_argument("--output", required=True, help="model folder to create")
    apply.add_argument("--lock", default=fetch.Settings.lock, help="'' for no lock file")
    apply.add_argument("--cache", default=fetch.Settings.cache, help="download cache")
    apply.add_argument("--offline", action="store_true", help="never fetch the delta")
    apply.add_argument("--max-shard-gb", type=float, default=MAX_SHARD_BYTES / 2**30)
    digest = commands.add_parser("digest", help="print a checkpoint's state-dict digest")
    digest.add_argument("folder", type=input_folder)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.command == "digest":
        print(checkpoint_digest(args.folder))
        return
    settings = fetch.Settings(cache=args.cache, lock=args.lock or None, offline=args.offline)
    spec, max_bytes = args.spec_json, int(args.max_shard_gb * 2**30)
    if max_bytes <= 0:
        raise UserError(f"--max-shard-gb must be positive, got {args.max_shard_gb}")
    provenance = stage_delta_model(spec, args.output, args.base, settings, max_bytes)
    log.info(
        "wrote %s: %d tensors, sha256 %s", args.output, provenance["tensors"], provenance["sha256"]
    )


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.finetune.weight_delta")

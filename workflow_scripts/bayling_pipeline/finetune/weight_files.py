"""Read a Hugging Face checkpoint's tensors one at a time, and lay out the shards of one.

Weight files are safetensors or PyTorch pickles, one file or several with an index;
tensors are read lazily (safetensors' header and memory map, ``torch.load(mmap=True)``), so
a tool that walks a 13B model tensor by tensor never holds it whole. Used by
:mod:`bayling_pipeline.finetune.weight_delta`.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from pathlib import Path

from bayling_pipeline.io import read_json

# Buffers that transformers before 4.31 saved with Llama weights (BayLing's delta has them)
# and that models recompute at load time: not weights, so neither compared nor written.
RECOMPUTED_BUFFERS = (".rotary_emb.inv_freq",)
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")
# bytes per element of safetensors dtype codes (the header says the code, not the size)
SAFETENSORS_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2,
                     "BF16": 2, "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1,
                     "F8_E4M3": 1, "F8_E5M2": 1}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """Where a tensor is and how big, from the file's header."""

    shape: tuple[int, ...]
    nbytes: int
    shard: Path


def weight_files(folder: str | Path) -> list[Path]:
    """The weight files of a Hugging Face checkpoint folder (sharded or not), safetensors
    preferred when a folder has both formats."""
    folder = Path(folder)
    for name in INDEX_FILES:
        if (folder / name).is_file():
            shards = sorted(set(read_json(folder / name)["weight_map"].values()))
            return [folder / shard for shard in shards]
    for name in SINGLE_FILES:
        if (folder / name).is_file():
            return [folder / name]
    raise FileNotFoundError(f"{folder}: no weights ({', '.join(SINGLE_FILES + INDEX_FILES)})")


class Shard:
    """One weight file whose tensors are read when asked for: safetensors through
    ``safe_open``, PyTorch pickles memory-mapped (``torch.load(mmap=True)``)."""

    def __init__(self, path: Path):
        self.path = path
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            self._file, self._tensors = safe_open(str(path), framework="pt", device="cpu"), None
        else:
            import torch

            self._file = None
            try:
                self._tensors = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
            except RuntimeError:  # a pre-1.6 (non-zip) pickle cannot be mapped: read it whole
                self._tensors = torch.load(path, map_location="cpu", weights_only=True)

    def names(self) -> list[str]:
        return list(self._file.keys() if self._file is not None else self._tensors)

    def info(self, name: str) -> TensorInfo:
        if self._file is not None:  # from the header: no tensor data is read
            part = self._file.get_slice(name)
            shape = tuple(part.get_shape())
            return TensorInfo(
                shape, math.prod(shape) * SAFETENSORS_BYTES[part.get_dtype()], self.path
            )
        tensor = self._tensors[name]
        return TensorInfo(tuple(tensor.shape), tensor.numel() * tensor.element_size(), self.path)

    def tensor(self, name: str):
        return self._file.get_tensor(name) if self._file is not None else self._tensors[name]


class Shards:
    """Open shards by path, at most ``keep`` at once (None: all), oldest closed first."""

    def __init__(self, keep: int | None = None):
        self.keep, self._open = keep, OrderedDict()

    def __getitem__(self, path: Path) -> Shard:
        if path not in self._open:
            if self.keep is not None and len(self._open) >= self.keep:
                self._open.popitem(last=False)
            self._open[path] = Shard(path)
        return self._open[path]


def is_recomputed(name: str) -> bool:
    return name.endswith(RECOMPUTED_BUFFERS)


def scan(folder: str | Path) -> tuple[dict[str, TensorInfo], list[str]]:
    """Name -> shape, size and shard of every weight of a checkpoint, in shard order;
    and the names of the recomputed buffers left out. Reads headers, not tensor data."""
    infos, dropped = {}, []
    for path in weight_files(folder):
        shard = Shard(path)
        for name in sorted(shard.names()):
            if is_recomputed(name):
                dropped.append(name)
            else:
                infos[name] = shard.info(name)
    return infos, dropped


# --- writing -------------------------------------------------------------------------


def plan_shards(infos: dict[str, TensorInfo], max_bytes: int) -> list[list[str]]:
    """Tensor names grouped into output shards of at most ``max_bytes`` each (a larger
    tensor alone), in the order of ``infos``, so the delta is read one shard after another."""
    plan, size = [[]], 0
    for name, info in infos.items():
        if plan[-1] and size + info.nbytes > max_bytes:
            plan.append([])
            size = 0
        plan[-1].append(name)
        size += info.nbytes
    return [names for names in plan if names]


def shard_file(index: int, count: int) -> str:
    """Output shard names as transformers writes them."""
    return "model.safetensors" if count == 1 else f"model-{index:05d}-of-{count:05d}.safetensors"

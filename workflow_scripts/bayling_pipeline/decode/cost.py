"""What a decoding job cost, recorded in its ``.meta.json`` under ``cost`` (every backend):
model load seconds, generation seconds, sentences/s, generated tokens/s, peak memory.

Generated tokens are counted by encoding the raw answers again with the model's tokenizer
(stop tokens not counted): the same count for every backend and for batches resumed from
a partial file, whose token ids are not kept. Peak memory is the process's peak resident
set (``ru_maxrss``, which counts the host memory of every backend) and, on a GPU, torch's
peak allocation (hf) or, for backends that allocate outside torch (ctranslate2, vllm),
the memory in use on the device after generation.
"""

from __future__ import annotations

import resource
import sys


def generated_tokens(tokenizer, texts: list[str]) -> int:
    """Tokens of the raw generated texts, as the tokenizer encodes them."""
    if not texts:
        return 0
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return sum(len(ids) for ids in encoded)


def peak_memory(torch_allocates: bool = True) -> dict:
    """``peak_rss_mb`` of this process and, where torch sees a GPU, ``cuda_peak_allocated_mb``
    (``torch_allocates``) or ``cuda_device_used_mb`` (another library's allocations)."""
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    memory = {"peak_rss_mb": round(rss_kb / (1024 if sys.platform != "darwin" else 1024**2), 1)}
    torch = sys.modules.get("torch")  # never imported here only to ask
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        if torch_allocates:
            memory["cuda_peak_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        else:
            free, total = torch.cuda.mem_get_info()
            memory["cuda_device_used_mb"] = round((total - free) / 2**20, 1)
    return memory


def cost_record(
    load_seconds: float,
    seconds: float,
    segments: int,
    tokens: int,
    torch_allocates: bool = True,
) -> dict:
    """The ``cost`` block of a decoding job's metadata."""
    return {
        "load_seconds": round(load_seconds, 3),
        "generate_seconds": round(seconds, 3),
        "segments": segments,
        "generated_tokens": tokens,
        "sentences_per_second": round(segments / seconds, 3) if seconds > 0 else None,
        "tokens_per_second": round(tokens / seconds, 2) if seconds > 0 else None,
        **peak_memory(torch_allocates),
    }


def merge_costs(costs: list[dict]) -> dict:
    """One ``cost`` block for shards decoded by separate jobs: times and counts summed
    (device time, not wall time), rates over the sums, memory the largest of any job."""
    total = {key: sum(c.get(key) or 0 for c in costs) for key in ("segments", "generated_tokens")}
    load = sum(c.get("load_seconds") or 0 for c in costs)
    seconds = sum(c.get("generate_seconds") or 0 for c in costs)
    merged = {
        "load_seconds": round(load, 3),
        "generate_seconds": round(seconds, 3),
        **total,
        "sentences_per_second": round(total["segments"] / seconds, 3) if seconds else None,
        "tokens_per_second": round(total["generated_tokens"] / seconds, 2) if seconds else None,
    }
    for key in ("peak_rss_mb", "cuda_peak_allocated_mb", "cuda_device_used_mb"):
        values = [c[key] for c in costs if c.get(key) is not None]
        if values:
            merged[key] = max(values)
    return merged

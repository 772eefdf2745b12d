"""Decoding settings: the ``decoding`` config section as a job's Settings, its checks
(``check_settings``, which rules/common.smk calls at parse time), the command-line options
of a decoding job, and the cleaning of generated outputs (one segment per line).

Safe to import at parse time: nothing here imports torch, transformers or vLLM, nor the
generation code.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

from bayling_pipeline.prompts.chat_formats import ACCEPTED as CHAT_FORMATS

POSTPROCESS_MODES = ("first_line", "join_lines")
BACKENDS = ("hf", "vllm", "ctranslate2")
# what backend ctranslate2 computes in (auto: float32 on the CPU, bfloat16 on a GPU, as hf);
# an int8 type quantizes the weights, which changes outputs: a system of its own
COMPUTE_TYPES = (
    "auto",
    "float32",
    "bfloat16",
    "float16",
    "int8",
    "int8_float32",
    "int8_bfloat16",
    "int8_float16",
)
# options of both decoding commands that are passed (and recorded) only when they differ
# from these defaults, so that the commands and records of other runs stay as they were
ENGINE_DEFAULTS = {"compute_type": "auto", "batch_tokens": 0}
# the options of `python -m bayling_pipeline.decode` that config["decoding"] sets
TRANSLATE_OPTIONS = (
    "template",
    "batch_size",
    "max_new_tokens",
    "num_beams",
    "temperature",
    "top_p",
    "seed",
    "postprocess",
    "chat_format",
    "backend",
)
# ... and those of the multi-turn dialogue decoder
DIALOGUE_OPTIONS = ("batch_size", "seed", "chat_format", "backend")


def command_options(settings: dict) -> str:
    """``--key value`` options of a decoding command, sorted so they stay equal across
    runs (a rule's params: a changed order would rerun its jobs)."""
    import shlex

    return " ".join(
        f"--{key.replace('_', '-')} {shlex.quote(str(value))}"
        for key, value in sorted(settings.items())
    )


@dataclass(frozen=True)
class Settings:
    """Generation settings (config ``decoding``); each of them may change a hypothesis,
    so all are recorded with the outputs (the template separately, with its version)."""

    template: str = "bayling-en"
    batch_size: int = 16
    max_new_tokens: int = 128
    num_beams: int = 1
    temperature: float = 0.0  # 0 = deterministic (greedy or beam); > 0 samples
    top_p: float = 1.0
    seed: int = 1
    postprocess: str = "first_line"
    chat_format: str = "model"
    backend: str = "hf"
    compute_type: str = "auto"  # ctranslate2 only (hf: float32 on the CPU, bf16 on a GPU)
    batch_tokens: int = 0  # > 0: a batch also holds at most this many padded prompt tokens
    # the system message of every prompt (a model's system_prompt); None: the format's own
    system_prompt: str | None = None

    def recorded(self) -> dict:
        """The settings as the metadata (and so every score row) records them (the system
        prompt only when one is given: records of runs without one stay as they were)."""
        recorded = {k: v for k, v in dataclasses.asdict(self).items() if k != "template"}
        if self.system_prompt is None:
            del recorded["system_prompt"]
        for key, default in ENGINE_DEFAULTS.items():
            if recorded[key] == default:
                del recorded[key]
        return recorded

    def system_messages(self) -> list[dict]:
        """The system message that opens every conversation: none without a system prompt
        (the chat format then writes its own, e.g. BayLing's line)."""
        if self.system_prompt is None:
            return []
        return [{"role": "system", "content": self.system_prompt}]


def check_settings(settings: dict) -> list[str]:
    """Problems of a ``decoding`` config section that the schema cannot express."""
    problems = []
    sampling = settings.get("temperature", 0.0) > 0
    if sampling and settings.get("num_beams", 1) > 1:
        problems.append("decoding: temperature > 0 samples, which needs num_beams: 1")
    if settings.get("backend") == "vllm" and settings.get("num_beams", 1) > 1:
        problems.append(
            "decoding.backend vllm decodes greedily or by sampling: set num_beams: 1 "
            "or backend: hf for beam search"
        )
    compute_type = settings.get("compute_type", "auto")
    if compute_type != "auto" and settings.get("backend", "hf") != "ctranslate2":
        problems.append(
            f"decoding.compute_type {compute_type} needs backend: ctranslate2 (hf computes "
            "in float32 on the CPU and bfloat16 on a GPU; vllm in bfloat16)"
        )
    return problems


def engine_options(settings: dict) -> dict:
    """The engine settings (ENGINE_DEFAULTS) of a ``decoding`` section that a command is
    given: those that differ from their defaults."""
    return {
        key: settings[key]
        for key, default in ENGINE_DEFAULTS.items()
        if settings.get(key, default) != default
    }


def postprocess(text: str, mode: str = "first_line") -> tuple[str, list[str]]:
    """One segment per line: stripped, TABs as spaces, no cut-off character at the end.

    ``first_line`` keeps the first non-empty line (a model that adds notes after its
    translation is not penalized for them); ``join_lines`` joins all lines with spaces,
    as BayLing's ``scripts/translate.py`` does. Returns the cleaned text and the names of
    the fixes applied (counted in the metadata, since silently truncated outputs would
    otherwise hide a model that rambles).
    """
    if mode not in POSTPROCESS_MODES:
        raise ValueError(f"unknown postprocess mode {mode!r}; known: {POSTPROCESS_MODES}")
    fixes = []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        fixes.append("extra_lines_dropped" if mode == "first_line" else "lines_joined")
    cleaned = (lines[0] if lines else "") if mode == "first_line" else " ".join(lines)
    if cleaned.endswith("\ufffd"):
        # generation stopped inside a multi-byte character (max_new_tokens reached)
        fixes.append("partial_character_dropped")
        cleaned = cleaned.rstrip("\ufffd").rstrip()
    if "\t" in cleaned:
        fixes.append("tab_replaced")
        cleaned = cleaned.replace("\t", " ")
    if not cleaned:
        fixes.append("empty")
    return cleaned, fixes


def clean_all(texts: list[str], mode: str) -> tuple[list[str], dict[str, int]]:
    """Post-process every text; return the cleaned texts and the count of each fix."""
    cleaned, fixes = [], {}
    for text in texts:
        line, applied = postprocess(text, mode)
        cleaned.append(line)
        for fix in applied:
            fixes[fix] = fixes.get(fix, 0) + 1
    return cleaned, fixes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of a decoding job (shared with decode.sharded's ``run``);
    the numbers are checked as they are parsed, the source and the pair by the command
    (``decode.translate.check_job``)."""
    parser.add_argument("--source", required=True, help="one segment per line")
    parser.add_argument("--pair", required=True, help="src-tgt, e.g. eng_Latn-deu_Latn")
    parser.add_argument("--output", required=True)
    parser.add_argument("--meta", required=True)
    add_generation_arguments(parser)


def add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    """The model, the generation settings, the shard and the threads of a decoding job:
    every option but its files (decode.pooled names several of those)."""
    from bayling_pipeline.cli import at_least

    defaults = Settings()
    parser.add_argument("--model", required=True, help="base model checkpoint directory")
    parser.add_argument("--adapter", default="", help="LoRA adapter directory to merge ('' = none)")
    parser.add_argument("--template", default=defaults.template, help="prompt template id")
    parser.add_argument("--batch-size", type=at_least(1), default=defaults.batch_size)
    parser.add_argument("--max-new-tokens", type=at_least(1), default=defaults.max_new_tokens)
    parser.add_argument("--num-beams", type=at_least(1), default=defaults.num_beams)
    parser.add_argument(
        "--temperature",
        type=float,
        default=defaults.temperature,
        help="0 = greedy/beam search; > 0 samples",
    )
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of sampling")
    parser.add_argument("--postprocess", choices=POSTPROCESS_MODES, default=defaults.postprocess)
    parser.add_argument("--chat-format", choices=CHAT_FORMATS, default=defaults.chat_format)
    add_system_prompt_argument(parser)
    parser.add_argument("--backend", choices=BACKENDS, default=defaults.backend)
    add_engine_arguments(parser)
    parser.add_argument(
        "--shard", type=at_least(0), default=0, help="which shard to decode (0-based)"
    )
    parser.add_argument("--shards", type=at_least(1), default=1, help="number of shards")
    parser.add_argument("--threads", type=at_least(1), default=None)
    parser.add_argument("--trust-remote-code", action="store_true")


def add_system_prompt_argument(parser: argparse.ArgumentParser) -> None:
    """``--system-prompt``: the system message of every prompt (a model's system_prompt)."""
    parser.add_argument(
        "--system-prompt",
        default=None,
        help="system message of every prompt (default: the chat format's own)",
    )


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--compute-type`` and ``--batch-tokens`` (ENGINE_DEFAULTS), of both decoding
    commands."""
    from bayling_pipeline.cli import at_least

    parser.add_argument(
        "--compute-type",
        choices=COMPUTE_TYPES,
        default=ENGINE_DEFAULTS["compute_type"],
        help="backend ctranslate2: what it computes in (int8 quantizes)",
    )
    parser.add_argument(
        "--batch-tokens",
        type=at_least(0),
        default=ENGINE_DEFAULTS["batch_tokens"],
        help="> 0: at most this many padded prompt tokens per batch (0 = batch_size only)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The Settings that the command-line options give."""
    fields = {f.name for f in dataclasses.fields(Settings)}
    return Settings(**{k: v for k, v in vars(args).items() if k in fields})

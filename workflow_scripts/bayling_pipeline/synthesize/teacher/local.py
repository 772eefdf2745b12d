"""`LocalTeacher`: a local Hugging Face causal LM directory as a teacher (torch and
transformers are imported when it loads), and `checkpoint_fingerprint`, its default id."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from bayling_pipeline.synthesize.teacher.base import Conversation, check_conversation

log = logging.getLogger(__name__)


def checkpoint_fingerprint(model_dir: str | os.PathLike) -> str:
    """Hex SHA-256 over the names and bytes of a checkpoint directory's top-level files.

    Weights included: a fine-tuned model keeps its base's name and config, so only the
    bytes tell it apart (about a second per GB). README-like ``*.md`` and hidden files
    are skipped, since they do not change an answer.
    """
    digest = hashlib.sha256()
    files = sorted(p for p in Path(model_dir).iterdir() if p.is_file())
    for path in files:
        if path.name.startswith(".") or path.suffix == ".md":
            continue
        digest.update(path.name.encode("utf-8") + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 23):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


class LocalTeacher:
    """A local Hugging Face causal LM directory, loaded offline on the first ``complete``.

    Greedy decoding in length-sorted, left-padded batches (``prompts.generation.generate``) over the
    tokenizer's chat template. ``threads`` sets torch's CPU threads for the whole process
    (torch has no per-model setting); ``device`` defaults to CUDA when available.
    ``model_id`` defaults to ``local:<directory name>@<fingerprint>``; pass one (e.g. a hub
    id and revision) to skip hashing the weights.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        max_new_tokens: int = 256,
        batch_size: int = 8,
        threads: int | None = None,
        device: str | None = None,
        trust_remote_code: bool = False,
        model_id: str | None = None,
    ):
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"not a Hugging Face checkpoint directory: {self.model_dir}")
        if max_new_tokens < 1 or batch_size < 1:
            raise ValueError("max_new_tokens and batch_size must be >= 1")
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.threads = threads
        self.device = device
        self.trust_remote_code = trust_remote_code
        self._model_id = model_id
        self.model = self.tokenizer = self._device = None

    @property
    def model_id(self) -> str:
        if self._model_id is None:
            fingerprint = checkpoint_fingerprint(self.model_dir)[:16]
            self._model_id = f"local:{self.model_dir.name}@{fingerprint}"
        return self._model_id

    @property
    def settings(self) -> dict:
        # Batch size, device, dtype and threads only move float rounding, not what is asked;
        # leaving them out lets a GPU rerun reuse answers cached on a CPU, and vice versa.
        return {"decoding": "greedy", "max_new_tokens": self.max_new_tokens}

    def load(self) -> LocalTeacher:
        """Load the model and tokenizer now (``complete`` does it on first use)."""
        if self.model is not None:
            return self
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.threads:
            torch.set_num_threads(self.threads)
        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        kwargs = {"trust_remote_code": self.trust_remote_code, "local_files_only": True}
        tokenizer = AutoTokenizer.from_pretrained(self.model_dir, **kwargs)
        if tokenizer.pad_token is None:  # left padding needs some pad id; the mask hides it
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=dtype, **kwargs)
        self.model, self.tokenizer, self._device = model.to(device).eval(), tokenizer, device
        log.info("teacher %s loaded on %s", self.model_dir, device)
        return self

    def prompt_ids(self, messages: Conversation) -> list[int]:
        """Token ids of the conversation in the model's chat template, up to where the
        assistant's reply begins (the same ids fine-tuning and decoding use)."""
        from bayling_pipeline.prompts.chat import conversation_prompt_ids

        self.load()
        return conversation_prompt_ids(self.tokenizer, messages)

    def complete(self, conversations: Sequence[Conversation]) -> list[str]:
        """Greedy replies, stripped, in the order of ``conversations``."""
        from bayling_pipeline.prompts.generation import generate

        if not conversations:
            return []
        prompts = [self.prompt_ids(check_conversation(c)) for c in conversations]
        replies = generate(
            self.model,
            self.tokenizer,
            self._device,
            prompts,
            batch_size=self.batch_size,
            max_new_tokens=self.max_new_tokens,
            num_beams=1,
        )
        return [reply.strip() for reply in replies]

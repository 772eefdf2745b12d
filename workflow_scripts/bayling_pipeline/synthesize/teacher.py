"""A pluggable "teacher": the model that writes answers the parallel corpus does not hold.

BayLing's interactive follow-ups (polish the translation, change its style or tense,
summarize the content) and BayLing 2's cross-lingual answers need a model to write them.
A teacher turns chat conversations into assistant replies; two back ends, one cache:

* ``LocalTeacher``: a local Hugging Face causal LM directory, greedy, deterministic.
* ``OpenAICompatibleTeacher``: any OpenAI-compatible ``/chat/completions`` endpoint (OpenAI,
  vLLM, llama.cpp server, ...). The API key is read from the environment variable that the
  spec names; it is never logged, stored, or put into an error message.
* ``CachedTeacher``: wraps either in a persistent SQLite cache, so a rerun asks nothing twice.

By hand, with a spec like ``{"backend": "local", "model_dir": "resources/models/smollm2-135m",
"max_new_tokens": 128}`` or ``{"backend": "openai", "base_url": "http://127.0.0.1:8000/v1",
"model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"}``::

    python -m bayling_pipeline.synthesize.teacher --spec teacher.json --cache teacher-cache.sqlite \\
        --prompts prompts.jsonl --output replies.jsonl

Each line of ``prompts.jsonl`` holds ``{"messages": [{"role": ..., "content": ...}, ...]}``
or ``{"prompt": "one user turn"}``; the output repeats each record with ``reply`` and
``teacher`` (the model id) added.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import http.client
import inspect
import json
import logging
import os
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

Conversation = list[dict]


class TeacherError(RuntimeError):
    """A teacher could not answer (HTTP error, retries exhausted, bad response)."""


class Teacher(Protocol):
    """Anything that answers chat conversations.

    ``model_id`` names the model stably (it goes into provenance and the cache key);
    ``settings`` holds the generation settings that change an answer (also in the key).
    """

    model_id: str
    settings: dict

    def complete(self, conversations: Sequence[Conversation]) -> list[str]:
        """One assistant reply per conversation, in the same order."""
        ...


def check_conversation(messages) -> Conversation:
    """Return ``messages`` if it is a non-empty list of {"role", "content"} string dicts."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("a conversation must be a non-empty list of messages")
    for message in messages:
        if not (
            isinstance(message, dict)
            and isinstance(message.get("role"), str)
            and isinstance(message.get("content"), str)
        ):
            raise ValueError(f"not a chat message with string role and content: {message!r}")
    return messages


def canonical_json(obj) -> str:
    """Key-sorted, compact, UTF-8 JSON: the same object always gives the same bytes."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def cache_key(model_id: str, settings: dict, conversation: Conversation) -> str:
    """Hex SHA-256 of the canonical JSON of (model id, generation settings, conversation)."""
    payload = {"model_id": model_id, "settings": settings, "conversation": conversation}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


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

    Greedy decoding in length-sorted, left-padded batches (``decode.generate``) over the
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would repeat the Authorization header to wherever a redirect points.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class OpenAICompatibleTeacher:
    """POST ``{base_url}/chat/completions``, one request per conversation.

    The key is read from the environment variable named ``api_key_env`` at each request
    (``None``: send no key, for local servers without one), so the object never holds it.
    Requests start at least ``60 / requests_per_minute`` seconds apart (retries included).
    429, 5xx and connection errors are retried up to ``max_retries`` times,
    waiting ``Retry-After`` when the server sends it, else ``backoff * 2**attempt`` seconds;
    other statuses fail at once with the server's message.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = "OPENAI_API_KEY",
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        requests_per_minute: float = 60,
        max_retries: int = 5,
        timeout: float = 60,
        backoff: float = 1.0,
        model_id: str | None = None,
    ):
        if requests_per_minute <= 0 or max_retries < 0 or max_new_tokens < 1:
            raise ValueError("need requests_per_minute > 0, max_retries >= 0, max_new_tokens >= 1")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.interval = 60.0 / requests_per_minute
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff = backoff
        # The endpoint is left out: the same model behind another address answers the same.
        self.model_id = model_id or f"openai:{model}"
        self.requests = 0  # HTTP requests sent, retries included
        self._next_start = 0.0  # time.monotonic() before which no request may start
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._api_key()  # fail when the teacher is built, not at its first request

    @property
    def settings(self) -> dict:
        return {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature}

    def __repr__(self) -> str:
        return f"OpenAICompatibleTeacher({self.url!r}, {self.model!r})"

    def _api_key(self) -> str | None:
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise TeacherError(
                f"environment variable {self.api_key_env} is not set or empty; export the "
                f"API key under that name (the teacher spec's api_key_env)"
            )
        return key

    def _redact(self, text: str) -> str:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return text.replace(key, "[REDACTED]") if key else text

    def _wait_turn(self) -> None:
        now = time.monotonic()
        if self._next_start > now:
            time.sleep(self._next_start - now)
        self._next_start = max(now, self._next_start) + self.interval

    def _post(self, body: bytes) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with self._opener.open(request, timeout=self.timeout) as response:
            text = response.read().decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            raise TeacherError(f"{self.url}: not JSON: {self._redact(text[:300])}") from None

    def _error_message(self, error: urllib.error.HTTPError) -> str:
        try:
            text = error.read().decode("utf-8", "replace")
        except OSError:
            return self._redact(str(error.reason or ""))
        try:
            message = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = text
        return self._redact(str(message)[:500])

    def _retry_delay(self, error: Exception, attempt: int) -> float:
        header = (
            error.headers.get("Retry-After") if isinstance(error, urllib.error.HTTPError) else None
        )
        if header:
            try:
                return max(0.0, float(header))
            except ValueError:
                pass
            try:  # the other form: an HTTP date
                return max(0.0, email.utils.parsedate_to_datetime(header).timestamp() - time.time())
            except (TypeError, ValueError):
                pass  # unreadable: back off as if there were none
        return min(self.backoff * 2**attempt, 300.0)

    def complete_one(self, messages: Conversation) -> str:
        """The assistant reply to one conversation, stripped."""
        payload = {
            "model": self.model,
            "messages": check_conversation(messages),
            "max_tokens": self.max_new_tokens,
            "temperature": self.temperature,
        }
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        for attempt in range(self.max_retries + 1):
            self._wait_turn()
            self.requests += 1
            log.debug("POST %s model=%s attempt=%d", self.url, self.model, attempt + 1)
            try:
                answer = self._post(body)
                break
            except urllib.error.HTTPError as error:
                status, message = error.code, self._error_message(error)
                if status != 429 and status < 500:
                    raise TeacherError(f"{self.url} answered HTTP {status}: {message}") from None
                failure = f"HTTP {status}: {message}"
                delay = self._retry_delay(error, attempt)
            except (OSError, http.client.HTTPException) as error:  # refused, reset, timeout
                failure = self._redact(f"{type(error).__name__}: {error}")
                delay = self._retry_delay(error, attempt)
            if attempt == self.max_retries:
                raise TeacherError(
                    f"{self.url}: gave up after {attempt + 1} attempts; last: {failure}"
                ) from None
            log.warning("%s: %s; retrying in %.1f s", self.url, failure, delay)
            time.sleep(delay)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise TeacherError(f"{self.url}: not a chat completion: {str(answer)[:300]}") from None
        return (content or "").strip()

    def complete(self, conversations: Sequence[Conversation]) -> list[str]:
        """Replies in order; requests are sent one at a time at the configured rate."""
        from tqdm import tqdm

        quiet = not sys.stderr.isatty() or len(conversations) < 2
        return [self.complete_one(c) for c in tqdm(conversations, desc="teacher", disable=quiet)]


class CachedTeacher:
    """A teacher whose answers persist in an SQLite file, keyed by ``cache_key``.

    Only the conversations not yet cached go to the wrapped teacher, ``chunk_size`` at a
    time, and each chunk is committed before the next is asked, so a crash loses at most
    one chunk. Table ``replies(key, model_id, settings, conversation, reply, created)``
    holds everything needed to read the cache without this module; no secret goes in.
    """

    def __init__(self, teacher: Teacher, cache_path: str | os.PathLike, *, chunk_size: int = 64):
        self.teacher = teacher
        self.cache_path = Path(cache_path)
        self.chunk_size = chunk_size
        self.hits = self.misses = self.calls = 0
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        # Rollback journal, not WAL: WAL needs shared memory, which network file systems lack.
        self._db = sqlite3.connect(self.cache_path, timeout=60)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model_id TEXT, "
                "settings TEXT, conversation TEXT, reply TEXT, created REAL)"
            )

    @property
    def model_id(self) -> str:
        return self.teacher.model_id

    @property
    def settings(self) -> dict:
        return getattr(self.teacher, "settings", {})

    def stats(self) -> dict:
        """Counts so far: answers from the cache, answers asked for, calls to the teacher."""
        return {"hits": self.hits, "misses": self.misses, "calls": self.calls}

    def _lookup(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), 500):  # SQLite caps the number of parameters
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            query = f"SELECT key, reply FROM replies WHERE key IN ({marks})"
            found.update(self._db.execute(query, part).fetchall())
        return found

    def complete(self, conversations: Sequence[Conversation]) -> list[str]:
        """Replies in order, from the cache where possible."""
        model_id, settings = self.model_id, self.settings
        convs = [check_conversation(c) for c in conversations]
        keys = [cache_key(model_id, settings, c) for c in convs]
        answers = self._lookup(keys)
        missing = {}  # key -> conversation, first occurrence; duplicates are asked once
        for key, conv in zip(keys, convs, strict=True):
            if key not in answers:
                missing.setdefault(key, conv)
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        pending = list(missing.items())
        for start in range(0, len(pending), self.chunk_size):
            chunk = pending[start : start + self.chunk_size]
            self.calls += 1
            replies = self.teacher.complete([conv for _, conv in chunk])
            if len(replies) != len(chunk):
                raise TeacherError(f"{model_id} gave {len(replies)} replies to {len(chunk)}")
            rows = [
                (key, model_id, canonical_json(settings), canonical_json(conv), reply, time.time())
                for (key, conv), reply in zip(chunk, replies, strict=True)
            ]
            with self._db:  # one transaction per chunk
                self._db.executemany(
                    "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?)", rows
                )
            answers.update((row[0], row[4]) for row in rows)
        return [answers[key] for key in keys]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CachedTeacher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


BACKENDS = {"local": LocalTeacher, "openai": OpenAICompatibleTeacher}


def build_teacher(spec: dict, *, cache_path: str | os.PathLike | None = None) -> Teacher:
    """A teacher from a config entry ``{"backend": "local" | "openai", ...}``.

    The other keys are the backend class's constructor arguments; an unknown backend, an
    unknown or missing key is a ValueError naming it. With ``cache_path`` the teacher is
    wrapped in a ``CachedTeacher``.
    """
    spec = dict(spec)
    backend = spec.pop("backend", None)
    if backend not in BACKENDS:
        raise ValueError(f"unknown teacher backend {backend!r} (known: {', '.join(BACKENDS)})")
    if "api_key" in spec:
        raise ValueError(
            "a teacher spec must not hold an API key; export it and name the variable in "
            "'api_key_env'"
        )
    parameters = inspect.signature(BACKENDS[backend].__init__).parameters
    allowed = [name for name in parameters if name != "self"]
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown keys for the {backend!r} teacher: {', '.join(unknown)} "
            f"(allowed: backend, {', '.join(allowed)})"
        )
    required = [n for n in allowed if parameters[n].default is inspect.Parameter.empty]
    missing = [name for name in required if name not in spec]
    if missing:
        raise ValueError(f"the {backend!r} teacher needs: {', '.join(missing)}")
    teacher = BACKENDS[backend](**spec)
    return CachedTeacher(teacher, cache_path) if cache_path else teacher


def main(argv: list[str] | None = None) -> None:
    from bayling_pipeline.io import read_json, read_jsonl, write_jsonl

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="teacher spec JSON file")
    parser.add_argument("--cache", default=None, help="SQLite reply cache (created if absent)")
    parser.add_argument("--prompts", required=True, help="JSONL: {'messages': [...]} or 'prompt'")
    parser.add_argument("--output", required=True, help="JSONL: each record + reply, teacher")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    teacher = build_teacher(read_json(args.spec), cache_path=args.cache)
    records = list(read_jsonl(args.prompts))
    conversations = [
        r["messages"] if "messages" in r else [{"role": "user", "content": r["prompt"]}]
        for r in records
    ]
    replies = teacher.complete(conversations)
    write_jsonl(
        args.output,
        (
            {**r, "reply": reply, "teacher": teacher.model_id}
            for r, reply in zip(records, replies, strict=True)
        ),
    )
    stats = teacher.stats() if isinstance(teacher, CachedTeacher) else {}
    log.info("%d replies from %s %s", len(replies), teacher.model_id, stats)


if __name__ == "__main__":
    main()

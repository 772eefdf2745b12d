"""`OpenAICompatibleTeacher`: any OpenAI-compatible ``/chat/completions`` endpoint as a
teacher, rate-limited and retried; the API key stays in the environment."""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

from bayling_pipeline.synthesize.teacher.base import (
    Conversation,
    TeacherError,
    check_conversation,
)

log = logging.getLogger(__name__)


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
        self.model_id = model_id or f"openai:{model}"
        self.requests = 0  # HTTP requests sent, retries included
        self._next_start = 0.0  # time.monotonic() before which no request may start
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._api_key()  # fail when the teacher is built, not at its first request

    @property
    def settings(self) -> dict:
        return {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature}

    @property
    def endpoint(self) -> str:
        """Where the answers come from, for the cache key (one model name served by two
        servers, or two versions of it, answers differently); credentials left out."""
        parts = urllib.parse.urlsplit(self.url)
        host = parts.netloc.rpartition("@")[2]  # user:password@ never enters the cache
        return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))

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

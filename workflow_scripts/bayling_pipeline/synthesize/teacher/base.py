"""What every teacher shares: the `Teacher` protocol, `TeacherError`, and the check of a
chat conversation (`check_conversation`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

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

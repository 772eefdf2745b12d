"""A pluggable "teacher": the model that writes answers the parallel corpus does not hold.

BayLing's interactive follow-ups (polish the translation, change its style or tense,
summarize the content) and BayLing 2's cross-lingual answers need a model to write them.
A teacher turns chat conversations into assistant replies; two back ends, one cache:

* ``LocalTeacher`` (``local``): a local Hugging Face causal LM directory, greedy,
  deterministic.
* ``OpenAICompatibleTeacher`` (``openai_compatible``): any OpenAI-compatible
  ``/chat/completions`` endpoint (OpenAI, vLLM, llama.cpp server, ...). The API key is read
  from the environment variable that the spec names; it is never logged, stored, or put
  into an error message.
* ``CachedTeacher`` (``cache``): wraps either in a persistent SQLite cache, so a rerun asks
  nothing twice.

``build_teacher`` (``spec``) builds one from a config entry; ``base`` holds the ``Teacher``
protocol and ``TeacherError``. By hand, with a spec like ``{"backend": "local", "model_dir":
"resources/models/smollm2-135m", "max_new_tokens": 128}`` or ``{"backend": "openai",
"base_url": "http://127.0.0.1:8000/v1", "model": "gpt-4o-mini", "api_key_env":
"OPENAI_API_KEY"}``::

    python -m bayling_pipeline.synthesize.teacher --spec teacher.json \\
        --cache teacher-cache.sqlite --prompts prompts.jsonl --output replies.jsonl

Each line of ``prompts.jsonl`` holds ``{"messages": [{"role": ..., "content": ...}, ...]}``
or ``{"prompt": "one user turn"}``; the output repeats each record with ``reply`` and
``teacher`` (the model id) added.
"""

from bayling_pipeline.synthesize.teacher.base import (
    Conversation,
    Teacher,
    TeacherError,
    check_conversation,
)
from bayling_pipeline.synthesize.teacher.cache import CachedTeacher, cache_key, canonical_json
from bayling_pipeline.synthesize.teacher.local import LocalTeacher, checkpoint_fingerprint
from bayling_pipeline.synthesize.teacher.openai_compatible import OpenAICompatibleTeacher
from bayling_pipeline.synthesize.teacher.spec import BACKENDS, build_teacher

__all__ = [
    "BACKENDS",
    "CachedTeacher",
    "Conversation",
    "LocalTeacher",
    "OpenAICompatibleTeacher",
    "Teacher",
    "TeacherError",
    "build_teacher",
    "cache_key",
    "canonical_json",
    "check_conversation",
    "checkpoint_fingerprint",
]

"""`build_teacher`: a teacher from a config entry ``{"backend": "local" | "openai", ...}``."""

from __future__ import annotations

import inspect
import os

from bayling_pipeline.synthesize.teacher.base import Teacher
from bayling_pipeline.synthesize.teacher.cache import CachedTeacher
from bayling_pipeline.synthesize.teacher.local import LocalTeacher
from bayling_pipeline.synthesize.teacher.openai_compatible import OpenAICompatibleTeacher

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

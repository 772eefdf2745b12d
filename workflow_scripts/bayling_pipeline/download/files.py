"""A data file named in the config either way: a local ``path``, or a ``url`` fetched by
:mod:`bayling_pipeline.download.fetch` (pinned by ``sha256`` or the lock file; mirrors,
offline mode and the cache apply). Used by the evaluation rooms (constraint sets, benchmark
items, released answers)."""

from __future__ import annotations

from pathlib import Path


def local_copy(spec: dict) -> tuple[Path, dict]:
    """(local file, provenance) of a file spec: ``{"path"}`` or ``{"url", "sha256"}``."""
    from bayling_pipeline.download import fetch

    if spec.get("path"):
        path = Path(spec["path"])
        return path, {"path": str(path), "sha256": fetch.sha256_file(path)}
    path = fetch.fetch(spec["url"], spec.get("sha256"))
    return path, fetch.provenance(spec["url"], spec.get("sha256"), path)

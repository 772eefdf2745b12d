"""COMET with unbabel-comet, fully offline.

``score_comet`` scores with a model staged by ``bayling_pipeline.score.comet_stage``; the
rule ``score_comet`` runs it through ``python -m bayling_pipeline.score --metric comet``.
COMET segment scores can be cached (see ``bayling_pipeline.score.comet_cache``): unchanged
segments are never scored twice.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

from bayling_pipeline.score.files import check_counts


def score_comet(
    checkpoint_path: str | os.PathLike,
    sources: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[str],
    batch_size: int = 8,
    gpus: int = 0,
    model_label: str | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> dict:
    """COMET of ``hypotheses`` with the local checkpoint ``checkpoint_path``, fully offline.

    Returns ``{"metric": "comet", "score", "signature", "segments", "segment_scores",
    "computed_segments"}``, the system score (the mean segment score) times 100 as papers
    report it; segment scores stay on the model's own scale. With ``cache_dir``, segments
    whose (source, hypothesis, reference, model, revision, COMET version) were scored
    before are taken from the cache and the model is not even loaded when all are;
    ``computed_segments`` counts those the model scored. The encoder's tokenizer and
    config must already be local (a directory staged by ``stage_comet_model``).
    """
    import comet

    from bayling_pipeline.score.comet_cache import SegmentCache, segment_key

    check_counts(sources=sources, hypotheses=hypotheses, references=references)
    label = model_label or str(checkpoint_path)
    triples = list(zip(sources, hypotheses, references, strict=True))
    keys = [segment_key(*triple, label, revision, comet.__version__) for triple in triples]
    cache = SegmentCache(cache_dir) if cache_dir is not None else None
    known = cache.lookup(keys) if cache is not None else {}
    todo = {key: triple for key, triple in zip(keys, triples, strict=True) if key not in known}
    if todo:
        model = _load_model(str(checkpoint_path))
        samples = [{"src": src, "mt": mt, "ref": ref} for src, mt, ref in todo.values()]
        output = model.predict(samples, batch_size=batch_size, gpus=gpus, progress_bar=False)
        new = {key: float(value) for key, value in zip(todo, output.scores, strict=True)}
        if cache is not None:
            cache.add(new)
        known = {**known, **new}
    segment_scores = [known[key] for key in keys]
    revision_part = f"|revision={revision}" if revision else ""
    return {
        "metric": "comet",
        "score": 100.0 * sum(segment_scores) / len(segment_scores),
        "signature": f"model={label}{revision_part}|comet={comet.__version__}",
        "segments": len(segment_scores),
        "segment_scores": segment_scores,
        "computed_segments": len(todo),
    }


@functools.lru_cache(maxsize=1)
def _load_model(checkpoint_path: str):
    """The COMET model, loaded once per process: a pooled job scores every direction of a
    test set with it (rule score_comet_pooled_<testset>)."""
    import comet

    return comet.load_from_checkpoint(checkpoint_path, local_files_only=True)

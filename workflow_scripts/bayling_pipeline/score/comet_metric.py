"""COMET with unbabel-comet, fully offline, and staging a COMET model for it.

``stage_comet_model`` puts a local checkpoint or a hub model (downloaded with its encoder's
tokenizer and config) under one directory, the rule ``score_comet_stage_model``;
``score_comet`` scores with it, run by the rule ``score_comet`` through
``python -m bayling_pipeline.score --metric comet``. COMET segment scores can be cached
(see ``bayling_pipeline.score.comet_cache``): unchanged segments are never scored twice.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from bayling_pipeline.io import atomic_path, write_json
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
        model = comet.load_from_checkpoint(str(checkpoint_path), local_files_only=True)
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


def _local_checkpoint(model: str) -> tuple[Path, Path] | None:
    """``(model.ckpt, hparams.yaml)`` when ``model`` names a local checkpoint, else None."""
    path = Path(model).expanduser()
    if path.is_dir():
        path = path / "checkpoints" / "model.ckpt"
    elif not path.exists():
        if model.endswith(".ckpt") or path.is_absolute() or model.startswith("."):
            raise FileNotFoundError(f"COMET checkpoint not found: {model}")
        return None  # a hub id such as Unbabel/wmt22-comet-da
    hparams = path.parent.parent / "hparams.yaml"
    for needed in (path, hparams):
        if not needed.is_file():
            raise FileNotFoundError(
                f"{model}: missing {needed} (COMET wants <dir>/checkpoints/model.ckpt "
                "next to <dir>/hparams.yaml)"
            )
    return path, hparams


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)  # checkpoints are large and never modified in place
    except OSError:
        shutil.copy2(source, target)


def _prefetch_encoder(hparams_file: Path) -> None:
    """Cache the tokenizer and config of the checkpoint's encoder for offline scoring."""
    import yaml
    from transformers import AutoConfig, AutoTokenizer

    pretrained = yaml.safe_load(hparams_file.read_text(encoding="utf-8"))["pretrained_model"]
    if not Path(pretrained).is_dir():
        AutoConfig.from_pretrained(pretrained)
        AutoTokenizer.from_pretrained(pretrained)


def stage_comet_model(model: str, out_dir: str | os.PathLike, revision: str | None = None) -> Path:
    """Put COMET model ``model`` under ``out_dir``; return ``out_dir/checkpoints/model.ckpt``.

    ``model`` is a local checkpoint (a ``.ckpt`` file or a directory holding
    ``checkpoints/model.ckpt``), hard-linked or copied, or else a hub id such as
    ``Unbabel/wmt22-comet-da``, downloaded (network) at ``revision`` (a commit; None =
    the hub's newest) along with its encoder's tokenizer and config. ``out_dir`` appears
    complete or not at all.
    """
    import comet

    out_dir = Path(out_dir)
    local = _local_checkpoint(model)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        if local is None:
            hub = tmp / ".hub"
            from huggingface_hub import snapshot_download

            snapshot = snapshot_download(repo_id=model, revision=revision, cache_dir=hub)
            downloaded = Path(snapshot) / "checkpoints" / "model.ckpt"
            hparams = downloaded.parent.parent / "hparams.yaml"
            _link_or_copy(downloaded.resolve(), tmp / "checkpoints" / "model.ckpt")
            shutil.copy2(hparams.resolve(), tmp / "hparams.yaml")
            shutil.rmtree(hub)
            # COMET loads its encoder's tokenizer by hub id: cache it now, while online.
            _prefetch_encoder(tmp / "hparams.yaml")
        else:
            _link_or_copy(local[0], tmp / "checkpoints" / "model.ckpt")
            shutil.copy2(local[1], tmp / "hparams.yaml")
        staged = {"model": model, "revision": revision, "comet": comet.__version__}
        write_json(tmp / "staged.json", staged)
    return out_dir / "checkpoints" / "model.ckpt"

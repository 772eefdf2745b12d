"""Stage a COMET model once, verified, for offline scoring (rule ``score_comet_stage_model``).

A local checkpoint (a ``.ckpt`` file, or a directory holding ``checkpoints/model.ckpt`` next
to ``hparams.yaml``) is hard-linked or copied; a hub model (``Unbabel/wmt22-comet-da``) is
downloaded at its pinned revision, on the login node. Either way:

* the checkpoint's sha256 is checked against the pinned ``sha256``, else against the one the
  lock file recorded at the first staging (which it then records): a changed or corrupted
  checkpoint stops the stage instead of changing every COMET score silently;
* the encoder (XLM-R for wmt22-comet-da, named by the checkpoint's ``hparams.yaml``) is
  fetched at ``encoder_revision`` into ``<dir>/encoder`` and ``hparams.yaml`` points there,
  so that scoring jobs load exactly that tokenizer and config, offline;
* ``staged.json`` records model, revisions, digest and COMET version.

The folder appears complete or not at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from bayling_pipeline.io import atomic_path, write_json

log = logging.getLogger(__name__)


class CometDigestError(ValueError):
    """The staged checkpoint is not the one pinned (or first recorded)."""


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checkpoint(checkpoint: Path, key: str, pinned: str | None, settings=None) -> str:
    """Return the checkpoint's sha256 after checking it against ``pinned``, else against the
    entry for ``key`` in the lock file of ``settings`` (a ``download.fetch.Settings``;
    recording it there when it has none; None = no lock file)."""
    from bayling_pipeline.download import fetch

    actual = _sha256(checkpoint)
    if settings is None:
        if pinned is not None and actual != pinned:
            settings = fetch.Settings(lock=None)  # only for the message below
        else:
            return actual
    expected = pinned or fetch.locked_digest(key, settings)
    if expected is not None and actual != expected:
        where = "scoring.comet.sha256" if pinned else f"the lock file {settings.lock} ({key})"
        raise CometDigestError(
            f"{key}: checkpoint sha256 {actual} differs from {expected} in {where}: the "
            "model changed or the file is damaged; stage it again, or update the pin if "
            "the change is intended"
        )
    if pinned is None:
        fetch.record_digest(key, actual, checkpoint.stat().st_size, settings)
    return actual


def _stage_encoder(folder: Path, revision: str | None, final: Path) -> str | None:
    """Fetch the encoder ``hparams.yaml`` names at ``revision`` into ``folder/encoder`` and
    point ``hparams.yaml`` at ``final/encoder`` (``folder`` once renamed; relative paths stay
    relative to the workflow's directory, where jobs run); return the commit fetched (None
    for a local encoder)."""
    import yaml
    from huggingface_hub import snapshot_download

    hparams_file = folder / "hparams.yaml"
    hparams = yaml.safe_load(hparams_file.read_text(encoding="utf-8"))
    pretrained = hparams["pretrained_model"]
    if Path(pretrained).is_dir():
        return None
    snapshot = Path(
        snapshot_download(
            repo_id=pretrained,
            revision=revision,
            cache_dir=folder / ".hub",
            # the tokenizer and config only: COMET's checkpoint holds the encoder's weights
            allow_patterns=["*.json", "*.model", "*.txt"],
        )
    )
    shutil.copytree(snapshot, folder / "encoder", dirs_exist_ok=True)
    shutil.rmtree(folder / ".hub")
    hparams["pretrained_model"] = str(final / "encoder")
    hparams_file.write_text(yaml.safe_dump(hparams, sort_keys=False), encoding="utf-8")
    return snapshot.name  # the snapshot folder is named by its commit


def stage_comet_model(
    model: str,
    out_dir: str | os.PathLike,
    revision: str | None = None,
    *,
    sha256: str | None = None,
    encoder_revision: str | None = None,
    settings=None,
) -> Path:
    """Put COMET model ``model`` under ``out_dir``, verified (see the module docstring;
    ``settings``: the download stage's, for its lock file); return
    ``out_dir/checkpoints/model.ckpt``."""
    import comet

    out_dir = Path(out_dir)
    local = _local_checkpoint(model)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        if local is None:
            from huggingface_hub import snapshot_download

            snapshot = Path(
                snapshot_download(repo_id=model, revision=revision, cache_dir=tmp / ".hub")
            )
            local = (snapshot / "checkpoints" / "model.ckpt", snapshot / "hparams.yaml")
        _link_or_copy(local[0].resolve(), tmp / "checkpoints" / "model.ckpt")
        shutil.copy2(local[1].resolve(), tmp / "hparams.yaml")
        shutil.rmtree(tmp / ".hub", ignore_errors=True)
        key = f"comet:{model}" + (f"@{revision}" if revision else "")
        digest = verify_checkpoint(tmp / "checkpoints" / "model.ckpt", key, sha256, settings)
        encoder = _stage_encoder(tmp, encoder_revision, out_dir)
        staged = {
            "model": model,
            "revision": revision,
            "sha256": digest,
            "encoder_revision": encoder,
            "comet": comet.__version__,
        }
        write_json(tmp / "staged.json", staged)
    log.info("staged %s (sha256 %s, encoder %s)", model, digest, encoder or "local")
    return out_dir / "checkpoints" / "model.ckpt"

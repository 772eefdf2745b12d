"""Local files the config names: inputs of the rules that read them, and checked to exist
before any job.

A corpus of line-aligned local files (``source: local_parallel``) and a local model folder
(``source: local``, or a weight delta's ``path``) are inputs of ``download_corpus`` and
``finetune_prepare_base``, so that editing one of them reruns what depends on it. Every
local path of the config is checked when the workflow is parsed; a missing one is an
error naming its key::

    corpora.my-corpus.options.files.deu_Latn: no such file 'data/train.de' (relative to
    the working directory /home/me/run)
"""

from __future__ import annotations

import os
from collections.abc import Iterator

# rule outputs: a path under these is made by the workflow, not given by the user
PRODUCED = ("results/", "resources/")


def local_corpus_files(config: dict, corpus: str) -> list[str]:
    """The files of a ``local_parallel`` corpus (none for the other sources)."""
    spec = config["corpora"][corpus]
    files = (spec.get("options") or {}).get("files")
    if spec["source"] != "local_parallel" or not isinstance(files, dict):
        return []
    return [str(path) for path in files.values()]


def local_model_dir(config: dict, model: str) -> str | None:
    """The local folder a model is staged from: a ``local`` checkpoint, or a weight delta
    given by ``path``; None for a model from a package or the hub."""
    spec = config["models"][model]
    if spec["source"] in ("local", "delta") and spec.get("path"):
        return str(spec["path"])
    return None


def folder_files(folder: str) -> list[str]:
    """``folder`` and every file in it (hidden folders such as .git and .cache skipped):
    a directory's own time changes only when a file is added or removed, a file's when it
    is edited."""
    if not os.path.isdir(folder):
        return [folder]
    files = [folder]
    for parent, subfolders, names in os.walk(folder):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        files += [os.path.join(parent, n) for n in sorted(names) if not n.startswith(".")]
    return files


def _missing(where: str, path, kind: str = "file") -> Iterator[str]:
    """An error when the ``kind`` (file or folder) a user gave at ``where`` is not there; a
    path the workflow makes itself (results/, resources/) is not checked."""
    if not isinstance(path, str) or path.startswith(PRODUCED):
        return
    if os.path.isdir(path) if kind == "folder" else os.path.isfile(path):
        return
    if kind == "file" and os.path.isdir(path):
        yield f"{where}: {path!r} is a folder: give the path of a file"
        return
    relative = "" if os.path.isabs(path) else f" (relative to the working directory {os.getcwd()})"
    yield f"{where}: no such {kind} {path!r}{relative}: fix the path or create it"


def missing_file_errors(config: dict) -> list[str]:
    """An error for every local file or folder named in ``config`` that is not there."""
    errors: list[str] = []
    for check in (
        _corpus_files,
        _model_folders,
        _dialogue_and_dataset_files,
        _constrained_files,
        _knowledge_files,
    ):
        errors += check(config)
    errors += _published_files(config)
    comet = (config.get("scoring") or {}).get("comet")
    model = comet.get("model") if isinstance(comet, dict) else None
    # a local checkpoint, as bayling_pipeline.score.comet_stage tells one from a hub id
    if isinstance(model, str) and (model.endswith(".ckpt") or model.startswith(("/", ".", "~"))):
        if not os.path.exists(os.path.expanduser(model)):
            errors.append(
                f"scoring.comet.model: no such checkpoint {model!r}: give a hub id "
                "(Unbabel/wmt22-comet-da) or the path of a .ckpt file or its folder"
            )
    return errors


def _corpus_files(config: dict) -> Iterator[str]:
    for name, spec in (config.get("corpora") or {}).items():
        files = (spec.get("options") or {}).get("files")
        if spec.get("source") == "local_parallel" and isinstance(files, dict):
            for code, path in files.items():
                yield from _missing(f"corpora.{name}.options.files.{code}", path)


def _model_folders(config: dict) -> Iterator[str]:
    for name, spec in (config.get("models") or {}).items():
        if spec.get("source") in ("local", "delta") and spec.get("path"):
            yield from _missing(f"models.{name}.path", spec["path"], "folder")


def _dialogue_and_dataset_files(config: dict) -> Iterator[str]:
    dialogue_sets = (config.get("evaluation") or {}).get("dialogue_sets") or {}
    for name, spec in dialogue_sets.items():
        yield from _missing(f"evaluation.dialogue_sets.{name}.path", spec.get("path"))
    for name, spec in (config.get("datasets") or {}).items():
        mix = spec.get("mix") or {}
        instructions = (spec.get("instruction_cross_lingual") or {}).get("instructions")
        if mix.get("instruction_cross_lingual"):
            yield from _missing(
                f"datasets.{name}.instruction_cross_lingual.instructions", instructions
            )
        if mix.get("general"):
            for index, path in enumerate((spec.get("general") or {}).get("files") or []):
                yield from _missing(f"datasets.{name}.general.files[{index}]", path)
        extra = (spec.get("hygiene") or {}).get("contamination_files") or []
        for index, path in enumerate(extra):
            yield from _missing(f"datasets.{name}.hygiene.contamination_files[{index}]", path)


def _constrained_files(config: dict) -> Iterator[str]:
    section = config.get("constrained") or {}
    for name, spec in (section.get("sets") or {}).items():
        for pair, file in (spec.get("files") or {}).items():
            yield from _missing(f"constrained.sets.{name}.files.{pair}.path", file.get("path"))
    for name, spec in (section.get("published") or {}).items():
        for pair, by_language in (spec.get("files") or {}).items():
            for language, file in by_language.items():
                where = f"constrained.published.{name}.files.{pair}.{language}.path"
                yield from _missing(where, file.get("path"))


def _knowledge_files(config: dict) -> Iterator[str]:
    from bayling_pipeline.knowledge import queries as KQ

    for suite in KQ.suites(config):
        for name, file in KQ.suite_files(config, suite).items():
            yield from _missing(f"knowledge.suites.{suite}.path ({name})", file.get("path"))
    for system in KQ.published_systems(config):
        for name, file in KQ.published_files(config, system).items():
            yield from _missing(f"knowledge.published.{system}.path ({name})", file.get("path"))


def _published_files(config: dict) -> list[str]:
    """A published system's local hypothesis files, for every direction it is scored on."""
    from bayling_pipeline.workflow.queries import evaluated_system_directions, published_path

    errors = []
    published = config.get("published") or {}
    for system, _, pair in evaluated_system_directions(config):
        if system in published:
            path = published_path(config, system, pair)
            where = f"published.{system}.path ({pair})"
            errors += _missing(where, path)
    return errors

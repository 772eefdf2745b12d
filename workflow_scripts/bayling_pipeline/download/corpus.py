"""Build a multi-way parallel corpus from one registered source, plus its manifest.

    python -m bayling_pipeline.download django_catalogs resources/corpus/django.jsonl \
        resources/corpus/django.manifest.json --options '{"languages": "all", "min_segments": 0}'

A source is a function ``options -> Fetched`` registered under a name with ``@source(name)``;
``fetch_corpus`` runs it and writes the corpus as JSON Lines, one record per pivot string,
``{"id": ..., "texts": {code: text, ...}}``, sorted by id, and a manifest describing it.
Sources that need the network (``url_parallel``: plain, gzip or tar by URL; ``flores200``;
``hf_dataset``) fetch through ``bayling_pipeline.download.fetch`` (pinned, verified, cached).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bayling_pipeline import languages
from bayling_pipeline.cli import UserError, json_object, run_cli
from bayling_pipeline.download import archives
from bayling_pipeline.io import write_json, write_jsonl

PIVOT = "eng_Latn"


@dataclass(frozen=True)
class Fetched:
    """What a source returns: records (any order), a version string and its resolved options."""

    records: list[dict]
    version: str
    options: dict


SOURCES: dict[str, Callable[[dict], Fetched]] = {}


def source(name: str) -> Callable[[Callable[[dict], Fetched]], Callable[[dict], Fetched]]:
    """Register a corpus source function ``options -> Fetched`` under ``name``."""

    def register(function: Callable[[dict], Fetched]) -> Callable[[dict], Fetched]:
        if name in SOURCES:
            raise ValueError(f"corpus source {name!r} is registered twice")
        SOURCES[name] = function
        return function

    return register


def normalize_text(text: str) -> str:
    """NFC, and every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def record_id(text: str) -> str:
    """Stable id of a record: the first 16 hex digits of sha256 of its pivot text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _check_options(name: str, options: dict, allowed: Iterable[str]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"source {name!r}: unknown option(s) {unknown}; allowed: {sorted(allowed)}")


def _check_codes(name: str, codes: Iterable[str]) -> None:
    unknown = [code for code in codes if not languages.is_known(code)]
    if unknown:
        raise UserError(
            f"source {name!r}: unknown language code(s) {unknown}; use Flores-200 codes such "
            "as deu_Latn (bayling_pipeline/data/languages.tsv)"
        )


def fetch_corpus(
    source: str, options: dict, out_jsonl: str | os.PathLike, manifest_path: str | os.PathLike
) -> dict:
    """Run source ``source`` with ``options``; write the corpus and its manifest; return it.

    The manifest holds the source name, its resolved options, the source's version, the
    record count, per-language segment counts and names, and the sha256 of the JSONL bytes.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown corpus source {source!r}; registered: {sorted(SOURCES)}")
    fetched = SOURCES[source](dict(options or {}))
    records = sorted(fetched.records, key=lambda record: record["id"])
    ids = [record["id"] for record in records]
    if len(set(ids)) != len(ids):
        raise ValueError(f"source {source!r} produced duplicate record ids")
    write_jsonl(out_jsonl, records)
    segments: dict[str, int] = {}
    for record in records:
        for code in record["texts"]:
            segments[code] = segments.get(code, 0) + 1
    manifest = {
        "source": source,
        "options": fetched.options,
        "version": fetched.version,
        "records": len(records),
        "languages": {
            code: {"name": languages.english_name(code), "segments": count}
            for code, count in sorted(segments.items())
        },
        "sha256": hashlib.sha256(Path(out_jsonl).read_bytes()).hexdigest(),
    }
    write_json(manifest_path, manifest)
    return manifest


# --- django_catalogs -------------------------------------------------------------------


def django_catalog_paths() -> list[tuple[str, Path]]:
    """``(locale, path)`` of every django.po / djangojs.po in the installed Django, sorted."""
    import django

    root = Path(django.__file__).parent
    found = [
        (path.parent.parent.name, path)
        for name in ("django.po", "djangojs.po")
        for path in root.glob(f"**/locale/*/LC_MESSAGES/{name}")
    ]
    return sorted(found, key=lambda item: item[1].relative_to(root).as_posix())


def _catalog_translations(path: Path) -> Iterable[tuple[str, str, str]]:
    """``(msgctxt, english, translation)`` of the usable entries of one catalog, normalized.

    Usable: singular, translated, not fuzzy, not obsolete.
    """
    import polib

    for entry in polib.pofile(str(path)):
        if entry.obsolete or entry.fuzzy or entry.msgid_plural or not entry.translated():
            continue
        english, translation = normalize_text(entry.msgid), normalize_text(entry.msgstr)
        if english and translation:
            yield entry.msgctxt or "", english, translation


@source("django_catalogs")
def django_catalogs(options: dict) -> Fetched:
    """Human translations shipped with Django: its gettext catalogs, English msgid as pivot.

    Options: ``languages`` ("all" or a list of codes), ``min_segments`` (drop languages with
    fewer translated strings; English is always kept). Regional catalogs (de_CH, pt_BR) are
    skipped, see ``languages.from_locale``. When one English string has several different
    translations in one language (other catalogs, other msgctxt), the first by (catalog path,
    msgctxt) wins.
    """
    import django
    from tqdm import tqdm

    _check_options("django_catalogs", options, ("languages", "min_segments"))
    wanted = options.get("languages", "all")
    min_segments = int(options.get("min_segments", 0))
    catalogs = [
        (code, path)
        for locale, path in django_catalog_paths()
        if (code := languages.from_locale(locale)) not in (None, PIVOT)
    ]
    available = {code for code, _ in catalogs}
    if wanted != "all":
        if isinstance(wanted, str) or not isinstance(wanted, list):
            raise ValueError(
                f"django_catalogs: 'languages' must be 'all' or a list, not {wanted!r}"
            )
        _check_codes("django_catalogs", wanted)
        missing = sorted(set(wanted) - available - {PIVOT})
        if missing:
            raise ValueError(f"django_catalogs: no Django catalog for language(s) {missing}")
        catalogs = [(code, path) for code, path in catalogs if code in wanted]

    root = Path(django.__file__).parent
    # candidates[english][code] = [(catalog path, msgctxt, translation), ...]
    candidates: dict[str, dict[str, list[tuple[str, str, str]]]] = {}
    for code, path in tqdm(catalogs, desc="django catalogs", unit="file", disable=None):
        relative = path.relative_to(root).as_posix()
        for context, english, translation in _catalog_translations(path):
            candidates.setdefault(english, {}).setdefault(code, []).append(
                (relative, context, translation)
            )

    counts: dict[str, int] = {}
    for by_code in candidates.values():
        for code in by_code:
            counts[code] = counts.get(code, 0) + 1
    kept = {code for code, count in counts.items() if count >= min_segments}

    records = []
    for english, by_code in candidates.items():
        texts = {code: min(found)[2] for code, found in by_code.items() if code in kept}
        if texts:
            records.append({"id": record_id(english), "texts": {PIVOT: english, **texts}})
    resolved = {
        "languages": wanted if wanted == "all" else sorted(wanted),
        "min_segments": min_segments,
    }
    return Fetched(records=records, version=f"django=={django.__version__}", options=resolved)


# --- local_parallel --------------------------------------------------------------------


def _aligned_records(name: str, columns: dict[str, list[str]], labels: dict) -> Fetched:
    """Multi-way records from line-aligned columns ``{code: lines}``; the first is the pivot.

    Empty pivot lines are skipped, as are repeated pivot lines (the first occurrence wins, so
    that ids, which hash the pivot text, stay unique); an empty line in another language only
    leaves that language out of the record. ``labels`` name the columns in errors.
    """
    lengths = {code: len(lines) for code, lines in columns.items()}
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{labels[code]} ({count} lines)" for code, count in lengths.items())
        raise ValueError(f"{name}: files are not line-aligned: {listing}")
    pivot = next(iter(columns))
    records: dict[str, dict] = {}
    digest = hashlib.sha256()
    for row in zip(*columns.values(), strict=True):
        texts = {code: normalize_text(text) for code, text in zip(columns, row, strict=True)}
        digest.update(json.dumps(texts, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        if not texts[pivot]:
            continue
        key = record_id(texts[pivot])
        if key not in records:
            records[key] = {"id": key, "texts": {code: t for code, t in texts.items() if t}}
    return Fetched(list(records.values()), f"sha256:{digest.hexdigest()[:16]}", {})


@source("local_parallel")
def local_parallel(options: dict) -> Fetched:
    """Line-aligned plain-text files, ``{"files": {code: path, ...}}``; the first is the pivot.

    See ``_aligned_records`` for empty and repeated lines.
    """
    _check_options("local_parallel", options, ("files",))
    files = options.get("files")
    if not isinstance(files, dict) or len(files) < 2:
        raise UserError("local_parallel: 'files' must map at least two language codes to paths")
    _check_codes("local_parallel", files)
    for path in files.values():
        if not Path(path).is_file():
            raise UserError(f"local_parallel: {path}: no such file (check its path in 'files')")
    columns = {
        code: archives.text_lines(Path(path).read_bytes(), f"local_parallel: {path}")
        for code, path in files.items()
    }
    fetched = _aligned_records("local_parallel", columns, files)
    resolved = {"files": {code: str(path) for code, path in files.items()}}
    return dataclasses.replace(fetched, options=resolved)


# --- remote sources: url_parallel, flores200, hf_dataset ------------------------------------


def _remote_lines(spec: dict, name: str) -> tuple[list[str], dict]:
    """Lines of one remote text file ``{url, sha256, member}`` and its manifest entry.

    ``member`` names a file inside a tar archive at ``url``; a ``.gz`` URL is gunzipped.
    """
    from bayling_pipeline.download import fetch

    path = fetch.fetch(spec["url"], spec.get("sha256"))
    entry = fetch.provenance(spec["url"], spec.get("sha256"), path)
    label = spec["url"]
    if spec.get("member"):
        data = archives.tar_members(path, [spec["member"]])[spec["member"]]
        label = entry["member"] = f"{spec['url']}#{spec['member']}"
        if spec["member"].endswith(".gz"):
            data = archives.gunzip(data, label)
    else:
        data = archives.read_bytes(path)
    return archives.text_lines(data, f"{name}: {label}"), entry


@source("url_parallel")
def url_parallel(options: dict) -> Fetched:
    """Line-aligned files by URL: ``{"files": {code: {url, sha256, member?}, ...}}``.

    Plain text, gzip (``.gz`` URL) or a member of a tar archive (``member``); every file is
    pinned by its sha256 (or the lock file). The first language is the pivot.
    """
    _check_options("url_parallel", options, ("files",))
    files = options.get("files")
    if not isinstance(files, dict) or len(files) < 2:
        raise ValueError("url_parallel: 'files' must map at least two language codes to files")
    _check_codes("url_parallel", files)
    columns, entries = {}, {}
    for code, spec in files.items():
        columns[code], entries[code] = _remote_lines(spec, "url_parallel")
    labels = {code: entry.get("member", entry["url"]) for code, entry in entries.items()}
    fetched = _aligned_records("url_parallel", columns, labels)
    return dataclasses.replace(fetched, options={"files": entries})


FLORES200_URL = "https://dl.fbaipublicfiles.com/nllb/flores200_dataset.tar.gz"


@source("flores200")
def flores200(options: dict) -> Fetched:
    """Flores-200 dev or devtest from its tarball, multi-way aligned (English pivot).

    Options: ``url`` (default the NLLB tarball), ``sha256`` (null: the lock file records the
    first download's digest), ``split`` (dev or devtest), ``languages`` (list of codes).
    """
    _check_options("flores200", options, ("url", "sha256", "split", "languages"))
    split = options.get("split", "dev")
    wanted = list(options.get("languages") or [])
    _check_codes("flores200", wanted)
    codes = [PIVOT, *[code for code in wanted if code != PIVOT]]
    columns, entries = {}, {}
    for code in codes:
        spec = {
            "url": options.get("url", FLORES200_URL),
            "sha256": options.get("sha256"),
            "member": f"flores200_dataset/{split}/{code}.{split}",
        }
        columns[code], entries[code] = _remote_lines(spec, "flores200")
    fetched = _aligned_records("flores200", columns, {c: e["member"] for c, e in entries.items()})
    return dataclasses.replace(fetched, options={"split": split, "files": entries})


@source("hf_dataset")
def hf_dataset(options: dict) -> Fetched:
    """Line-aligned text files of a hub dataset at a pinned revision.

    Options: ``repo`` (org/name), ``revision`` (a commit hash), ``files`` ({code: path in the
    repository}). Fetched on the login node only; offline runs use the cache or stop.
    """
    from bayling_pipeline.download import fetch

    _check_options("hf_dataset", options, ("repo", "revision", "files"))
    repo, revision, files = options["repo"], options["revision"], options.get("files") or {}
    _check_codes("hf_dataset", files)
    columns = {
        code: archives.text_lines(
            archives.read_bytes(fetch.hf_file(repo, path, revision)), f"{repo}/{path}"
        )
        for code, path in files.items()
    }
    fetched = _aligned_records("hf_dataset", columns, files)
    return dataclasses.replace(fetched, options={"repo": repo, "revision": revision, **files})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", choices=sorted(SOURCES))
    parser.add_argument("out_jsonl")
    parser.add_argument("manifest")
    parser.add_argument(
        "--options", default={}, type=json_object, help="source options as a JSON object"
    )
    args = parser.parse_args(argv)
    manifest = fetch_corpus(args.source, args.options, args.out_jsonl, args.manifest)
    print(f"{manifest['records']} records, {len(manifest['languages'])} languages")


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.download.corpus")

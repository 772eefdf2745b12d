"""Downloaded test sets (WMT, Flores) and published system outputs, as line-aligned files.

    python -m bayling_pipeline.download.testsets testset SPEC.json zho_Hans-eng_Latn out/ \
        [--max-segments N]
    python -m bayling_pipeline.download.testsets published SPEC.json zho_Hans-eng_Latn \\
        SOURCE out.hyp.txt

A test-set source is a function ``(spec, src, tgt) -> Testset`` registered in
``TESTSET_SOURCES`` (``wmt_testset``, ``flores200``, ``flores_plus``). ``fetch_testset``
writes, for one direction, ``<pair>.source.txt``, ``<pair>.reference.txt`` (the first
reference), the folder ``<pair>.references/`` with every reference as ``<id>.txt`` (WMT22
zh-en: ``A.txt``, ``B.txt``) and a manifest: URLs, digests, how each is pinned, line
counts and the language codes. ``max_segments`` (the config's ``testsets.<name>
.max_segments``) keeps the first N lines of each side, recorded in the manifest. Lines are
UTF-8, NFC, one segment per line, never altered otherwise (sacreBLEU reads them as they
are).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bayling_pipeline import languages
from bayling_pipeline.cli import UserError, at_least, input_file, pair_argument, run_cli
from bayling_pipeline.download import archives, fetch
from bayling_pipeline.io import atomic_path, read_json, read_lines, write_json, write_lines


@dataclass
class Testset:
    """One direction of a test set: source lines, references by id (first = primary)."""

    source: list[str]
    references: dict[str, list[str]]
    files: list[dict] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # "source"/ref id -> file name


TESTSET_SOURCES: dict[str, Callable[[dict, str, str], Testset]] = {}


def testset_source(name: str):
    """Register a test-set source ``(spec, src, tgt) -> Testset`` under ``name``."""

    def register(function):
        if name in TESTSET_SOURCES:
            raise ValueError(f"test-set source {name!r} is registered twice")
        TESTSET_SOURCES[name] = function
        return function

    return register


def short_code(code: str) -> str:
    """The two- or three-letter code WMT file names use: ``zho_Hans`` -> ``zh``."""
    locale = languages.locale_of(code)
    if not locale:
        raise ValueError(f"{code}: no short (WMT) code known for this language")
    return locale.split("_")[0]


def _lines(
    url: str, sha256: str | None, member: str | None = None, nfc: bool = True
) -> tuple[list[str], dict]:
    path = fetch.fetch(url, sha256)
    entry = fetch.provenance(url, sha256, path)
    if member:
        entry["member"] = member
        data = archives.tar_members(path, [member])[member]
        return archives.text_lines(data, f"{url}#{member}", nfc), entry
    return archives.text_lines(archives.read_bytes(path), url, nfc), entry


# --- sources ------------------------------------------------------------------------------

FLORES200_URL = "https://dl.fbaipublicfiles.com/nllb/flores200_dataset.tar.gz"
WMT_BASE = "https://raw.githubusercontent.com/wmt-conference/wmt22-news-systems/main/txt/"


@testset_source("wmt_testset")
def wmt_testset(spec: dict, src: str, tgt: str) -> Testset:
    """A WMT test set in the layout sacrebleu downloads (wmt22-news-systems ``txt/``).

    spec: ``base_url``, ``name`` (generaltest2022), ``sha256`` ({path under base_url:
    digest}) and optionally ``references`` ({pair: [ids]}). Without ``references`` a
    direction's references are the ids its pinned ``references/`` files name, else ``[A]``.
    """
    base, name = spec.get("base_url", WMT_BASE), spec["name"]
    s, t = short_code(src), short_code(tgt)
    digests = spec.get("sha256") or {}
    prefix = f"references/{name}.{s}-{t}.ref."
    pinned = sorted(
        key[len(prefix) : -len(t) - 1]
        for key in digests
        if key.startswith(prefix) and key.endswith(f".{t}")
    )
    ids = (spec.get("references") or {}).get(f"{src}-{tgt}") or pinned or ["A"]
    relative = {"source": f"sources/{name}.{s}-{t}.src.{s}"}
    relative |= {ref: f"{prefix}{ref}.{t}" for ref in ids}
    testset = Testset([], {})
    for key, path in relative.items():
        _add(testset, key, base + path, *_lines(base + path, digests.get(path)))
    return testset


def _add(testset: Testset, key: str, label: str, lines: list[str], entry: dict) -> None:
    """Put one fetched file into ``testset``: the source side, or reference ``key``."""
    testset.files.append(entry)
    testset.labels[key] = label
    if key == "source":
        testset.source = lines
    else:
        testset.references[key] = lines


# The NLLB tarball names Santali's files sat_Beng, though their text is in Ol Chiki
# (facebookresearch/flores#52); the language table knows Santali as sat_Olck only.
FLORES200_FILE_ALIASES = {"sat_Olck": "sat_Beng"}


def _flores200_member(url: str, sha256: str | None, split: str, code: str) -> str:
    member = f"flores200_dataset/{split}/{code}.{split}"
    alias = FLORES200_FILE_ALIASES.get(code)
    if alias and member not in archives.check_tar(fetch.fetch(url, sha256)):
        return f"flores200_dataset/{split}/{alias}.{split}"
    return member


@testset_source("flores200")
def flores200_testset(spec: dict, src: str, tgt: str) -> Testset:
    """Flores-200 ``dev``/``devtest`` from the NLLB tarball; spec ``url``, ``sha256``, ``split``."""
    url = spec.get("url", FLORES200_URL)
    split = spec.get("split", "devtest")
    testset = Testset([], {})
    for key, code in (("source", src), ("A", tgt)):
        member = _flores200_member(url, spec.get("sha256"), split, code)
        _add(testset, key, f"{url}#{member}", *_lines(url, spec.get("sha256"), member))
    return testset


@testset_source("flores_plus")
def flores_plus(spec: dict, src: str, tgt: str) -> Testset:
    """Flores+ on the hub (``repo``, ``revision``, ``split``): ``<split>/<code>.parquet``."""
    repo, revision = spec.get("repo", "openlanguagedata/flores_plus"), spec["revision"]
    split = spec.get("split", "devtest")
    testset = Testset([], {})
    for key, code in (("source", src), ("A", tgt)):
        path = fetch.hf_file(repo, f"{split}/{code}.parquet", revision)
        try:
            import pyarrow.parquet as parquet
        except ImportError as error:
            raise RuntimeError("flores_plus needs pyarrow: pip install pyarrow") from error
        lines = [str(text) for text in parquet.read_table(path).column("text").to_pylist()]
        testset.labels[key] = f"hf://datasets/{repo}@{revision}/{split}/{code}.parquet"
        testset.files.append({"url": testset.labels[key], "sha256": fetch.sha256_file(path)})
        if key == "source":
            testset.source = lines
        else:
            testset.references[key] = lines
    return testset


# --- writing ------------------------------------------------------------------------------


def _check_aligned(testset: Testset, pair: str) -> None:
    counts = {"source": len(testset.source)} | {k: len(v) for k, v in testset.references.items()}
    if not testset.references:
        raise ValueError(f"{pair}: no reference")
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"{testset.labels.get(k, k)} ({n} lines)" for k, n in counts.items())
        raise ValueError(f"{pair}: source and references are not line-aligned: {listing}")


def first_segments(testset: Testset, max_segments: int | None) -> int:
    """Keep the first ``max_segments`` lines of every side (None: all); return how many
    lines there were. The first lines, not a sample: the same sentences in every direction
    of a multi-way test set (Flores), a prefix of the paper's, no seed to record."""
    total = len(testset.source)
    if max_segments is not None:
        testset.source = testset.source[:max_segments]
        testset.references = {k: v[:max_segments] for k, v in testset.references.items()}
    return total


def fetch_testset(
    spec: dict,
    pair: str,
    source_path: str | os.PathLike,
    reference_path: str | os.PathLike,
    references_dir: str | os.PathLike,
    manifest_path: str | os.PathLike,
    max_segments: int | None = None,
) -> dict:
    """Fetch one direction of a downloaded test set, keep its first ``max_segments``
    segments (None: all) and write its files; return the manifest, which records the
    cut (``max_segments``, ``segments`` kept of ``segments_total``)."""
    kind = spec.get("source")
    if kind not in TESTSET_SOURCES:
        raise UserError(
            f"test-set spec: unknown source {kind!r}; choose one of {sorted(TESTSET_SOURCES)}"
        )
    src, tgt = languages.parse_pair(pair)
    testset = TESTSET_SOURCES[kind](spec, src, tgt)
    _check_aligned(testset, pair)
    total = first_segments(testset, max_segments)
    primary = next(iter(testset.references))
    with atomic_path(references_dir) as tmp:
        tmp.mkdir()
        for ref, lines in testset.references.items():
            write_lines(tmp / f"{ref}.txt", lines)
    write_lines(source_path, testset.source)
    write_lines(reference_path, testset.references[primary])
    manifest = {
        "source": kind,
        "pair": pair,
        "languages": {code: languages.english_name(code) for code in (src, tgt)},
        "segments": len(testset.source),
        "segments_total": total,
        "max_segments": max_segments,
        "references": list(testset.references),
        "primary_reference": primary,
        "files": testset.files,
    }
    write_json(manifest_path, manifest)
    return manifest


def fetch_published(
    spec: dict,
    pair: str,
    source_path: str | os.PathLike,
    hypotheses_path: str | os.PathLike,
    manifest_path: str | os.PathLike,
    segments: int | None = None,
) -> dict:
    """Fetch one published system output (spec ``url`` template, ``sha256`` {pair: digest})
    and check it has one line per test-set segment (``segments``: the whole test set's
    count, which a test set cut by ``max_segments`` records in its manifest; None: the
    lines of ``source_path``); return the manifest. The file is kept whole: decoding
    (``decode.published``) cuts it as the test set is cut.

    The URL template takes ``{src}``/``{tgt}`` (WMT short codes, ``zh``) and
    ``{src_code}``/``{tgt_code}`` (Flores codes, ``zho_Hans``).
    """
    src, tgt = languages.parse_pair(pair)
    url = spec["url"].format(src=short_code(src), tgt=short_code(tgt), src_code=src, tgt_code=tgt)
    sha256 = (spec.get("sha256") or {}).get(pair)
    # as released, not NFC-normalized: sacreBLEU (and WMT, and the papers) score the text
    # as it is, and normalizing changes a published score (GPT-4 de-fr BLEU by 0.003)
    lines, entry = _lines(url, sha256, nfc=False)
    if segments is None:
        segments = len(read_lines(source_path))
    if len(lines) != segments:
        raise ValueError(
            f"{pair}: {url} has {len(lines)} lines but the test set {source_path} has {segments}"
        )
    write_lines(hypotheses_path, lines)
    manifest = {"pair": pair, "segments": segments, "testset_source": str(source_path), **entry}
    manifest["system"] = spec.get("label")
    write_json(manifest_path, manifest)
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("testset")
    one.add_argument("spec", type=input_file, help="the test set's config entry, as JSON")
    one.add_argument("pair", type=pair_argument)
    one.add_argument("out_dir", type=Path)
    one.add_argument("--max-segments", type=at_least(1), default=None, help="keep the first N")
    two = sub.add_parser("published")
    two.add_argument("spec", type=input_file, help="the published system's entry, as JSON")
    two.add_argument("pair", type=pair_argument)
    two.add_argument("source", type=input_file)
    two.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    spec = read_json(args.spec)
    if not isinstance(spec, dict):
        raise UserError(
            f"{args.spec}: expected a JSON object (the spec), not a {type(spec).__name__}"
        )
    if args.what == "testset":
        out = args.out_dir
        fetch_testset(
            spec,
            args.pair,
            out / f"{args.pair}.source.txt",
            out / f"{args.pair}.reference.txt",
            out / f"{args.pair}.references",
            out / f"{args.pair}.manifest.json",
            max_segments=args.max_segments,
        )
    else:
        fetch_published(
            spec, args.pair, args.source, args.output, args.output.with_suffix(".manifest.json")
        )


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.download.testsets")

"""Line-aligned segment files in, score records out.

``read_aligned`` reads one-segment-per-line hypothesis, reference and source files (a
count mismatch is an error, never a silent truncation), ``check_counts`` checks segment
lists handed over in memory, ``script_share`` tells whether text is in a language's
script (a swapped ``--pair`` would pick the wrong BLEU tokenizer), ``score_warnings``
names what is legal but suspicious (empty hypotheses, fewer references than asked for),
``write_score`` writes a score JSON with its provenance and, for COMET, the segment
scores beside it.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from bayling_pipeline.io import DataError, read_lines, write_json, write_text


def check_counts(**streams: Sequence[str] | None) -> None:
    """DataError when the named segment lists (None: not given) differ in length or are
    all empty."""
    counts = {name: len(lines) for name, lines in streams.items() if lines is not None}
    if len(set(counts.values())) > 1:
        raise DataError(f"segment counts differ: {counts}")
    if not any(counts.values()):
        raise DataError("nothing to score: no segments")


def read_aligned(
    hyp_path: str | os.PathLike,
    ref_path: str | os.PathLike | Sequence[str | os.PathLike],
    src_path: str | os.PathLike | None = None,
) -> tuple[list[str], list, list[str] | None]:
    """Read one-segment-per-line files as ``(hypotheses, references, sources or None)``.

    ``ref_path`` is one path (references: a list of segments) or a list of paths
    (references: one list of segments per path). Every file is read as every stage reads
    segment files (``bayling_pipeline.io.read_lines``: BOM dropped, only ``\\n``
    separates segments). DataError naming every path and its line count when the counts
    differ.
    """
    several = not isinstance(ref_path, str | os.PathLike)
    ref_paths = list(ref_path) if several else [ref_path]
    paths = {"hypotheses": hyp_path}
    paths |= {f"references[{number}]": path for number, path in enumerate(ref_paths)}
    if src_path is not None:
        paths["sources"] = src_path
    texts = {name: read_lines(path) for name, path in paths.items()}
    counts = {name: len(lines) for name, lines in texts.items()}
    if len(set(counts.values())) != 1:
        detail = ", ".join(f"{paths[name]} has {counts[name]} lines" for name in paths)
        raise DataError(
            f"segment counts differ: {detail}; every file needs one segment per line, "
            "aligned with the test set's source"
        )
    references = [texts[f"references[{n}]"] for n in range(len(ref_paths))]
    return texts["hypotheses"], references if several else references[0], texts.get("sources")


# Unicode character-name prefixes of the letters of a script code (the part after "_").
SCRIPT_LETTERS = {
    "Latn": ("LATIN",),
    "Cyrl": ("CYRILLIC",),
    "Grek": ("GREEK",),
    "Hans": ("CJK",),
    "Hant": ("CJK",),
    "Jpan": ("CJK", "HIRAGANA", "KATAKANA"),
    "Kore": ("HANGUL", "CJK"),
    "Hang": ("HANGUL",),
    "Arab": ("ARABIC",),
    "Hebr": ("HEBREW",),
    "Deva": ("DEVANAGARI",),
    "Thai": ("THAI",),
    "Geor": ("GEORGIAN",),
    "Armn": ("ARMENIAN",),
}


def script_share(texts: Sequence[str], code: str, sample: int = 200) -> float | None:
    """The share of the letters of (the first ``sample``) ``texts`` written in the script of
    language ``code`` (``zho_Hans``: CJK ideographs); None for a script not in
    ``SCRIPT_LETTERS`` or fewer than 20 letters."""
    prefixes = SCRIPT_LETTERS.get(code.partition("_")[2])
    if prefixes is None:
        return None
    letters = [char for text in texts[:sample] for char in text if char.isalpha()]
    if len(letters) < 20:
        return None
    inside = sum(1 for char in letters if unicodedata.name(char, "").startswith(prefixes))
    return inside / len(letters)


def check_pair_script(
    pair: str, references: Sequence, sources: Sequence[str] | None = None, option: str = "pair"
) -> None:
    """DataError when ``pair`` looks swapped: the references are written in the source
    language's script and hardly in the target's (``zho_Hans-eng_Latn`` given for English
    into Chinese), which would pick the wrong BLEU tokenizer and sink the score silently.
    Only pairs whose two scripts differ and are in ``SCRIPT_LETTERS`` are checked."""
    src, _, tgt = pair.partition("-")
    if SCRIPT_LETTERS.get(src.partition("_")[2]) == SCRIPT_LETTERS.get(tgt.partition("_")[2]):
        return
    first = references[0] if references and not isinstance(references[0], str) else references
    in_target, in_source = script_share(first, tgt), script_share(first, src)
    if in_target is None or in_source is None or in_target >= 0.2 or in_source < 0.5:
        return
    from_sources = script_share(sources, tgt) if sources is not None else None
    if from_sources is not None and from_sources < 0.5:
        return  # the sources are not in the target's script either: not a plain swap
    raise DataError(
        f"{option} {pair}: the references are written in {src}'s script, not {tgt}'s "
        f"({in_source:.0%} vs {in_target:.0%} of their letters): is the pair swapped? Use "
        f"{tgt}-{src} if the translation goes into {src} (or --no-script-check)"
    )


def score_warnings(
    hypotheses: Sequence[str], references: Sequence, all_references: bool = False
) -> list[str]:
    """Legal but suspicious inputs, for the log and the score record's ``warnings``: empty
    hypotheses (all, or at least a tenth), hypotheses equal to a reference, and one
    reference where every reference was asked for (``all_references``)."""
    found = []
    empty = sum(1 for line in hypotheses if not line.strip())
    if hypotheses and empty == len(hypotheses):
        found.append(f"every hypothesis is empty ({empty} segments): did decoding fail?")
    elif empty * 10 >= len(hypotheses) > 0:
        found.append(f"{empty} of {len(hypotheses)} hypotheses are empty")
    streams = references if references and not isinstance(references[0], str) else [references]
    if hypotheses and any(list(stream) == list(hypotheses) for stream in streams):
        found.append("the hypotheses are identical to a reference")
    if all_references and len(streams) < 2:
        found.append(
            "every reference was asked for (scoring.references: all), but this test set has "
            "only one: scored against it alone"
        )
    return found


def write_score(path: str | os.PathLike, result: dict, **provenance) -> None:
    """Write ``result`` plus ``provenance`` (system, kind, testset, pair, ...) as JSON.

    Segment scores, when present, go to ``<stem>.segments.tsv`` beside it (one row per
    segment, in input order), named in the JSON as ``segment_scores_file``.
    """
    path = Path(path)
    clash = sorted(set(result) & set(provenance))
    if clash:
        raise ValueError(f"provenance keys {clash} would overwrite score fields")
    record = {key: value for key, value in result.items() if key != "segment_scores"}
    segment_scores = result.get("segment_scores")
    if segment_scores is not None:
        sidecar = path.with_suffix("").with_name(path.with_suffix("").name + ".segments.tsv")
        rows = [f"{number}\t{score!r}" for number, score in enumerate(segment_scores, 1)]
        write_text(sidecar, "segment\tscore\n" + "".join(row + "\n" for row in rows))
        record["segment_scores_file"] = sidecar.name
    write_json(path, {**record, **provenance})

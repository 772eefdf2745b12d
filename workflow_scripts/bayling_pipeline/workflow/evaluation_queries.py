"""Config lookups of the rules about test sets and scores (``rules/common.smk`` calls them
as ``EQ``): how a downloaded test set is fetched and cut (max_segments), and which scores
need the staged Flores-200 SentencePiece model (spBLEU). Pure functions of the validated
config, tested without Snakemake (``tests/workflow/test_flores_scoring.py``); nothing
heavy is imported.
"""

from __future__ import annotations

from bayling_pipeline.workflow import queries as Q


def testset_fetch_spec(config: dict, testset: str) -> dict:
    """A downloaded test set's ``download`` entry, plus its ``max_segments`` when set."""
    spec = config["testsets"][testset]
    limit = spec.get("max_segments")
    return {**spec["download"], **({"max_segments": limit} if limit is not None else {})}


def fetched_max_segments(config: dict, testset: str) -> int | None:
    """The ``max_segments`` of a downloaded test set (its first N segments are kept, so
    published outputs are cut alike); None for a test set cut from a corpus, whose
    published outputs translate the cut set already."""
    spec = config["testsets"][testset]
    return spec.get("max_segments") if "download" in spec else None


def needs_flores200_spm(config: dict, metric: str, pair: str) -> bool:
    """Whether scoring ``metric`` into ``pair``'s target tokenizes with the Flores-200
    SentencePiece model (spbleu always; bleu into Thai, Khmer, ... or by override), which
    the download stage stages (rule download_flores200_spm)."""
    from bayling_pipeline.score.sacrebleu_metrics import tokenizer_name

    overrides = config["scoring"]["bleu_tokenize"]
    return tokenizer_name(metric, pair.partition("-")[2], overrides) == "flores200"


def flores200_spm_used(config: dict) -> bool:
    """Whether any evaluated (metric, direction) needs the Flores-200 SentencePiece model."""
    return any(
        needs_flores200_spm(config, metric, pair)
        for metric in config["scoring"]["metrics"]
        for pair in {pair for _, pair in Q.evaluated_directions(config)}
    )


# --- evaluation.pool_directions: jobs per (system, test set) rather than per direction


def pooled_testsets(config: dict) -> dict[str, list[str]]:
    """{evaluated test set: its directions} when evaluation.pool_directions is on, else {}:
    the test sets whose decoding and scoring run once per system."""
    if not config["evaluation"].get("pool_directions"):
        return {}
    testsets = config["testsets"]
    return {t: list(testsets[t]["directions"]) for t in config["evaluation"]["testsets"]}


def pooled_systems(config: dict) -> list[str]:
    """The evaluated systems whose translations a pooled job makes and scores (every one but
    the published systems, which are copied and scored direction by direction)."""
    published = config.get("published", {})
    return [s for s in config["evaluation"]["systems"] if s not in published]


def pooled_significance(config: dict, testset: str) -> dict[str, list[str]]:
    """{direction: the systems compared on it, baseline first} for the test set's one
    significance job; {} without a baseline."""
    return {
        pair: Q.significance_systems(config, t, pair)
        for t, pair in Q.significance_directions(config)
        if t == testset
    }


def rule_suffix(testset: str) -> str:
    """A test set's name as part of a rule name (decode_pooled_<suffix>)."""
    return "".join(c if c.isalnum() else "_" for c in testset)

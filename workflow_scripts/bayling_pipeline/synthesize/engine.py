"""Synthesize BayLing-style chat instructions from a multi-way parallel corpus, streaming.

Three steps, each a rule and a subcommand (``python -m bayling_pipeline.synthesize``)::

    python -m bayling_pipeline.synthesize plan --recipe recipe.json \\
        --train results/download/django/train.jsonl --dev results/download/django/dev.jsonl \\
        --out results/synthesize/bayling-demo/plan.json
    python -m bayling_pipeline.synthesize shard --plan results/synthesize/bayling-demo/plan.json \\
        --shard 0 --forbidden results/download/django/test.jsonl \\
        --out results/synthesize/bayling-demo/shards/0
    python -m bayling_pipeline.synthesize merge --plan results/synthesize/bayling-demo/plan.json \\
        --shards results/synthesize/bayling-demo/shards/* --out-train ... --out-dev ... \\
        --out-stats ... --out-samples ...

* **plan** streams the corpus once and counts, per family and *unit* (a direction, or a
  language; see ``families``), the records that can yield an example. Targets follow the
  recipe: ``examples`` (per split) shared out over families by ``mix`` ratios, then over
  a family's units in proportion to ``weight * eligible**alpha`` (``alpha`` 0: equal
  shares; 1: proportional to the data), capped by ``cap`` (high-resource pairs), every
  split by largest remainder, and at most ``max_reuse`` examples per eligible record. A
  second pass fixes which records serve each unit: every eligible record ``whole`` times
  (target // eligible), plus the ``target % eligible`` records with the smallest draw
  ``u(seed, split, family, unit, record id)``; the plan stores that draw's threshold.
* **shard** streams the corpus again and generates the examples of its units (unit ``i``
  of the plan's sorted list goes to shard ``i % shards``): exactly the target count before
  hygiene. Every choice inside an example comes from a seed made of the recipe seed,
  split, family, unit, record id and copy number, never from a shared stream. Hygiene (``hygiene``)
  drops, with a count per reason: test-set contamination (exact or a shared long n-gram),
  a text not in its language (offline language identification), a length ratio out of
  range, a duplicate or near-duplicate source within the unit, an empty teacher answer or
  one that repeats the previous answer.
  Teacher answers (``teacher``) are fetched in batches through the response cache.
* **merge** joins the shards' files in a canonical order (corpus line, family, unit,
  copy) with a streaming k-way merge, drops exact duplicate dialogues, and writes the
  training and dev files, ``stats.json`` and a Markdown page of sample dialogues.

So the output is byte-identical for a given corpus, recipe and seed whatever the shard
count (teacher answers: given the same response cache), and memory is bounded by the
recipe's example counts (dedup state) and a fixed cache, not by the corpus size.

Every record carries its provenance in ``meta``: task family, unit, copy, template refs
(``id@vN``), languages, source corpus with record id and line, seed, and the teacher's
model id and action when a teacher wrote the last answer.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import heapq
import itertools
import json
import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import orjson

from bayling_pipeline.io import (
    atomic_path,
    read_json,
    read_jsonl,
    read_lines,
    write_json,
    write_text,
)
from bayling_pipeline.languages import is_known, parse_pair
from bayling_pipeline.prompts import templates as T
from bayling_pipeline.synthesize import families as F

log = logging.getLogger(__name__)

TASKS = F.FAMILIES
SPLITS = ("train", "dev")
ROLES = ("user", "assistant")
DROP_REASONS = (
    "contaminated",
    "wrong_language",
    "length_ratio",
    "duplicate",
    "near_duplicate",
    "empty_turn",
    "teacher_echo",
    "duplicate_example",
)

_FAMILY_DEFAULTS = {
    "single_turn": {"directions": [], "templates": "all", "native_templates": True},
    "interactive": {
        "directions": [],
        "templates": "all",
        "native_templates": True,
        "max_turns": 3,
        "follow_ups": "all",
        "teacher_follow_ups": [],
        "teacher_probability": 0.0,
    },
    "cross_lingual": {"languages": "all", "templates": "all"},
    "instruction_cross_lingual": {"languages": [], "templates": "all"},
}
_SHARE_DEFAULTS = {"weights": {}, "alpha": 0.0, "cap": None}
_HYGIENE_DEFAULTS = {
    "language_id": True,
    "min_language_probability": 0.99,
    "max_length_ratio": 3.0,
    "near_duplicate_threshold": 0.8,
    "contamination_word_n": 8,
    "contamination_char_n": 16,
}


# --------------------------------------------------------------------------- recipe


def validate_recipe(recipe: dict) -> dict:
    """A copy of ``recipe`` with defaults filled in and template names resolved to ids.

    Raises ValueError for what a JSON schema cannot see: unknown template ids, follow-up
    actions or languages, malformed directions, a family in ``mix`` without its units, a
    teacher family or follow-up without a teacher.
    """
    recipe = {"seed": 1, **recipe}  # the schema's default
    if not isinstance(recipe["seed"], int) or isinstance(recipe["seed"], bool):
        raise ValueError("recipe: 'seed' must be an integer")
    mix = dict(recipe.get("mix") or {})
    unknown = sorted(set(mix) - set(TASKS))
    if unknown:
        raise ValueError(f"recipe: mix: unknown families {unknown}; known: {', '.join(TASKS)}")
    if any(not isinstance(v, int | float) or v < 0 for v in mix.values()):
        raise ValueError("recipe: mix ratios must be numbers >= 0")
    resolved: dict = {
        "seed": recipe["seed"],
        "examples": _non_negative(recipe.get("examples", 0), "examples"),
        "dev_examples": _non_negative(recipe.get("dev_examples", 0), "dev_examples"),
        "mix": {task: float(mix.get(task, 0)) for task in TASKS},
        "max_reuse": recipe.get("max_reuse", 3),
        "shards": recipe.get("shards", 1),
        "hygiene": {**_HYGIENE_DEFAULTS, **(recipe.get("hygiene") or {})},
        "teacher": recipe.get("teacher"),
    }
    if resolved["examples"] and not sum(resolved["mix"].values()):
        raise ValueError("recipe: mix must give some family a ratio > 0")
    for task in TASKS:
        part = {**_FAMILY_DEFAULTS[task], **_SHARE_DEFAULTS, **(recipe.get(task) or {})}
        active = resolved["mix"][task] > 0
        registry = {
            "cross_lingual": T.CROSS_LINGUAL,
            "instruction_cross_lingual": T.ANSWER_IN,
        }.get(task, T.TRANSLATION)
        part["templates"] = _resolve_names(part["templates"], list(registry), f"{task}.templates")
        if "directions" in part:
            if active and not part["directions"]:
                raise ValueError(f"recipe: {task}.directions must list at least one pair")
            for pair in part["directions"]:
                parse_pair(pair)  # ValueError on a malformed pair, unknown code or src == tgt
        if task == "interactive":
            if not isinstance(part["max_turns"], int) or part["max_turns"] < 2:
                raise ValueError("recipe: interactive.max_turns must be an integer >= 2")
            part["follow_ups"] = _resolve_names(
                part["follow_ups"], list(T.FOLLOW_UP_ACTIONS), "interactive.follow_ups"
            )
            unknown = sorted(set(part["teacher_follow_ups"]) - set(T.TEACHER_ACTIONS))
            if unknown:
                raise ValueError(
                    f"recipe: interactive.teacher_follow_ups: unknown {unknown};"
                    f" known: {', '.join(T.TEACHER_ACTIONS)}"
                )
            if (
                part["teacher_follow_ups"]
                and part["teacher_probability"] > 0
                and not resolved["teacher"]
            ):
                raise ValueError("recipe: interactive.teacher_follow_ups need a 'teacher'")
        if "languages" in part and part["languages"] != "all":
            unknown = [code for code in part["languages"] if not is_known(code)]
            if unknown:
                raise ValueError(f"recipe: {task}.languages: unknown codes {unknown}")
        if task == "instruction_cross_lingual" and active:
            if not resolved["teacher"]:
                raise ValueError("recipe: instruction_cross_lingual needs a 'teacher'")
            if not part["languages"] or part["languages"] == "all":
                raise ValueError("recipe: instruction_cross_lingual.languages must list codes")
        resolved[task] = part
    return resolved


def _non_negative(value, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"recipe: {where} must be an integer >= 0")
    return value


def _resolve_names(value, known: list[str], where: str) -> list[str]:
    if value == "all":
        return list(known)
    if isinstance(value, str) or not value:
        raise ValueError(f"recipe: {where} must be 'all' or a non-empty list")
    unknown = [name for name in value if name not in known]
    if unknown:
        raise ValueError(f"recipe: {where}: unknown {unknown}; known: {', '.join(known)}")
    return list(value)


def generator_options(recipe: dict, task: str, units: Sequence[str]) -> dict:
    """What ``families.generate`` needs of a (validated) recipe's family part."""
    part = recipe[task]
    options = {
        "templates": part["templates"],
        "native": part.get("native_templates", False),
        "max_turns": part.get("max_turns"),
        "follow_ups": part.get("follow_ups", ()),
        "teacher_follow_ups": part.get("teacher_follow_ups", ()) if recipe["teacher"] else (),
        "teacher_probability": part.get("teacher_probability", 0.0),
        "languages": None,
    }
    if task == "cross_lingual" and part["languages"] != "all":
        options["languages"] = frozenset(part["languages"])
    elif task == "cross_lingual":
        options["languages"] = frozenset(units)
    return options


# --------------------------------------------------------------------------- plan


def _largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` shared out in proportion to ``weights`` (ties to the earlier key)."""
    norm = sum(weights.values())
    if not total or not norm:
        return dict.fromkeys(weights, 0)
    exact = {key: total * weight / norm for key, weight in weights.items()}
    counts = {key: math.floor(share) for key, share in exact.items()}
    order = sorted(weights, key=lambda k: (-(exact[k] - counts[k]), list(weights).index(k)))
    for key in order[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


def count_eligible(records: Iterable[dict], recipe: dict, instructions: Iterable[dict] = ()):
    """``{task: {unit: eligible records}}`` for one split, and the corpus's languages."""
    counts = {task: Counter() for task in TASKS}
    languages: Counter = Counter()
    single = recipe["single_turn"]["directions"] if recipe["mix"]["single_turn"] else []
    interactive = recipe["interactive"]["directions"] if recipe["mix"]["interactive"] else []
    interactive_options = generator_options(recipe, "interactive", ())
    cross = recipe["cross_lingual"]
    chosen = None if cross["languages"] == "all" else frozenset(cross["languages"])
    for record in records:
        texts = F.texts_of(record)
        languages.update(texts.keys())
        for pair in single:
            counts["single_turn"][pair] += F.eligible("single_turn", pair, texts, {})
        for pair in interactive:
            counts["interactive"][pair] += F.eligible(
                "interactive", pair, texts, interactive_options
            )
        if recipe["mix"]["cross_lingual"]:
            for code in texts if chosen is None else chosen & texts.keys():
                counts["cross_lingual"][code] += F.has_partner(texts, code, chosen)
    if recipe["mix"]["instruction_cross_lingual"]:
        for record in instructions:
            texts = F.instruction_texts(record)
            for code in recipe["instruction_cross_lingual"]["languages"]:
                counts["instruction_cross_lingual"][code] += code != texts["language"]
    return counts, sorted(languages)


def family_units(recipe: dict, task: str, corpus_languages: Sequence[str]) -> list[str]:
    """The units a family is generated for, sorted."""
    part = recipe[task]
    if not recipe["mix"][task]:
        return []
    if task in ("single_turn", "interactive"):
        return sorted(set(part["directions"]))
    if part["languages"] == "all":
        return sorted(corpus_languages)
    return sorted(set(part["languages"]))


def make_plan(recipe: dict, counts: dict[str, dict], corpus_languages: Sequence[str]) -> dict:
    """Targets and rates per split, family and unit (see the module docstring).

    ``counts``: ``{split: {task: {unit: eligible}}}``. Raises ValueError naming a unit of
    the training split that no record can serve (a direction without data).
    """
    recipe = validate_recipe(recipe)
    units = {task: family_units(recipe, task, corpus_languages) for task in TASKS}
    plan = {"recipe": recipe, "units": [], "splits": {}}
    for task in TASKS:
        plan["units"] += [[task, unit] for unit in units[task]]
    for split, total in (("train", recipe["examples"]), ("dev", recipe["dev_examples"])):
        family_totals = _largest_remainder(total, recipe["mix"])
        plan["splits"][split] = {}
        for task in TASKS:
            part, eligible = recipe[task], counts[split][task]
            if split == "train" and family_totals[task]:
                missing = [unit for unit in units[task] if not eligible.get(unit)]
                if missing and task != "cross_lingual":
                    raise ValueError(f"{task}: no record can serve {', '.join(missing)}")
            weights = {
                unit: part["weights"].get(unit, 1.0) * eligible.get(unit, 0) ** part["alpha"]
                for unit in units[task]
                if eligible.get(unit)
            }
            targets = _largest_remainder(family_totals[task], weights)
            rows = {}
            for unit in units[task]:
                target = targets.get(unit, 0)
                if part["cap"] is not None:
                    target = min(target, part["cap"])
                n = eligible.get(unit, 0)
                target = min(target, n * recipe["max_reuse"])
                whole, remainder = divmod(target, n) if n else (0, 0)
                rows[unit] = {
                    "eligible": n,
                    "target": target,
                    "whole": whole,
                    "remainder": remainder,
                    "threshold": -1.0,  # set by add_thresholds when remainder > 0
                }
            plan["splits"][split][task] = rows
    return plan


def plan_digest(plan: dict) -> str:
    """A short digest of a plan, recorded by shards so merge can refuse mixed plans."""
    blob = json.dumps(plan, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def shard_units(plan: dict, shard: int) -> list[tuple[str, str]]:
    """The ``(task, unit)`` pairs that shard ``shard`` generates."""
    shards = plan["recipe"]["shards"]
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} out of range: the plan has {shards} shard(s)")
    return [tuple(pair) for index, pair in enumerate(plan["units"]) if index % shards == shard]


@contextlib.contextmanager
def fewer_collections(threshold: int = 10_000):
    """Run the young-generation garbage collector every ``threshold`` allocations, not 700.

    Synthesis allocates millions of short-lived dicts and strings that reference counting
    frees, while large long-lived tables (hygiene indexes, caches) make every collection
    slow: Python's default spends about 10% of a shard's time in the collector. Records and
    examples form no reference cycles, so memory does not grow. Used as a decorator.
    """
    previous = gc.get_threshold()
    gc.set_threshold(threshold, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


# --------------------------------------------------------------------------- hygiene


class Hygiene:
    """The filters of one shard, with a bounded cache of verdicts per text and a count per
    reason. Checks run batched (``prepare``, ``duplicates``): one call per chunk of records."""

    CACHE = 200_000  # cached verdicts; cleared when full, so memory stays bounded

    def __init__(self, settings: dict, forbidden_texts: Iterable[str], languages=None):
        from bayling_pipeline.synthesize import hygiene as H

        self.H, self.settings = H, settings
        forbidden = [text for text in forbidden_texts if text.strip()]
        # Test texts too short for the n-gram index (under 3 words or 6 characters of an
        # unspaced script) are kept out by exact match after normalization; a training
        # text can only equal one if it is short too, so only short texts are normalized.
        short = [text for text in forbidden if len(text) <= 40]
        self.forbidden = {H.normalize(text) for text in short}
        self.short_limit = 2 * max(map(len, short), default=0)
        self.contamination = H.ContaminationIndex.from_texts(
            forbidden,
            word_n=settings["contamination_word_n"],
            char_n=settings["contamination_char_n"],
        )
        self.identifier = (
            H.LanguageIdentifier(languages, threshold=settings["min_language_probability"])
            if settings["language_id"]
            else None
        )
        self.drops = {split: Counter() for split in SPLITS}
        self._verdicts: dict = {}
        self._dedup: dict = {}  # split -> (task, unit) -> NearDuplicateIndex
        self._fingerprinter = self._new_index()

    def prepare(self, segments: Iterable[tuple[str, str]]) -> None:
        """Judge every not yet judged ``(language, text)`` at once (batched n-gram lookups
        and language identification)."""
        wanted = dict.fromkeys(segments)
        if len(self._verdicts) + len(wanted) > self.CACHE:
            # keep what this batch asks for, so callers can read every verdict afterwards
            old = self._verdicts
            self._verdicts = {key: old[key] for key in wanted if key in old}
        todo = [key for key in wanted if key not in self._verdicts]
        if not todo:
            return
        verdicts = dict.fromkeys(todo)
        for key in todo:
            if not key[1].strip():
                verdicts[key] = "empty_turn"
            elif len(key[1]) <= self.short_limit and self.H.normalize(key[1]) in self.forbidden:
                verdicts[key] = "contaminated"
        open_ = [key for key in todo if verdicts[key] is None]
        for key, hit in zip(
            open_, self.contamination.match_many([t for _, t in open_]), strict=True
        ):
            if hit is not None:
                verdicts[key] = "contaminated"
        if self.identifier is not None:
            open_ = [key for key in todo if verdicts[key] is None]
            texts, codes = [t for _, t in open_], [c for c, _ in open_]
            for key, ok in zip(open_, self.identifier.agrees_many(texts, codes), strict=True):
                if not ok:
                    verdicts[key] = "wrong_language"
        self._verdicts.update(verdicts)

    def segment_problem(self, code: str, text: str) -> str | None:
        """Why a corpus or teacher text may not be used, or None."""
        self.prepare([(code, text)])
        return self._verdicts[code, text]

    def draft_problem(self, draft: F.Draft) -> str | None:
        """The first reason to drop a draft's corpus segments, or None (its segments are
        judged here unless a ``prepare`` call has judged them already)."""
        verdicts = self._verdicts
        for key in draft.segments.items():
            problem = verdicts[key] if key in verdicts else self.segment_problem(*key)
            if problem:
                return problem
        src, tgt = draft.languages[:2]
        if src in draft.segments and tgt in draft.segments:
            ok = self.H.length_ratio_ok(
                draft.segments[src],
                draft.segments[tgt],
                src,
                tgt,
                max_ratio=self.settings["max_length_ratio"],
            )
            if not ok:
                return "length_ratio"
        return None

    def duplicates(self, split: str, checks: Sequence[tuple[str, str, str]]) -> list:
        """For each ``(task, unit, text)`` in order: "duplicate" / "near_duplicate" if the
        unit has had the text (earlier in the stream or in ``checks``), else None (and the
        unit remembers it). A text checked for several units is fingerprinted once."""
        distinct = list(dict.fromkeys(text for _, _, text in checks))
        indexes = self._dedup.setdefault(split, {})
        for task, unit, _ in checks:
            if (task, unit) not in indexes:
                indexes[task, unit] = self._new_index()
        # every index has the same parameters, so any one fingerprints for all
        fingerprint = dict(zip(distinct, self._fingerprinter.fingerprints(distinct), strict=True))
        reasons = {"exact": "duplicate", "near": "near_duplicate"}
        return [
            reasons.get(indexes[task, unit].check_and_add_fingerprints([fingerprint[text]])[0])
            for task, unit, text in checks
        ]

    def _new_index(self):
        return self.H.NearDuplicateIndex(threshold=self.settings["near_duplicate_threshold"])


def _primary_text(task: str, unit: str, texts: dict[str, str]) -> str:
    """The text a unit's duplicates are judged by: the source, or the focus language's."""
    if task in ("single_turn", "interactive"):
        return texts[parse_pair(unit)[0]]
    if task == "instruction_cross_lingual":
        return texts["instruction"]
    return texts[unit]


# --------------------------------------------------------------------------- shard


def draw(seed, split: str, task: str, unit: str, record_id: str) -> float:
    """The record's uniform draw for a unit; the smallest ``remainder`` ones get one more."""
    return unit_draw(seed, split, task, unit)(record_id)


def unit_draw(seed, split: str, task: str, unit: str) -> Callable[[str], float]:
    """``draw`` with the unit fixed: a function of the record id (the hot loops' form)."""
    prefix = f"{seed}:{split}:{task}:{unit}:"
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes

    def draw_record(record_id: str) -> float:
        digest = blake2b(f"{prefix}{record_id}".encode(), digest_size=8).digest()
        return from_bytes(digest, "big") / 2**64

    return draw_record


def add_thresholds(plan: dict, split: str, records: Iterable[dict], instructions=()) -> None:
    """Set each unit's ``threshold``: the ``remainder``-th smallest draw of its eligible
    records (a bounded heap per unit: memory grows with the targets, not the corpus)."""
    recipe, rows = plan["recipe"], plan["splits"][split]
    cross_units = [unit for task, unit in plan["units"] if task == "cross_lingual"]
    options = {task: generator_options(recipe, task, cross_units) for task in TASKS}
    wanted = [
        (task, unit, row["remainder"], unit_draw(recipe["seed"], split, task, unit))
        for task in TASKS
        for unit, row in rows[task].items()
        if row["remainder"]
    ]
    heaps: dict = {(task, unit): [] for task, unit, *_ in wanted}
    for kind, _, record_id, texts in _sources(records, instructions):
        for task, unit, remainder, unit_draw_of in wanted:
            if (kind == 1) != (task in F.TEACHER_FAMILIES):
                continue
            if not F.eligible(task, unit, texts, options[task]):
                continue
            heap = heaps[task, unit]
            value = -unit_draw_of(record_id)  # a max-heap
            if len(heap) < remainder:
                heapq.heappush(heap, value)
            elif value > heap[0]:
                heapq.heapreplace(heap, value)
    for task, unit, *_ in wanted:
        rows[task][unit]["threshold"] = -heaps[task, unit][0]


def copies(row: dict, value: float) -> int:
    """Examples a record with draw ``value`` gives a unit under its plan ``row``."""
    return row["whole"] + (value <= row["threshold"])


def _sources(records: Iterable[dict], instructions: Iterable[dict]) -> Iterator[tuple]:
    """``(kind, line, record id, texts)``: corpus records (kind 0), then instructions (1)."""
    for line, record in enumerate(records, start=1):
        yield 0, line, record["id"], F.texts_of(record)
    for line, record in enumerate(instructions, start=1):
        yield 1, line, record.get("id", f"instruction-{line}"), F.instruction_texts(record)


def generate_split(
    plan: dict,
    split: str,
    units: Sequence[tuple[str, str]],
    records: Iterable[dict],
    instructions: Iterable[dict],
    corpus_name: str,
    hygiene: Hygiene,
    teacher=None,
    teacher_batch: int = 64,
    chunk: int = 2048,
) -> Iterator[dict]:
    """Yield the examples of ``units`` for one split, in canonical order.

    Records are taken ``chunk`` at a time so that hygiene runs batched; teacher requests
    are sent ``teacher_batch`` at a time (examples wait, in order, for their answers).
    """
    recipe, rows = plan["recipe"], plan["splits"][split]
    cross_units = [unit for task, unit in plan["units"] if task == "cross_lingual"]
    options = {task: generator_options(recipe, task, cross_units) for task in TASKS}
    by_kind: dict[int, list] = {0: [], 1: []}
    for task, unit in units:
        if rows[task][unit]["target"] > 0:
            kind = 1 if task in F.TEACHER_FAMILIES else 0
            draw_of = unit_draw(recipe["seed"], split, task, unit)
            by_kind[kind].append((task, unit, rows[task][unit], draw_of))
    for entries in by_kind.values():
        entries.sort(key=lambda entry: (TASKS.index(entry[0]), entry[1]))
    pending: list = []  # examples waiting, in order, for the teacher's answers
    waiting = 0
    sources = _sources(records, instructions)
    while block := list(itertools.islice(sources, chunk)):
        for draft, meta in _chunk_drafts(
            block, by_kind, options, recipe["seed"], split, corpus_name, hygiene
        ):
            pending.append((draft, meta))
            waiting += draft.teacher is not None
            if waiting >= teacher_batch:
                yield from _flush(pending, teacher, hygiene, split)
                pending, waiting = [], 0
        if not waiting:
            yield from _flush(pending, teacher, hygiene, split)
            pending = []
    yield from _flush(pending, teacher, hygiene, split)


def _chunk_drafts(block, by_kind, options, seed, split, corpus_name, hygiene: Hygiene):
    """The drafts of a chunk of records that pass hygiene, in canonical order."""
    candidates = []  # (kind, line, record id, task, unit, texts, copies)
    for kind, line, record_id, texts in block:
        for task, unit, row, draw_of in by_kind[kind]:
            if F.eligible(task, unit, texts, options[task]):
                n = copies(row, draw_of(record_id))
                if n:
                    candidates.append((kind, line, record_id, task, unit, texts, n))
    # duplicates: one batched call, in stream order (each unit sees its texts in order)
    reasons = hygiene.duplicates(
        split,
        [(task, unit, _primary_text(task, unit, texts)) for *_, task, unit, texts, _ in candidates],
    )
    drafts = []
    for (kind, line, record_id, task, unit, texts, n), reason in zip(
        candidates, reasons, strict=True
    ):
        for copy in range(n):
            if reason:
                hygiene.drops[split][reason] += 1
                continue
            rng = F.seeded_rng(seed, split, task, unit, record_id, copy)
            drafts.append(
                (
                    kind,
                    line,
                    record_id,
                    task,
                    unit,
                    copy,
                    F.generate(task, unit, texts, options[task], rng),
                )
            )
    hygiene.prepare((code, text) for *_, draft in drafts for code, text in draft.segments.items())
    for kind, line, record_id, task, unit, copy, draft in drafts:
        problem = hygiene.draft_problem(draft)
        if problem:
            hygiene.drops[split][problem] += 1
            continue
        corpus = "instructions" if kind == 1 else corpus_name
        meta = {
            "task": task,
            "unit": unit,
            "copy": copy,
            "templates": draft.templates,
            "languages": draft.languages,
            "source": {"corpus": corpus, "id": record_id, "line": line},
            "seed": seed,
        }
        yield draft, meta


def _flush(pending, teacher, hygiene: Hygiene, split: str) -> Iterator[dict]:
    """Ask the teacher for the waiting answers (one batch), then yield in order."""
    asked = [draft for draft, _ in pending if draft.teacher is not None]
    answers = iter(teacher.complete([d.teacher.conversation for d in asked]) if asked else [])
    for draft, meta in pending:
        if draft.teacher is not None:
            answer = next(answers).strip()
            previous = [m["content"] for m in draft.messages if m["role"] == "assistant"]
            # a teacher that repeats the last answer has not done what was asked
            echo = bool(previous) and answer == previous[-1].strip()
            problem = "teacher_echo" if echo else None
            problem = problem or hygiene.segment_problem(draft.teacher.answer_language, answer)
            if problem:
                hygiene.drops[split][problem] += 1
                continue
            draft.messages.append({"role": "assistant", "content": answer})
            meta["teacher"] = {
                "model": teacher.model_id,
                "action": draft.teacher.action,
                "prompt_template": draft.teacher.prompt_template,
            }
        yield {"messages": draft.messages, "meta": meta}


@fewer_collections()
def write_shard(
    plan: dict,
    shard: int,
    read_split,
    corpus_name: str,
    forbidden_texts: Iterable[str],
    out_dir,
    teacher=None,
    teacher_batch: int = 64,
) -> dict:
    """Generate shard ``shard`` of ``plan`` into ``out_dir`` (atomically, as a directory).

    ``read_split(split)`` returns fresh ``(records, instructions)`` iterators for a split
    (files are streamed twice: once for train, once for dev). Returns the shard's summary.
    """
    units = shard_units(plan, shard)
    hygiene = Hygiene(plan["recipe"]["hygiene"], forbidden_texts)
    summary = {"plan": plan_digest(plan), "shard": shard, "units": units, "examples": {}}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for split in SPLITS:
            corpus, extra = read_split(split)
            count = 0
            with open(tmp / f"{split}.jsonl", "wb") as handle:
                for example in generate_split(
                    plan, split, units, corpus, extra, corpus_name, hygiene, teacher, teacher_batch
                ):
                    handle.write(orjson.dumps(example) + b"\n")
                    count += 1
            summary["examples"][split] = count
            log.info("shard %d: %d %s examples", shard, count, split)
        summary["drops"] = {split: dict(sorted(hygiene.drops[split].items())) for split in SPLITS}
        if hygiene.identifier is not None:
            summary["language_id"] = hygiene.identifier.stats.as_dict()
        write_json(tmp / "summary.json", summary)
    return summary


# --------------------------------------------------------------------------- merge


def _order(item: tuple[str, dict]) -> tuple:
    meta = item[1]["meta"]
    kind = meta["source"]["corpus"] == "instructions"
    return (kind, meta["source"]["line"], TASKS.index(meta["task"]), meta["unit"], meta["copy"])


def _stream(path: Path) -> Iterator[tuple[bytes, dict]]:
    """``(line, example)`` of a shard file (the line is written back as it is)."""
    with open(path, "rb") as handle:
        for line in handle:
            yield line, orjson.loads(line)


class _Stats:
    """Streaming counts per family, language, turn count, template, and length figures.

    Memory is bounded whatever the dataset size: examples are counted by their kind (task,
    languages, turns, templates, teacher action), lengths as histograms, and source records
    as they change (examples arrive in canonical order, a record's examples adjacent).
    """

    def __init__(self):
        self.kinds: Counter = Counter()
        self.records, self._last_record = 0, None
        self.lengths = {role: {"chars": Counter(), "words": Counter()} for role in ROLES}

    def add(self, example: dict) -> None:
        meta, messages = example["meta"], example["messages"]
        teacher = meta["teacher"]["action"] if "teacher" in meta else None
        kind = (meta["task"], tuple(meta["languages"]), len(messages) // 2)
        self.kinds[(*kind, tuple(meta["templates"]), teacher)] += 1
        source = meta["source"]
        record = (source["corpus"], source["line"])
        if record != self._last_record:
            self.records, self._last_record = self.records + 1, record
        lengths = self.lengths
        for message in messages:
            content, of_role = message["content"], lengths[message["role"]]
            of_role["chars"][len(content)] += 1
            of_role["words"][len(content.split())] += 1

    def as_dict(self) -> dict:
        tasks, languages, turns = Counter(), Counter(), Counter()
        templates, directions, teacher = Counter(), Counter(), Counter()
        for (task, codes, turn_count, refs, action), count in self.kinds.items():
            tasks[task] += count
            for code in codes:
                languages[code] += count
            turns[str(turn_count)] += count
            for ref in refs:
                templates[ref] += count
            directions[f"{codes[0]}-{codes[1]}"] += count
            if action is not None:
                teacher[action] += count
        return {
            "examples": sum(tasks.values()),
            "records": self.records,
            "tasks": dict(sorted(tasks.items())),
            "languages": dict(sorted(languages.items())),
            "turns": dict(sorted(turns.items())),
            "templates": dict(sorted(templates.items())),
            "directions": dict(sorted(directions.items())),
            "teacher_turns": dict(sorted(teacher.items())),
            "lengths": {
                role: {unit: _summary(histogram) for unit, histogram in figures.items()}
                for role, figures in self.lengths.items()
            },
        }


def _summary(histogram: Counter) -> dict:
    """Count, mean, median, 95th percentile and maximum of a histogram {value: count}."""
    total = sum(histogram.values())
    if not total:
        return {"turns": 0}
    values = sorted(histogram)
    wanted = {q: min(total - 1, int(q * total)) for q in (0.5, 0.95)}  # rank in sorted order
    picked, seen = {}, 0
    for value in values:
        seen += histogram[value]
        for q, rank in wanted.items():
            if q not in picked and rank < seen:
                picked[q] = value
    return {
        "turns": total,
        "mean": round(sum(value * count for value, count in histogram.items()) / total, 2),
        "p50": picked[0.5],
        "p95": picked[0.95],
        "max": values[-1],
    }


@fewer_collections()
def merge_shards(plan: dict, shard_dirs: Sequence, out_train, out_dev, out_stats, out_samples):
    """Merge shard directories into the dataset files; returns the stats written."""
    summaries = [read_json(Path(d) / "summary.json") for d in shard_dirs]
    digest = plan_digest(plan)
    seen_shards = sorted(s["shard"] for s in summaries)
    if any(s["plan"] != digest for s in summaries) or seen_shards != list(
        range(plan["recipe"]["shards"])
    ):
        raise ValueError(
            f"merge: shards {seen_shards} do not all come from this plan ({digest});"
            f" expected shards 0..{plan['recipe']['shards'] - 1}"
        )
    # the shard count is left out: the files do not depend on it, nor does their summary
    recipe = {key: value for key, value in plan["recipe"].items() if key != "shards"}
    stats = {"recipe": recipe, "plan": plan["splits"]}
    samples = _Samples()
    for split, out in (("train", out_train), ("dev", out_dev)):
        drops = Counter()
        for summary in summaries:
            drops.update(summary["drops"][split])
        seen: set[bytes] = set()
        split_stats = _Stats()
        streams = [_stream(Path(d) / f"{split}.jsonl") for d in shard_dirs]
        with atomic_path(out) as tmp, open(tmp, "wb") as handle:
            merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=_order)
            for line, example in merged:
                dialogue = "\0".join(f"{m['role']}\0{m['content']}" for m in example["messages"])
                key = hashlib.blake2b(dialogue.encode("utf-8"), digest_size=12).digest()
                if key in seen:
                    drops["duplicate_example"] += 1
                    continue
                seen.add(key)
                handle.write(line)
                split_stats.add(example)
                if split == "train":
                    samples.offer(example)
        unknown = set(drops) - set(DROP_REASONS)
        if unknown:
            raise ValueError(f"merge: shards report unknown drop reasons {sorted(unknown)}")
        dropped = {reason: drops[reason] for reason in DROP_REASONS}
        stats[split] = {**split_stats.as_dict(), "dropped": dropped}
    write_json(out_stats, stats)
    write_text(out_samples, samples_markdown(samples.chosen, plan["recipe"]))
    return stats


class _Samples:
    """The dialogues shown to a human: the first two of each family, plus the first with
    a teacher turn of each family (offered every example, so constant time per offer)."""

    def __init__(self, per_task: int = 2):
        self.per_task, self.chosen = per_task, []
        self._count: Counter = Counter()
        self._with_teacher: set[str] = set()

    def offer(self, example: dict) -> None:
        meta = example["meta"]
        task, teacher = meta["task"], "teacher" in meta
        if self._count[task] < self.per_task or (teacher and task not in self._with_teacher):
            self.chosen.append(example)
            self._count[task] += 1
            if teacher:
                self._with_teacher.add(task)


def samples_markdown(examples: Sequence[dict], recipe: dict) -> str:
    """A Markdown page with sample dialogues of each task family, verbatim."""
    lines = [
        "# Synthesized instructions: samples",
        "",
        "The first dialogues of each task family in the training file (and the first with a"
        " teacher-written answer), verbatim.",
    ]
    for task in TASKS:
        chosen = [e for e in examples if e["meta"]["task"] == task]
        lines += ["", f"## {task}", ""]
        if not chosen:
            lines.append("(none in this recipe)")
        for number, example in enumerate(chosen, start=1):
            meta = example["meta"]
            teacher = (
                f"; answer by teacher `{meta['teacher']['model']}`" if "teacher" in meta else ""
            )
            lines += [
                f"### {task} {number}: {meta['source']['corpus']} record `{meta['source']['id']}`"
                f" (line {meta['source']['line']})",
                "",
                f"languages {' → '.join(meta['languages'])};"
                f" templates {', '.join(meta['templates'])}{teacher}",
                "",
            ]
            for message in example["messages"]:
                fence = "`" * max(3, _longest_backtick_run(message["content"]) + 1)
                lines += [
                    f"**{message['role']}**",
                    "",
                    fence + "text",
                    message["content"],
                    fence,
                    "",
                ]
    return "\n".join(lines).rstrip() + "\n"


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


# --------------------------------------------------------------------------- in one go


def synthesize_dataset(
    train: str,
    dev: str,
    recipe: dict,
    corpus_name: str,
    forbidden_texts: Iterable[str],
    work_dir,
    out_train,
    out_dev,
    out_stats,
    out_samples,
    instructions: str | None = None,
    teacher=None,
) -> dict:
    """plan, every shard, merge: the three steps in one process (tests and benchmarks)."""
    work_dir = Path(work_dir)
    plan = plan_from_files(recipe, train, dev, instructions)
    write_json(work_dir / "plan.json", plan)
    forbidden = list(forbidden_texts)
    shard_dirs = []
    for shard in range(plan["recipe"]["shards"]):
        shard_dirs.append(work_dir / "shards" / str(shard))
        read_split = split_reader(train, dev, instructions)
        write_shard(plan, shard, read_split, corpus_name, forbidden, shard_dirs[-1], teacher)
    return merge_shards(plan, shard_dirs, out_train, out_dev, out_stats, out_samples)


def split_reader(train: str, dev: str, instructions: str | None):
    """``read_split(split)`` over the split files; instructions are read for train only."""

    def read_split(split: str):
        corpus = read_jsonl(train if split == "train" else dev)
        extra = read_jsonl(instructions) if instructions and split == "train" else iter(())
        return corpus, extra

    return read_split


@fewer_collections()
def plan_from_files(recipe: dict, train: str, dev: str, instructions: str | None) -> dict:
    """Count both splits, make the plan, then fix the draw thresholds (streaming, twice)."""
    recipe = validate_recipe(recipe)
    read = split_reader(train, dev, instructions)
    counts, languages = {}, []
    for split in SPLITS:
        corpus, extra = read(split)
        counts[split], found = count_eligible(corpus, recipe, extra)
        languages = found if split == "train" else languages
    plan = make_plan(recipe, counts, languages)
    for split in SPLITS:
        add_thresholds(plan, split, *read(split))
    return plan


# --------------------------------------------------------------------------- command line


def read_forbidden(paths: Iterable[str]) -> list[str]:
    """Test-set texts: every text of a ``.jsonl`` multi-way file, every turn of a BayLing-80
    style dialogue file, or every line of a text file; sorted, unique."""
    texts: set[str] = set()
    for path in paths:
        if str(path).endswith(".jsonl"):
            for record in read_jsonl(path):
                texts.update(_record_texts(record))
        else:
            texts.update(read_lines(path))
    return sorted(texts)


def _record_texts(record) -> Iterator[str]:
    if isinstance(record, str):
        yield record
    elif isinstance(record, dict):
        for value in record.values():
            yield from _record_texts(value)
    elif isinstance(record, list):
        for value in record:
            yield from _record_texts(value)


def _read_recipe(path: str) -> dict:
    if Path(path).suffix in {".yaml", ".yml"}:
        import yaml

        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    return read_json(path)


def build_teacher_for(recipe: dict, cache: str | None, model_dir: str | None, threads=None):
    """The recipe's teacher (or None), cached in ``cache``; a local one runs ``model_dir``.

    The config names a local teacher by its key of ``models`` (the rule turns it into the
    staged directory) and an endpoint by its model name; the rest maps onto the backend.
    """
    spec = recipe.get("teacher")
    if not spec:
        return None
    from bayling_pipeline.synthesize.teacher import build_teacher

    if spec.get("backend", "local") == "local":
        if not model_dir:
            raise ValueError("a local teacher needs its model directory (--teacher-model)")
        built = {
            "backend": "local",
            "model_dir": model_dir,
            "max_new_tokens": spec.get("max_new_tokens", 128),
            "batch_size": spec.get("batch_size", 8),
            "threads": threads,
        }
    else:
        built = {
            "backend": "openai",
            "base_url": spec["base_url"],
            "model": spec["model"],
            "api_key_env": spec.get("api_key_env", "OPENAI_API_KEY"),
            "requests_per_minute": spec.get("requests_per_minute", 60),
            "max_new_tokens": spec.get("max_new_tokens", 128),
        }
    return build_teacher(built, cache_path=cache)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    plan_p = steps.add_parser("plan", help="count eligible records, write targets")
    plan_p.add_argument("--recipe", required=True, help="JSON or YAML recipe")
    plan_p.add_argument("--train", required=True)
    plan_p.add_argument("--dev", required=True)
    plan_p.add_argument("--instructions", help="JSONL instructions (Alpaca format)")
    plan_p.add_argument("--out", required=True)
    shard_p = steps.add_parser("shard", help="generate one shard's examples")
    shard_p.add_argument("--plan", required=True)
    shard_p.add_argument("--shard", type=int, required=True)
    shard_p.add_argument("--train", required=True)
    shard_p.add_argument("--dev", required=True)
    shard_p.add_argument("--instructions")
    shard_p.add_argument("--corpus-name", required=True)
    shard_p.add_argument("--forbidden", nargs="*", default=[], help="test-set files")
    shard_p.add_argument("--teacher-model", help="local teacher model directory")
    shard_p.add_argument("--teacher-cache", help="teacher response cache (SQLite)")
    shard_p.add_argument("--threads", type=int, default=1)
    shard_p.add_argument("--out", required=True)
    merge_p = steps.add_parser("merge", help="merge shards into the dataset files")
    merge_p.add_argument("--plan", required=True)
    merge_p.add_argument("--shards", nargs="+", required=True)
    for name in ("train", "dev", "stats", "samples"):
        merge_p.add_argument(f"--out-{name}", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.step == "plan":
        recipe = _read_recipe(args.recipe)
        write_json(args.out, plan_from_files(recipe, args.train, args.dev, args.instructions))
    elif args.step == "shard":
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        plan = read_json(args.plan)
        teacher = build_teacher_for(
            plan["recipe"], args.teacher_cache, args.teacher_model, args.threads
        )
        summary = write_shard(
            plan,
            args.shard,
            split_reader(args.train, args.dev, args.instructions),
            args.corpus_name,
            read_forbidden(args.forbidden),
            args.out,
            teacher,
        )
        log.info("shard %d done: %s", args.shard, json.dumps(summary["drops"]))
    else:
        shards = sorted(args.shards, key=lambda d: int(Path(d).name))
        merge_shards(
            read_json(args.plan),
            shards,
            args.out_train,
            args.out_dev,
            args.out_stats,
            args.out_samples,
        )


if __name__ == "__main__":
    main()

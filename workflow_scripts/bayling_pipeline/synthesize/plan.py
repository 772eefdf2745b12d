"""Synthesis step 1, plan: the examples each family and unit gets, and from which records.

``python -m bayling_pipeline.synthesize plan --recipe ... --train ... --dev ... --out plan.json``
(see :mod:`bayling_pipeline.synthesize.cli`).

**plan** streams the corpus (and the instruction and general files) once and counts, per
family and *unit* (a direction, a language or a general file; see ``families``), the
records that can yield an example. Targets follow the recipe: ``examples`` (per split)
shared out over families by ``mix`` ratios, then over a family's units in proportion to
``weight * eligible**alpha`` (``alpha`` 0: equal shares; 1: proportional to the data),
capped by ``cap`` (high-resource pairs), every split by largest remainder, and at most
``max_reuse`` examples per eligible record (one per general record, used as it is). A
second pass fixes which records serve each unit: every eligible record ``whole`` times
(target // eligible), plus the ``target % eligible`` records with the smallest draw
``u(seed, split, family, unit, record id)``; the plan stores that draw's threshold.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from bayling_pipeline.synthesize import families as F
from bayling_pipeline.synthesize.general import general_records
from bayling_pipeline.synthesize.recipe import (
    SPLITS,
    file_units,
    generator_options,
    recipe_tasks,
    validate_recipe,
)
from bayling_pipeline.synthesize.streaming import fewer_collections, record_sources, split_reader


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


def count_eligible(
    records: Iterable[dict], recipe: dict, instructions: Iterable[dict] = (), general=()
):
    """``{task: {unit: eligible records}}`` for one split, and the corpus's languages.
    ``general``: the ``(line, record id, texts)`` of ``general.general_records``."""
    counts = {task: Counter() for task in recipe_tasks(recipe)}
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
    for _, _, texts in general:
        counts["general"][texts["unit"]] += F.eligible("general", texts["unit"], texts, {})
    return counts, sorted(languages)


def family_units(recipe: dict, task: str, corpus_languages: Sequence[str]) -> list[str]:
    """The units a family is generated for, sorted."""
    part = recipe[task]
    if not recipe["mix"][task]:
        return []
    if task in ("single_turn", "interactive"):
        return sorted(set(part["directions"]))
    if task == "general":
        return sorted(file_units(part["files"]))
    if part["languages"] == "all":
        return sorted(corpus_languages)
    return sorted(set(part["languages"]))


def make_plan(recipe: dict, counts: dict[str, dict], corpus_languages: Sequence[str]) -> dict:
    """Targets and rates per split, family and unit (see the module docstring).

    ``counts``: ``{split: {task: {unit: eligible}}}``. Raises ValueError naming a unit of
    the training split that no record can serve (a direction without data).
    """
    recipe = validate_recipe(recipe)
    tasks = recipe_tasks(recipe)
    units = {task: family_units(recipe, task, corpus_languages) for task in tasks}
    plan = {"recipe": recipe, "units": [], "splits": {}}
    for task in tasks:
        plan["units"] += [[task, unit] for unit in units[task]]
    for split, total in (("train", recipe["examples"]), ("dev", recipe["dev_examples"])):
        family_totals = _largest_remainder(total, recipe["mix"])
        plan["splits"][split] = {}
        for task in tasks:
            part, eligible = recipe[task], counts[split].get(task, {})
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
                target = min(target, n * _max_reuse(recipe, task))
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


def _max_reuse(recipe: dict, task: str) -> int:
    """Examples one record may give a unit: a general record gives one (its dialogue is
    used as it is, so a second copy would be the same example)."""
    return 1 if task == "general" else recipe["max_reuse"]


def plan_digest(plan: dict) -> str:
    """A short digest of a plan, recorded by shards so merge can refuse mixed plans."""
    blob = json.dumps(plan, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


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


def add_thresholds(
    plan: dict, split: str, records: Iterable[dict], instructions=(), general=()
) -> None:
    """Set each unit's ``threshold``: the ``remainder``-th smallest draw of its eligible
    records (a bounded heap per unit: memory grows with the targets, not the corpus)."""
    recipe, rows = plan["recipe"], plan["splits"][split]
    cross_units = [unit for task, unit in plan["units"] if task == "cross_lingual"]
    tasks = recipe_tasks(recipe)
    options = {task: generator_options(recipe, task, cross_units) for task in tasks}
    wanted = [
        (task, unit, row["remainder"], unit_draw(recipe["seed"], split, task, unit))
        for task in tasks
        for unit, row in rows[task].items()
        if row["remainder"]
    ]
    heaps: dict = {(task, unit): [] for task, unit, *_ in wanted}
    for kind, _, record_id, texts in record_sources(records, instructions, general):
        for task, unit, remainder, unit_draw_of in wanted:
            if kind != F.source_kind(task):
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


@fewer_collections()
def plan_from_files(recipe: dict, train: str, dev: str, instructions: str | None) -> dict:
    """Count both splits, make the plan, then fix the draw thresholds (streaming, twice)."""
    recipe = validate_recipe(recipe)
    read = split_reader(train, dev, instructions)
    counts, languages = {}, []
    for split in SPLITS:
        corpus, extra = read(split)
        general = general_records(recipe, split)
        counts[split], found = count_eligible(corpus, recipe, extra, general)
        languages = found if split == "train" else languages
    plan = make_plan(recipe, counts, languages)
    for split in SPLITS:
        add_thresholds(plan, split, *read(split), general_records(recipe, split))
    return plan

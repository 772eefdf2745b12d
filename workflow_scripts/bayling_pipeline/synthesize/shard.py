"""Synthesis step 2, shard: one shard's examples, through hygiene and the teacher.

``python -m bayling_pipeline.synthesize shard --plan plan.json --shard 0 --train ... --dev ...
--corpus-name ... --forbidden ... --out shards/0`` (see :mod:`bayling_pipeline.synthesize.cli`).

**shard** streams the corpus again and generates the examples of its units (unit ``i``
of the plan's sorted list goes to shard ``i % shards``): exactly the target count before
hygiene. Every choice inside an example comes from a seed made of the recipe seed,
split, family, unit, record id and copy number, never from a shared stream. Hygiene
(``shard_hygiene`` over ``hygiene``) drops, with a count per reason: test-set
contamination (exact or a shared long n-gram), a text not in its language (offline
language identification), a length ratio out of range, a duplicate or near-duplicate
source within the unit, an empty teacher answer or one that repeats the previous answer;
for ``general`` dialogues (no one language): contamination and empty turns of every turn,
duplicates of the user turns within the file, a dialogue over ``general.max_chars``.
Teacher answers (``teacher``) are fetched in batches through the response cache.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence

import orjson

from bayling_pipeline.io import atomic_path, write_json
from bayling_pipeline.languages import parse_pair
from bayling_pipeline.synthesize import families as F
from bayling_pipeline.synthesize.general import general_records, user_side
from bayling_pipeline.synthesize.plan import copies, plan_digest, unit_draw
from bayling_pipeline.synthesize.recipe import ALL_TASKS, SPLITS, generator_options, recipe_tasks
from bayling_pipeline.synthesize.shard_hygiene import Hygiene
from bayling_pipeline.synthesize.streaming import fewer_collections, record_sources

log = logging.getLogger(__name__)


def shard_units(plan: dict, shard: int) -> list[tuple[str, str]]:
    """The ``(task, unit)`` pairs that shard ``shard`` generates."""
    shards = plan["recipe"]["shards"]
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} out of range: the plan has {shards} shard(s)")
    return [tuple(pair) for index, pair in enumerate(plan["units"]) if index % shards == shard]


def _primary_text(task: str, unit: str, texts: dict[str, str]) -> str:
    """The text a unit's duplicates are judged by: the source, or the focus language's."""
    if task in ("single_turn", "interactive"):
        return texts[parse_pair(unit)[0]]
    if task == "instruction_cross_lingual":
        return texts["instruction"]
    if task == "general":
        return user_side(texts)
    return texts[unit]


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
    general: Iterable[tuple] = (),
) -> Iterator[dict]:
    """Yield the examples of ``units`` for one split, in canonical order.

    Records are taken ``chunk`` at a time so that hygiene runs batched; teacher requests
    are sent ``teacher_batch`` at a time (examples wait, in order, for their answers).
    ``general``: the general records (``general.general_records``), in unit order.
    """
    recipe, rows = plan["recipe"], plan["splits"][split]
    cross_units = [unit for task, unit in plan["units"] if task == "cross_lingual"]
    options = {task: generator_options(recipe, task, cross_units) for task in recipe_tasks(recipe)}
    by_kind: dict[int, list] = {0: [], 1: [], 2: []}
    for task, unit in units:
        if rows[task][unit]["target"] > 0:
            draw_of = unit_draw(recipe["seed"], split, task, unit)
            by_kind[F.source_kind(task)].append((task, unit, rows[task][unit], draw_of))
    for entries in by_kind.values():
        entries.sort(key=lambda entry: (ALL_TASKS.index(entry[0]), entry[1]))
    pending: list = []  # examples waiting, in order, for the teacher's answers
    waiting = 0
    sources = record_sources(records, instructions, general)
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
    # one batched call: corpus segments by language, general turns (no language) as None
    hygiene.prepare(
        item
        for *_, draft in drafts
        for item in itertools.chain(
            draft.segments.items(), ((None, text) for text in draft.free_texts)
        )
    )
    for kind, line, record_id, task, unit, copy, draft in drafts:
        problem = hygiene.draft_problem(draft, options[task].get("max_chars"))
        if problem:
            hygiene.drops[split][problem] += 1
            continue
        # a general record's provenance is its file (the unit), by line and record id
        corpus = {0: corpus_name, 1: "instructions"}.get(kind, unit)
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
            general = general_records(
                plan["recipe"], split, [unit for task, unit in units if task == "general"]
            )
            count = 0
            with open(tmp / f"{split}.jsonl", "wb") as handle:
                for example in generate_split(
                    plan,
                    split,
                    units,
                    corpus,
                    extra,
                    corpus_name,
                    hygiene,
                    teacher,
                    teacher_batch,
                    general=general,
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

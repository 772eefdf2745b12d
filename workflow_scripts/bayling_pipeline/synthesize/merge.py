"""Synthesis step 3, merge: the shards' outputs joined into the dataset files.

``python -m bayling_pipeline.synthesize merge --plan plan.json --shards shards/* --out-train ...
--out-dev ... --out-stats ... --out-samples ...`` (see :mod:`bayling_pipeline.synthesize.cli`).

**merge** joins the shards' files in a canonical order (corpus line, family, unit,
copy) with a streaming k-way merge, drops exact duplicate dialogues, and writes the
training and dev files, ``stats.json`` and a Markdown page of sample dialogues.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson

from bayling_pipeline.io import atomic_path, read_json, write_json, write_text
from bayling_pipeline.synthesize import families as F
from bayling_pipeline.synthesize.plan import plan_digest
from bayling_pipeline.synthesize.recipe import ALL_TASKS, recipe_tasks
from bayling_pipeline.synthesize.streaming import fewer_collections

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
#: Reasons of the ``general`` family, listed in stats.json only when a recipe has it.
GENERAL_DROP_REASONS = ("too_long",)


def _order(item: tuple[str, dict]) -> tuple:
    """The canonical order: the shards' stream order (corpus, instructions, then the
    general files in unit order), then family, unit and copy."""
    meta = item[1]["meta"]
    kind = F.source_kind(meta["task"])
    source = meta["unit"] if kind == 2 else ""  # a general record's line is in its file
    task = ALL_TASKS.index(meta["task"])
    return (kind, source, meta["source"]["line"], task, meta["unit"], meta["copy"])


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
            if len(codes) >= 2:  # general dialogues have one language, or none given
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
    reasons = DROP_REASONS + (GENERAL_DROP_REASONS if "general" in recipe["mix"] else ())
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
        unknown = set(drops) - set(reasons)
        if unknown:
            raise ValueError(f"merge: shards report unknown drop reasons {sorted(unknown)}")
        dropped = {reason: drops[reason] for reason in reasons}
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
    for task in recipe_tasks(recipe):
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
                f"languages {' → '.join(meta['languages']) or 'not given'};"
                f" templates {', '.join(meta['templates']) or 'none (as written)'}{teacher}",
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

"""Synthesize BayLing-style chat instructions from a multi-way parallel corpus.

Run by the rule ``synthesize_instructions``; by hand, the same command::

    python -m bayling_pipeline.synthesize --corpus-name django \\
        --train results/download/django/train.jsonl --dev results/download/django/dev.jsonl \\
        --recipe results/synthesize/bayling-demo/recipe.json \\
        --forbidden results/download/django/test.jsonl \\
        --out-train results/synthesize/bayling-demo/train.jsonl \\
        --out-dev results/synthesize/bayling-demo/dev.jsonl \\
        --out-stats results/synthesize/bayling-demo/stats.json \\
        --out-samples results/synthesize/bayling-demo/samples.md

Three task families, every assistant answer taken verbatim from the corpus:

* ``single_turn``: one translation prompt (``templates.TRANSLATION``), one answer.
* ``interactive`` (BayLing): a translation, then 1..max_turns-1 follow-ups
  (``templates.FOLLOW_UP``) whose answers the same multi-way record holds: the text in a
  further language, the reference again containing a given term, the source again
  (back-translation), the current translation only. Follow-ups are written in the
  language of the first turn's instruction.
* ``cross_lingual`` (BayLing 2): an English or Chinese instruction about content in
  language A asking for the answer in language B, over all languages of the corpus: the
  languages are dealt from a shuffled deck, so each appears once the family has at least
  as many examples as languages.

Recipe (a dict; the workflow's JSON schema checks types, ``validate_recipe`` the rest;
a family left out, or with ``examples: 0``, is not generated)::

    {"seed": 1,                                   # int, required
     "single_turn": {"examples": 1200,            # int >= 0
                     "directions": ["eng_Latn-deu_Latn", ...],   # src-tgt pairs, >= 1
                     "templates": "all"},         # "all" or TRANSLATION ids
     "interactive": {"examples": 300,
                     "directions": ["eng_Latn-deu_Latn", ...],   # of the first turn
                     "max_turns": 3,              # user turns, >= 2 (default 3)
                     "follow_ups": "all",         # "all" or FOLLOW_UP_ACTIONS names
                     "templates": "all"},         # first-turn TRANSLATION ids
     "cross_lingual": {"examples": 300,
                       "languages": "all",        # "all" (the corpus's) or codes
                       "templates": "all"},       # "all" or CROSS_LINGUAL ids
     "dev_examples": 50}                          # int >= 0 (default 0), same mix as train

Determinism: records are taken in id order and every random choice comes from a
``random.Random`` seeded with ``"<seed>:<split>:<family>"`` (string seeds do not depend on
PYTHONHASHSEED), so the same corpus and recipe give byte-identical files, and changing
one family's count leaves the other families' examples unchanged. Records are dealt from
shuffled decks: every eligible record is used once before any is used twice. A pair of
languages whose two texts are identical (an untranslated string) is never used.
"""

from __future__ import annotations

import argparse
import logging
import random
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bayling_pipeline import templates as T
from bayling_pipeline.io import (
    read_json,
    read_jsonl,
    read_lines,
    write_json,
    write_jsonl,
    write_text,
)
from bayling_pipeline.languages import is_known, parse_pair
from bayling_pipeline.splits import LeakError  # one error type for every leak guard

log = logging.getLogger(__name__)

TASKS = ("single_turn", "interactive", "cross_lingual")

# Scripts written without spaces between words: a term is a span of 2-4 characters there.
# Thai, Lao, Khmer and Burmese are left out (no term): code points there are not characters.
_SPAN_SCRIPTS = {"Hans", "Hant", "Jpan"}
_UNSPACED_SCRIPTS = _SPAN_SCRIPTS | {"Thai", "Laoo", "Khmr", "Mymr"}
_EDGE_PUNCTUATION = "\"'“”‘’«»„‚.,;:!?¡¿()[]{}<>…—–-*_/\\|`~"


# --------------------------------------------------------------------------- recipe


def validate_recipe(recipe: dict) -> dict:
    """A copy of ``recipe`` with defaults filled in and template names resolved to ids.

    Raises ValueError for what a JSON schema cannot see: unknown template ids, follow-up
    actions or languages, malformed directions, ``max_turns`` below 2.
    """
    if not isinstance(recipe.get("seed"), int) or isinstance(recipe["seed"], bool):
        raise ValueError("recipe: 'seed' must be an integer")
    resolved: dict = {"seed": recipe["seed"], "dev_examples": int(recipe.get("dev_examples", 0))}
    specs = {
        "single_turn": (T.TRANSLATION, {"directions": None, "templates": "all"}),
        "interactive": (
            T.TRANSLATION,
            {"directions": None, "templates": "all", "max_turns": 3, "follow_ups": "all"},
        ),
        "cross_lingual": (T.CROSS_LINGUAL, {"languages": "all", "templates": "all"}),
    }
    for task, (registry, defaults) in specs.items():
        part = {"examples": 0, **defaults, **(recipe.get(task) or {})}
        if not isinstance(part["examples"], int) or part["examples"] < 0:
            raise ValueError(f"recipe: {task}.examples must be an integer >= 0")
        part["templates"] = _resolve_names(part["templates"], list(registry), f"{task}.templates")
        if "directions" in part:
            if not part["directions"]:
                if part["examples"]:
                    raise ValueError(f"recipe: {task}.directions must list at least one pair")
                part["directions"] = []
            for pair in part["directions"]:
                parse_pair(pair)  # ValueError on a malformed pair, unknown code or src == tgt
        if task == "interactive":
            if not isinstance(part["max_turns"], int) or part["max_turns"] < 2:
                raise ValueError("recipe: interactive.max_turns must be an integer >= 2")
            part["follow_ups"] = _resolve_names(
                part["follow_ups"], list(T.FOLLOW_UP_ACTIONS), "interactive.follow_ups"
            )
        if task == "cross_lingual" and part["languages"] != "all":
            unknown = [code for code in part["languages"] if not is_known(code)]
            if unknown or len(part["languages"]) < 2:
                raise ValueError(
                    f"recipe: cross_lingual.languages needs >= 2 known codes (unknown: {unknown})"
                )
        resolved[task] = part
    return resolved


def _resolve_names(value, known: list[str], where: str) -> list[str]:
    if value == "all":
        return list(known)
    if isinstance(value, str) or not value:
        raise ValueError(f"recipe: {where} must be 'all' or a non-empty list")
    unknown = [name for name in value if name not in known]
    if unknown:
        raise ValueError(f"recipe: {where}: unknown {unknown}; known: {', '.join(known)}")
    return list(value)


def dev_counts(recipe: dict) -> dict[str, int]:
    """``dev_examples`` shared out over the families in train proportions (largest remainder)."""
    total = sum(recipe[task]["examples"] for task in TASKS)
    wanted = recipe["dev_examples"]
    if not total:
        return dict.fromkeys(TASKS, 0)
    exact = {task: wanted * recipe[task]["examples"] / total for task in TASKS}
    counts = {task: int(share) for task, share in exact.items()}
    by_remainder = sorted(
        TASKS, key=lambda task: (-(exact[task] - counts[task]), TASKS.index(task))
    )
    for task in by_remainder[: wanted - sum(counts.values())]:
        counts[task] += 1
    return counts


# --------------------------------------------------------------------------- helpers


class _Deck:
    """Deal items in shuffled rounds: each item once per round (all before any repeats)."""

    def __init__(self, items: Sequence, rng: random.Random):
        self.items, self.rng, self.pile = list(items), rng, []

    def draw(self):
        if not self.pile:
            self.pile = list(self.items)
            self.rng.shuffle(self.pile)
        return self.pile.pop()


def _texts(record: dict) -> dict[str, str]:
    """The record's non-blank texts."""
    return {code: text for code, text in record["texts"].items() if text.strip()}


def _pairable(record: dict, src: str, tgt: str) -> bool:
    texts = _texts(record)
    return src in texts and tgt in texts and texts[src] != texts[tgt]


def _sorted_records(records: Iterable[dict]) -> list[dict]:
    ordered = sorted(records, key=lambda record: record["id"])
    for previous, record in zip(ordered, ordered[1:], strict=False):
        if previous["id"] == record["id"]:
            raise ValueError(f"corpus: record id {record['id']!r} occurs twice")
    return ordered


def _is_word(token: str) -> bool:
    return all(unicodedata.category(char)[0] in "LM" for char in token)


def pick_term(text: str, code: str) -> str | None:
    """A word or phrase of ``text`` that a 'use the term' follow-up can ask for, or None.

    Spaced scripts: the longest token of >= 4 letters (edge punctuation stripped; tokens
    with digits or symbols, like ``%(name)s``, are skipped; first of equal length).
    Chinese and Japanese (no word boundaries, no segmenter here): text is cut into runs of
    one kind of character (ideographs, katakana; hiragana runs are particles and inflection
    and are skipped); the term is the longest run of 2-4 characters or of katakana (one
    loanword), else the first two characters of the longest run (most Chinese words are two
    characters long).
    """
    script = code.partition("_")[2]
    if script in _SPAN_SCRIPTS:
        runs = [(kind, run) for kind, run in _character_runs(text) if kind != "hiragana"]
        fitting = [
            run for kind, run in runs if 2 <= len(run) and (len(run) <= 4 or kind == "katakana")
        ]
        if fitting:
            return max(fitting, key=len)
        longest = max((run for _, run in runs), key=len, default="")
        return longest[:2] if len(longest) >= 2 else None
    if script in _UNSPACED_SCRIPTS:
        return None
    tokens = [token.strip(_EDGE_PUNCTUATION) for token in text.split()]
    words = [token for token in tokens if len(token) >= 4 and _is_word(token)]
    return max(words, key=len) if words else None


def _character_kind(char: str) -> str | None:
    if "\u3040" <= char <= "\u309f":
        return "hiragana"
    if "\u30a0" <= char <= "\u30ff" or "\uff66" <= char <= "\uff9f":
        return "katakana"  # the prolonged-sound mark U+30FC included
    # Lo: ideographs and other letters without case; Latin letters ("Django",
    # "%(field)s") and digits in a Chinese string are never the term.
    return "ideograph" if unicodedata.category(char) == "Lo" else None


def _character_runs(text: str) -> list[tuple[str, str]]:
    """``(kind, run)`` for each maximal run of characters of one kind."""
    runs: list[tuple[str, str]] = []
    previous = None
    for char in text:
        kind = _character_kind(char)
        if kind is not None:
            if kind == previous:
                runs[-1] = (kind, runs[-1][1] + char)
            else:
                runs.append((kind, char))
        previous = kind
    return runs


def _message(role: str, content: str) -> dict:
    return {"role": role, "content": content}


@dataclass
class _Example:
    record: dict
    task: str
    messages: list[dict] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)

    def turn(self, template: T.Template, prompt: str, answer: str, *languages: str) -> None:
        self.messages += [_message("user", prompt), _message("assistant", answer)]
        self.templates.append(T.template_ref(template))
        self.languages += [code for code in languages if code not in self.languages]

    def to_json(self, corpus_name: str, seed: int) -> dict:
        meta = {
            "task": self.task,
            "templates": self.templates,
            "languages": self.languages,
            "source": {"corpus": corpus_name, "id": self.record["id"]},
            "seed": seed,
        }
        return {"messages": self.messages, "meta": meta}


# --------------------------------------------------------------------------- families


def _direction_decks(records, directions, rng, task, eligible=_pairable) -> dict[str, _Deck]:
    decks = {}
    for pair in directions:
        src, tgt = parse_pair(pair)
        pool = [record for record in records if eligible(record, src, tgt)]
        if not pool:
            raise ValueError(f"{task}: no record has distinct {src} and {tgt} texts ({pair})")
        decks[pair] = _Deck(pool, rng)
    return decks


def _single_turn(records, part, rng) -> list[_Example]:
    decks = _direction_decks(records, part["directions"], rng, "single_turn")
    template_deck = _Deck([T.TRANSLATION[id_] for id_ in part["templates"]], rng)
    examples = []
    for index in range(part["examples"]):
        pair = part["directions"][index % len(part["directions"])]
        src, tgt = parse_pair(pair)
        record, template = decks[pair].draw(), template_deck.draw()
        texts = _texts(record)
        example = _Example(record, "single_turn")
        prompt = T.render(template, src=src, tgt=tgt, source=texts[src])
        example.turn(template, prompt, texts[tgt], src, tgt)
        examples.append(example)
    return examples


@dataclass
class _Dialogue:
    """What an interactive dialogue has said so far, to know which follow-ups fit."""

    texts: dict[str, str]
    src: str
    focus: str  # language of the latest answer
    done: set = field(default_factory=set)  # (action, language) pairs already used

    def further_languages(self) -> list[str]:
        """Languages not shown yet whose text is not the (untranslated) source."""
        shown = {self.src, self.focus} | {code for action, code in self.done if action == "lang"}
        source = self.texts[self.src]
        return sorted(c for c, t in self.texts.items() if c not in shown and t != source)

    def available(self, actions: Sequence[str]) -> list[str]:
        translated = self.focus != self.src
        ok = {
            "further_language": bool(self.further_languages()),
            "use_term": translated
            and ("term", self.focus) not in self.done
            and pick_term(self.texts[self.focus], self.focus) is not None,
            "back_translate": translated and ("back", None) not in self.done,
            "only_translation": translated and ("only", None) not in self.done,
        }
        return [action for action in actions if ok[action]]


def _interactive_eligible(actions):
    def eligible(record, src, tgt):
        return _pairable(record, src, tgt) and bool(
            _Dialogue(_texts(record), src, tgt).available(actions)
        )

    return eligible


def _interactive(records, part, rng) -> list[_Example]:
    actions = part["follow_ups"]
    eligible = _interactive_eligible(actions)
    decks = _direction_decks(records, part["directions"], rng, "interactive", eligible)
    first_deck = _Deck([T.TRANSLATION[id_] for id_ in part["templates"]], rng)
    follow_decks = {
        (action, language): _Deck(T.follow_up_templates(action, language), rng)
        for action in T.FOLLOW_UP_ACTIONS
        for language in T.INSTRUCTION_LANGUAGES
    }
    examples = []
    for index in range(part["examples"]):
        pair = part["directions"][index % len(part["directions"])]
        src, tgt = parse_pair(pair)
        record, template = decks[pair].draw(), first_deck.draw()
        texts = _texts(record)
        example = _Example(record, "interactive")
        prompt = T.render(template, src=src, tgt=tgt, source=texts[src])
        example.turn(template, prompt, texts[tgt], src, tgt)
        state = _Dialogue(texts, src, tgt, {("lang", tgt)})
        for _ in range(rng.randint(1, part["max_turns"] - 1)):
            choices = state.available(actions)
            if not choices:
                break
            action = rng.choice(choices)
            _follow_up(example, state, action, follow_decks[action, template.language], rng)
        examples.append(example)
    return examples


def _follow_up(example: _Example, state: _Dialogue, action: str, deck: _Deck, rng) -> None:
    """Append one follow-up turn of ``action`` and update the dialogue state."""
    template, texts = deck.draw(), state.texts
    if action == "further_language":
        language = rng.choice(state.further_languages())
        state.done.add(("lang", language))
        state.focus = language
        prompt = T.render(template, src=state.src, tgt=language)
        example.turn(template, prompt, texts[language], language)
    elif action == "use_term":
        term = pick_term(texts[state.focus], state.focus)
        state.done.add(("term", state.focus))
        prompt = T.render(template, src=state.src, tgt=state.focus, term=term)
        example.turn(template, prompt, texts[state.focus])
    elif action == "back_translate":
        state.done.add(("back", None))
        prompt = T.render(template, src=state.src, tgt=state.focus)
        state.focus = state.src
        example.turn(template, prompt, texts[state.src])
    else:  # only_translation
        state.done.add(("only", None))
        prompt = T.render(template, src=state.src, tgt=state.focus)
        example.turn(template, prompt, texts[state.focus])


def corpus_languages(records: Iterable[dict]) -> list[str]:
    """All language codes with a non-blank text in some record, sorted."""
    return sorted({code for record in records for code in _texts(record)})


def _cross_lingual(records, part, rng) -> list[_Example]:
    present = corpus_languages(records)
    languages = present if part["languages"] == "all" else sorted(part["languages"])
    missing = sorted(set(languages) - set(present))
    if missing:
        raise ValueError(f"cross_lingual: languages not in the corpus: {missing}")
    chosen = set(languages)

    def partners(record: dict, code: str) -> list[str]:
        texts = _texts(record)
        return sorted(c for c in chosen & texts.keys() if c != code and texts[c] != texts[code])

    record_decks = {}
    for code in languages:
        pool = [r for r in records if code in _texts(r) and partners(r, code)]
        if not pool:
            raise ValueError(f"cross_lingual: no record pairs {code} with another language")
        record_decks[code] = _Deck(pool, rng)
    language_deck = _Deck(languages, rng)
    template_deck = _Deck([T.CROSS_LINGUAL[id_] for id_ in part["templates"]], rng)
    examples = []
    for _ in range(part["examples"]):
        code = language_deck.draw()
        record, template = record_decks[code].draw(), template_deck.draw()
        other = rng.choice(partners(record, code))
        src, tgt = (code, other) if rng.random() < 0.5 else (other, code)
        texts = _texts(record)
        example = _Example(record, "cross_lingual")
        prompt = T.render(template, src=src, tgt=tgt, source=texts[src])
        example.turn(template, prompt, texts[tgt], src, tgt)
        examples.append(example)
    return examples


_FAMILIES = {
    "single_turn": _single_turn,
    "interactive": _interactive,
    "cross_lingual": _cross_lingual,
}


# --------------------------------------------------------------------------- public API


def synthesize(
    records: Iterable[dict],
    recipe: dict,
    corpus_name: str,
    *,
    split: str = "train",
    counts: dict[str, int] | None = None,
) -> list[dict]:
    """Chat examples (see the module docstring) from multi-way ``records``.

    ``counts`` overrides the per-family example counts of the recipe (used for the dev
    set); ``split`` names the random streams, so train and dev draw differently. The
    families are interleaved by a seeded shuffle.
    """
    recipe = validate_recipe(recipe)
    ordered = _sorted_records(records)
    seed = recipe["seed"]
    examples = []
    for task in TASKS:
        part = dict(recipe[task])
        if counts is not None:
            part["examples"] = counts[task]
        if part["examples"]:
            rng = random.Random(f"{seed}:{split}:{task}")
            examples += [e.to_json(corpus_name, seed) for e in _FAMILIES[task](ordered, part, rng)]
    random.Random(f"{seed}:{split}:order").shuffle(examples)
    return examples


def check_leaks(
    examples: Sequence[dict], records: Iterable[dict], forbidden_texts: Iterable[str], split: str
) -> None:
    """Raise LeakError naming the first example that quotes a forbidden (test-set) text.

    A message quotes a text when the text is the whole message or one whole line of it, or
    is one of the corpus segments rendered into the dialogue (the texts of its record in
    ``meta.languages``); all compared stripped. Containment inside a longer segment is not a
    leak: test "Save" inside train "Save and continue" is a different sentence, and a
    substring test would fire on correct input.
    """
    forbidden = {text.strip() for text in forbidden_texts if text.strip()}
    if not forbidden:
        return
    by_id = {record["id"]: record for record in records}
    for index, example in enumerate(examples):
        meta = example["meta"]
        texts = by_id[meta["source"]["id"]]["texts"]
        pieces = {texts[code].strip() for code in meta["languages"]}
        for message in example["messages"]:
            content = message["content"]
            pieces |= {content.strip(), *(line.strip() for line in content.splitlines())}
        hits = sorted(pieces & forbidden)
        if hits:
            raise LeakError(
                f"{split} example {index} ({meta['task']}, record {meta['source']['id']!r})"
                f" quotes test-set text {hits[0]!r}"
            )


def dataset_stats(examples: Sequence[dict]) -> dict:
    """Counts per task, language, user-turn count, template and first-turn direction."""
    tasks, languages, turns, used, directions = (
        Counter(),
        Counter(),
        Counter(),
        Counter(),
        Counter(),
    )
    for example in examples:
        meta = example["meta"]
        tasks[meta["task"]] += 1
        languages.update(meta["languages"])
        turns[str(len(example["messages"]) // 2)] += 1
        used.update(meta["templates"])
        directions[f"{meta['languages'][0]}-{meta['languages'][1]}"] += 1
    return {
        "examples": len(examples),
        "records": len({example["meta"]["source"]["id"] for example in examples}),
        "tasks": dict(tasks),
        "languages": dict(languages),
        "turns": dict(turns),
        "templates": dict(used),
        "directions": dict(directions),
    }


def samples_markdown(examples: Sequence[dict], corpus_name: str, per_task: int = 2) -> str:
    """A Markdown page with the first ``per_task`` dialogues of each task family, verbatim."""
    lines = [
        f"# Synthesized instructions from `{corpus_name}`: samples",
        "",
        f"The first {per_task} dialogues of each task family in the training file, verbatim.",
    ]
    for task in TASKS:
        chosen = [e for e in examples if e["meta"]["task"] == task][:per_task]
        lines += ["", f"## {task}", ""]
        if not chosen:
            lines.append("(none in this recipe)")
        for number, example in enumerate(chosen, start=1):
            meta = example["meta"]
            lines += [
                f"### {task} {number}: record `{meta['source']['id']}`",
                "",
                f"languages {' → '.join(meta['languages'])};"
                f" templates {', '.join(meta['templates'])}",
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


def write_dataset(
    train_records: Sequence[dict],
    dev_records: Sequence[dict],
    recipe: dict,
    corpus_name: str,
    forbidden_texts: Iterable[str],
    out_train,
    out_dev,
    out_stats,
    out_samples,
) -> dict:
    """Synthesize train (recipe counts) and dev (``dev_examples``, same mix) and write them.

    Raises LeakError, before writing anything, if an example quotes a forbidden text.
    Returns the stats that are also written to ``out_stats``.
    """
    recipe = validate_recipe(recipe)
    forbidden = frozenset(forbidden_texts)
    train = synthesize(train_records, recipe, corpus_name, split="train")
    dev = synthesize(dev_records, recipe, corpus_name, split="dev", counts=dev_counts(recipe))
    check_leaks(train, train_records, forbidden, "train")
    check_leaks(dev, dev_records, forbidden, "dev")
    stats = {
        "corpus": corpus_name,
        "recipe": recipe,
        "forbidden_texts": len(forbidden),
        "train": dataset_stats(train),
        "dev": dataset_stats(dev),
    }
    write_jsonl(out_train, train)
    write_jsonl(out_dev, dev)
    write_json(out_stats, stats)
    write_text(out_samples, samples_markdown(train, corpus_name))
    log.info("synthesized %d train and %d dev examples from %s", len(train), len(dev), corpus_name)
    return stats


# --------------------------------------------------------------------------- command line


def read_forbidden(paths: Iterable[str]) -> set[str]:
    """Test-set texts: every text of a ``.jsonl`` multi-way file, or every line of a text file."""
    texts: set[str] = set()
    for path in paths:
        if str(path).endswith(".jsonl"):
            texts.update(t for record in read_jsonl(path) for t in record["texts"].values())
        else:
            texts.update(read_lines(path))
    return texts


def _read_recipe(path: str) -> dict:
    if Path(path).suffix in {".yaml", ".yml"}:
        import yaml

        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    return read_json(path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-name", required=True)
    parser.add_argument("--train", required=True, help="multi-way JSONL, train split")
    parser.add_argument("--dev", required=True, help="multi-way JSONL, dev split")
    parser.add_argument("--recipe", required=True, help="JSON or YAML recipe")
    parser.add_argument("--forbidden", nargs="*", default=[], help="test-set JSONL/text files")
    for name in ("train", "dev", "stats", "samples"):
        parser.add_argument(f"--out-{name}", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    write_dataset(
        list(read_jsonl(args.train)),
        list(read_jsonl(args.dev)),
        _read_recipe(args.recipe),
        args.corpus_name,
        read_forbidden(args.forbidden),
        args.out_train,
        args.out_dev,
        args.out_stats,
        args.out_samples,
    )


if __name__ == "__main__":
    main()

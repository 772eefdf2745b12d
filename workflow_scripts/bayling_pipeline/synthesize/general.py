"""General instructions with their own answers (the ``general`` family), read as they are.

BayLing 1 trains on interactive translation *and* general instructions in English and
Chinese. This module reads them from local JSON Lines files (``general.files`` of the
recipe), one record a line, its format detected per line:

* Alpaca: ``{"instruction", "input", "output"}`` (``input`` optional): one exchange, the
  user turn the instruction, then a blank line and the input when there is one;
* Alpaca seed task: ``{"instruction", "instances": [{"input", "output"}, ...]}``: one
  exchange per instance (the generator picks one with the example's seeded choices);
* ShareGPT: ``{"conversations": [{"from": "human" | "gpt", "value"}, ...]}`` (also
  ``user``/``assistant`` and the ``chatgpt``/``bing``/``bard`` of ShareGPT dumps), and
  chat messages ``{"messages": [{"role", "content"}, ...]}`` such as this stage's output.

A line that is not JSON or fits none of these shapes raises ``ValueError`` naming the file
and line. A well-formed conversation the dialogue format cannot hold (a system turn, an
unknown speaker, two turns of one speaker in a row, no answer) is not an error: the
record is not eligible, and the plan logs how many of each file were left out, and why.
A conversation's leading assistant turn and trailing unanswered user turn are cut, as
ShareGPT cleaners do. A record's optional ``language`` (a code of languages.tsv) goes
into the examples' provenance; its optional ``id`` is its record id (else ``line-<n>``).

Every file is a *unit* of the family, named by its file name without ``.jsonl``/``.json``
(``weights``, ``cap`` and ``alpha`` share examples between files). Instructions are read for
the training split only; the dev split gets no general examples.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from bayling_pipeline import languages
from bayling_pipeline.synthesize.recipe import file_units

log = logging.getLogger(__name__)

FAMILY = "general"
_SPEAKERS = {
    **dict.fromkeys(("human", "user"), "user"),
    **dict.fromkeys(("gpt", "assistant", "chatgpt", "bing", "bard", "model"), "assistant"),
    "system": "system",
}


def general_records(recipe: dict, split: str, units: Iterable[str] | None = None) -> Iterator:
    """``(line, record id, texts)`` of the general files (training split only; none when
    the family is not mixed in), files in unit order; ``units`` narrows to those files."""
    part = recipe.get(FAMILY)
    if split != "train" or not part or not recipe["mix"].get(FAMILY):
        return iter(())
    wanted = None if units is None else set(units)
    chosen = sorted(
        (unit, path)
        for unit, path in file_units(part["files"]).items()
        if wanted is None or unit in wanted
    )
    return _records(chosen)


def _records(chosen: Sequence[tuple[str, str]]) -> Iterator[tuple[int, str, dict]]:
    import orjson  # here: the plan's parse-time import of recipe must stay light

    for unit, path in chosen:
        left_out: Counter = Counter()
        with open(path, "rb") as handle:
            for line, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                where = f"{path}:{line}"
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError as error:  # invalid UTF-8 too
                    raise ValueError(f"{where}: not valid JSON: {error}") from error
                texts = parse_record(record, unit, where)
                if texts["problem"]:
                    left_out[texts["problem"]] += 1
                yield line, _record_id(record, line), texts
        if left_out:
            log.info("general: %s: records left out: %s", path, dict(sorted(left_out.items())))


def _record_id(record: dict, line: int) -> str:
    value = record.get("id")
    if isinstance(value, str) and value.strip() or isinstance(value, int):
        return str(value)
    return f"line-{line}"


def parse_record(record, unit: str, where: str) -> dict:
    """One line's record as family input: ``unit``, ``language`` (or None), ``dialogues``
    (alternatives, each a list of chat messages) and ``problem`` (why the record is not
    eligible, or None). ValueError, naming ``where``, for a malformed record."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    problem = None
    if "conversations" in record:
        dialogue, problem = _conversation(record["conversations"], "from", "value", where)
        dialogues = [dialogue] if dialogue else []
    elif "messages" in record:
        dialogue, problem = _conversation(record["messages"], "role", "content", where)
        dialogues = [dialogue] if dialogue else []
    elif "instruction" in record and "instances" in record:
        instances = record["instances"]
        if not isinstance(instances, list) or not instances:
            raise ValueError(f"{where}: 'instances' must be a non-empty list")
        dialogues = [_exchange(record["instruction"], item, where) for item in instances]
    elif "instruction" in record and "output" in record:
        dialogues = [_exchange(record["instruction"], record, where)]
    else:
        raise ValueError(
            f"{where}: not an Alpaca (instruction, input, output), Alpaca seed-task"
            f" (instruction, instances) or ShareGPT (conversations) record;"
            f" keys: {sorted(record)}"
        )
    language = record.get("language")
    if language is not None and not (isinstance(language, str) and languages.is_known(language)):
        raise ValueError(f"{where}: 'language' {language!r} is not a code of languages.tsv")
    return {"unit": unit, "language": language, "dialogues": dialogues, "problem": problem}


def _text(container: dict, key: str, where: str, required: bool = True) -> str:
    value = container.get(key, None if required else "")
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return value.strip()


def _exchange(instruction, item, where: str) -> list[dict]:
    """An Alpaca instruction (and an instance's or the record's input) and its output."""
    if not isinstance(item, dict):
        raise ValueError(f"{where}: an instance must be an object")
    prompt = _text({"instruction": instruction}, "instruction", where)
    extra = _text(item, "input", where, required=False)
    if extra:
        prompt = f"{prompt}\n\n{extra}"  # as instruction_texts joins them
    return [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": _text(item, "output", where)},
    ]


def _conversation(turns, speaker: str, text: str, where: str) -> tuple[list[dict], str | None]:
    """A ShareGPT or chat-message conversation as alternating user/assistant messages, or
    ``([], problem)`` when the dialogue format cannot hold it."""
    if not isinstance(turns, list):
        raise ValueError(f"{where}: the conversation must be a list of turns")
    messages = []
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get(speaker), str):
            raise ValueError(f"{where}: turn {index} must be an object with a {speaker!r} string")
        messages.append(
            {"role": _SPEAKERS.get(turn[speaker].lower()), "content": _text(turn, text, where)}
        )
    if any(m["role"] is None for m in messages):
        return [], "unknown_speaker"
    if any(m["role"] == "system" for m in messages):
        return [], "system_turn"  # the project's chat format has no system turn
    if messages and messages[0]["role"] == "assistant":
        messages = messages[1:]
    if messages and messages[-1]["role"] == "user":
        messages = messages[:-1]
    if not messages:
        return [], "no_answer"
    if any(m["role"] != ("user", "assistant")[i % 2] for i, m in enumerate(messages)):
        return [], "not_alternating"
    return messages, None


def user_side(texts: dict) -> str:
    """What a general record's duplicates are judged by: its (first) dialogue's user turns."""
    return "\n".join(m["content"] for m in texts["dialogues"][0] if m["role"] == "user")

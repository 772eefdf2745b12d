"""Multi-turn decoding of interactive test sets (BayLing-80): every user turn is answered in
the context of the model's own earlier answers.

Run by the rule ``decode_dialogues``; by hand::

    python -m bayling_pipeline.decode.dialogues --model resources/models/smollm2-135m \
        --dialogues resources/dialogues/bayling80-en.jsonl --chat-format model \
        --output results/decode/smollm2-135m/bayling80-en/dialogues.jsonl \
        --meta results/decode/smollm2-135m/bayling80-en/dialogues.meta.json

Input: JSON Lines, one dialogue per line, either ``{"id": ..., "turns": ["user turn 1",
...]}`` or BayLing-80's ``{"question_id": 1, "text": [...], "category": ...}``. Output:
the same dialogues in input order with ``"answers"``, one per turn (other fields kept).

Decoding goes turn by turn across dialogues: turn k of every dialogue that has one, in
length-sorted batches (bayling_pipeline.prompts.generation.generate), then turn k + 1 with those
answers in the conversation. Each answer enters the next prompt as text, re-tokenized by
the chat format, exactly as a chat front end (and BayLing's scripts/general.py) does.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from dataclasses import dataclass, field

from bayling_pipeline.cli import at_least, input_file, run_cli
from bayling_pipeline.decode.cost import generated_tokens
from bayling_pipeline.decode.loading import (
    generate_texts,
    job_cost,
    job_settings,
    load,
    recorded_settings,
)
from bayling_pipeline.decode.settings import (
    BACKENDS,
    Settings,
    add_engine_arguments,
    add_system_prompt_argument,
)
from bayling_pipeline.io import read_jsonl, write_json, write_jsonl
from bayling_pipeline.prompts.chat import conversation_prompt_ids

log = logging.getLogger(__name__)


@dataclass
class Dialogue:
    """One interactive test item: its id, its user turns, and the input's other fields."""

    id: object
    turns: list[str]
    extra: dict = field(default_factory=dict)


def parse_dialogue(record: dict, where: str = "") -> Dialogue:
    """A Dialogue from either input format (ours, or BayLing-80's question_id/text)."""
    if "turns" in record:
        key_id, key_turns = "id", "turns"
    elif "text" in record and "question_id" in record:
        key_id, key_turns = "question_id", "text"
    else:
        raise ValueError(f"{where}: neither {{id, turns}} nor BayLing-80's {{question_id, text}}")
    turns = record[key_turns]
    if isinstance(turns, str):
        turns = [turns]
    if not turns or not all(isinstance(t, str) and t.strip() for t in turns):
        raise ValueError(f"{where}: {key_turns} must be a non-empty list of non-empty strings")
    extra = {k: v for k, v in record.items() if k not in (key_id, key_turns)}
    # BayLing's scripts/general.py strips trailing newlines off each instruction
    return Dialogue(record.get(key_id), [t.strip("\n") for t in turns], extra)


def read_dialogues(path) -> list[Dialogue]:
    """Every dialogue of a JSON Lines file; ids must be unique (a missing id: line number)."""
    dialogues = []
    for number, record in enumerate(read_jsonl(path), start=1):
        dialogue = parse_dialogue(record, f"{path}:{number}")
        if dialogue.id is None:
            dialogue.id = number
        dialogues.append(dialogue)
    ids = [d.id for d in dialogues]
    if len(set(map(str, ids))) != len(ids):
        raise ValueError(f"{path}: dialogue ids are not unique")
    return dialogues


def write_dialogues(path, dialogues: list[Dialogue]) -> int:
    """Write dialogues in this project's format ({"id", "turns"} plus the other fields)."""
    return write_jsonl(path, ({**d.extra, "id": d.id, "turns": d.turns} for d in dialogues))


def conversation(turns: list[str], answers: list[str]) -> list[dict]:
    """Chat messages of the user turns so far, each but the last followed by its answer."""
    messages = []
    for index, turn in enumerate(turns):
        messages.append({"role": "user", "content": turn})
        if index < len(answers):
            messages.append({"role": "assistant", "content": answers[index]})
    return messages


def clean_answer(text: str) -> str:
    """An answer as it enters the next turn and the output: stripped, no cut-off character
    at the end (free text: its line breaks stay)."""
    return text.strip().rstrip("\ufffd").rstrip()


def decode_dialogues(loaded, dialogues: list[Dialogue], settings) -> tuple[list, list]:
    """(answers, prompts): per dialogue, the answer to each turn and the prompt ids it was
    generated from. Turn k of all dialogues is decoded before turn k + 1."""
    answers: list[list[str]] = [[] for _ in dialogues]
    prompts: list[list[list[int]]] = [[] for _ in dialogues]
    for turn in range(max(len(d.turns) for d in dialogues)):
        active = [i for i, d in enumerate(dialogues) if turn < len(d.turns)]
        batch = [
            conversation_prompt_ids(
                loaded.tokenizer,
                settings.system_messages()
                + conversation(dialogues[i].turns[: turn + 1], answers[i]),
                settings.chat_format,
            )
            for i in active
        ]
        # a seed per turn (generate() adds the batch number): sampled turns differ
        turn_settings = dataclasses.replace(settings, seed=settings.seed + 10_000 * turn)
        texts = generate_texts(loaded, batch, turn_settings)
        for i, ids, text in zip(active, batch, texts, strict=True):
            prompts[i].append(ids)
            answers[i].append(clean_answer(text))
        log.info("turn %d: %d dialogues answered", turn + 1, len(active))
    return answers, prompts


def decode_file(
    model_dir: str,
    adapter_dir: str | None,
    dialogues_path: str,
    output_path: str,
    meta_path: str,
    settings,
    *,
    trust_remote_code: bool = False,
    loaded=None,
) -> dict:
    """Answer every dialogue of a file turn by turn; write the answers and a metadata JSON."""
    from bayling_pipeline.prompts.chat_formats import resolve

    dialogues = read_dialogues(dialogues_path)
    loaded = loaded or load(
        model_dir, adapter_dir, settings.backend, trust_remote_code, settings.compute_type
    )
    started = time.time()
    answers, prompts = decode_dialogues(loaded, dialogues, settings)
    seconds = time.time() - started
    loaded.generated_tokens = generated_tokens(loaded.tokenizer, [a for x in answers for a in x])
    write_jsonl(
        output_path,
        (
            {**d.extra, "id": d.id, "turns": d.turns, "answers": a}
            for d, a in zip(dialogues, answers, strict=True)
        ),
    )
    meta = {
        "model": str(model_dir),
        "adapter": str(adapter_dir) if adapter_dir else None,
        "dialogues": len(dialogues),
        "turns": sum(len(d.turns) for d in dialogues),
        "chat_format": resolve(settings.chat_format),
        "settings": recorded_settings(settings, loaded),
        "empty_answers": sum(not a for answer in answers for a in answer),
        "longest_prompt_tokens": max(len(p) for prompt in prompts for p in prompt),
        "device": loaded.device,
        "seconds": seconds,
        # per answered turn: its sentences are turns
        "cost": job_cost(loaded, seconds, sum(len(x) for x in answers)),
        **({"engine": loaded.info} if loaded.info else {}),
    }
    write_json(meta_path, meta)
    log.info("%d dialogues, %d turns in %.1f s", meta["dialogues"], meta["turns"], seconds)
    return meta


def main(argv: list[str] | None = None) -> None:
    from bayling_pipeline.prompts.chat_formats import ACCEPTED

    defaults = Settings()
    parser = argparse.ArgumentParser(description="Multi-turn decoding of a dialogue test set")
    parser.add_argument("--model", required=True, help="base model checkpoint directory")
    parser.add_argument("--adapter", default="", help="LoRA adapter directory ('' = none)")
    parser.add_argument(
        "--dialogues", required=True, type=input_file, help="JSON Lines of dialogues"
    )
    parser.add_argument("--output", required=True)
    parser.add_argument("--meta", required=True)
    parser.add_argument("--batch-size", type=at_least(1), default=defaults.batch_size)
    parser.add_argument("--max-new-tokens", type=at_least(1), default=512)
    parser.add_argument("--num-beams", type=at_least(1), default=defaults.num_beams)
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--chat-format", choices=ACCEPTED, default=defaults.chat_format)
    add_system_prompt_argument(parser)
    parser.add_argument("--backend", choices=BACKENDS, default=defaults.backend)
    add_engine_arguments(parser)
    parser.add_argument("--threads", type=at_least(1), default=None)
    parser.add_argument("--trust-remote-code", action="store_true")
    args = parser.parse_args(argv)
    settings = job_settings(parser, args)
    decode_file(
        args.model,
        args.adapter or None,
        args.dialogues,
        args.output,
        args.meta,
        settings,
        trust_remote_code=args.trust_remote_code,
    )


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.decode.dialogues")

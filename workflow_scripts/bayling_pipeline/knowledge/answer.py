"""One answering job: a system answers every subset of one benchmark suite, with one model
load (base models, LoRA adapters and merged runs alike, as the decode stage loads them).

Run by the rule ``knowledge_answer``; by hand on a GPU node, the same command::

    python -m bayling_pipeline.knowledge --task agieval \
        --model resources/models/smollm2-135m --items results/knowledge/items/agieval.jsonl \
        --max-new-tokens 64 --output /tmp/answers.jsonl --meta /tmp/answers.meta.json

Two protocols, chosen by the task (:data:`bayling_pipeline.knowledge.queries.PROTOCOLS`):

* ``generate`` (AGIEval, as BayLing 1 ran it): the zero-shot prompt of each item as the
  user turn of the system's chat format, generated in length-sorted batches; the raw text
  is kept (the extraction reads it when scoring). Finished batches are kept in a partial
  file, so a killed job resumes (:mod:`bayling_pipeline.decode.resume`).
* ``loglikelihood`` (XCOPA, Belebele): every option's log-likelihood after the context, as
  lm-evaluation-harness computes it (:mod:`bayling_pipeline.knowledge.multiple_choice`).

Output: one JSON object per item, in items order: ``{"subset", "index", "text"}`` or
``{"subset", "index", "loglikelihoods", "predicted", "gold", "correct"}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time

from bayling_pipeline.cli import at_least, input_file, run_cli
from bayling_pipeline.decode.loading import Loaded, generate_texts, job_settings, load
from bayling_pipeline.decode.resume import BatchLog, fingerprint, partial_path
from bayling_pipeline.decode.settings import BACKENDS, POSTPROCESS_MODES, Settings
from bayling_pipeline.io import write_json, write_jsonl
from bayling_pipeline.knowledge.items import read_items
from bayling_pipeline.knowledge.queries import PROTOCOLS

log = logging.getLogger(__name__)


def user_turns(task: str, rows: list[dict]) -> list[str]:
    """The user turn of every item of a generate-and-extract task."""
    from bayling_pipeline.knowledge import agieval

    if task != "agieval":
        raise ValueError(f"task {task!r} is not answered by generation")
    return [agieval.zero_shot_prompt(row["record"], row["subset"]) for row in rows]


def generated_answers(
    loaded: Loaded, rows: list[dict], task: str, settings: Settings, output: str, model_dir, adapter
) -> list[dict]:
    """Generate every item's answer, resuming the batches a killed job logged (the caller
    removes the log once the answers are written)."""
    from bayling_pipeline.prompts.chat import conversation_prompt_ids

    prompts = [
        conversation_prompt_ids(
            loaded.tokenizer, [{"role": "user", "content": t}], settings.chat_format
        )
        for t in user_turns(task, rows)
    ]
    batch_log = BatchLog(
        partial_path(output),
        fingerprint(model_dir, adapter, prompts, dataclasses.asdict(settings)),
    )
    texts = generate_texts(loaded, prompts, settings, batch_log)
    return [
        {"subset": r["subset"], "index": r["index"], "text": t}
        for r, t in zip(rows, texts, strict=True)
    ]


def ranked_answers(
    loaded: Loaded, rows: list[dict], task: str, settings: Settings, output: str, model_dir, adapter
) -> list[dict]:
    """Rank every item's options by log-likelihood (no generation, no chat format),
    resuming the batches a killed job logged."""
    from bayling_pipeline.knowledge.multiple_choice import Resume, rank_items

    answers = rank_items(
        loaded, rows, task, settings.batch_size, Resume(output, model_dir, adapter)
    )
    return answers


def answer_suite(args: argparse.Namespace, settings: Settings) -> dict:
    rows = read_items(args.items)
    adapter = args.adapter or None
    loaded = load(args.model, adapter, settings.backend, args.trust_remote_code)
    started = time.time()
    if PROTOCOLS[args.task] == "generate":
        answers = generated_answers(
            loaded, rows, args.task, settings, args.output, args.model, adapter
        )
    else:
        answers = ranked_answers(
            loaded, rows, args.task, settings, args.output, args.model, adapter
        )
    seconds = time.time() - started
    write_jsonl(args.output, answers)
    # the finished batches' log, kept until the answers are in place
    partial_path(args.output).unlink(missing_ok=True)
    meta = {
        "model": str(args.model),
        "adapter": adapter,
        "task": args.task,
        "protocol": PROTOCOLS[args.task],
        "items": len(rows),
        "settings": settings.recorded(),
        "device": loaded.device,
        "seconds": seconds,
    }
    write_json(args.meta, meta)
    log.info("%s: %d items in %.1f s", args.task, len(rows), seconds)
    return meta


def parser() -> argparse.ArgumentParser:
    """The command line: the decoding job's options, with a suite's items in place of a
    source file and a task in place of a template."""
    from bayling_pipeline.prompts.chat_formats import ACCEPTED

    defaults = Settings()
    p = argparse.ArgumentParser(description="Answer one benchmark suite with one model")
    p.add_argument("--task", required=True, choices=sorted(PROTOCOLS))
    p.add_argument("--model", required=True, help="base model checkpoint directory")
    p.add_argument("--adapter", default="", help="LoRA adapter directory to merge ('' = none)")
    p.add_argument("--items", required=True, type=input_file, help="the suite's items file")
    p.add_argument("--output", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--batch-size", type=at_least(1), default=defaults.batch_size)
    p.add_argument("--max-new-tokens", type=at_least(1), default=defaults.max_new_tokens)
    p.add_argument("--num-beams", type=at_least(1), default=defaults.num_beams)
    p.add_argument("--temperature", type=float, default=defaults.temperature)
    p.add_argument("--top-p", type=float, default=defaults.top_p)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument(
        "--postprocess",
        choices=POSTPROCESS_MODES,
        default=defaults.postprocess,
        help="recorded only: the raw answer is kept for the extraction",
    )
    p.add_argument("--chat-format", choices=ACCEPTED, default=defaults.chat_format)
    p.add_argument("--backend", choices=BACKENDS, default=defaults.backend)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--trust-remote-code", action="store_true")
    return p


def main(argv: list[str] | None = None) -> None:
    command = parser()
    args = command.parse_args(argv)
    args.template = f"knowledge:{args.task}"  # recorded with the answers
    answer_suite(args, job_settings(command, args))


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.knowledge")

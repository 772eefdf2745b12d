"""``python -m bayling_pipeline.synthesize.teacher --spec teacher.json --prompts prompts.jsonl
--output replies.jsonl [--cache teacher-cache.sqlite]``: run a teacher alone on a prompt file
(see :mod:`bayling_pipeline.synthesize.teacher` for the spec and file formats)."""

from __future__ import annotations

import argparse
import logging

from bayling_pipeline.cli import UserError, input_file, run_cli
from bayling_pipeline.synthesize import teacher as teacher_package
from bayling_pipeline.synthesize.teacher.cache import CachedTeacher
from bayling_pipeline.synthesize.teacher.spec import build_teacher

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    from bayling_pipeline.io import read_json, read_jsonl, write_jsonl

    parser = argparse.ArgumentParser(description=teacher_package.__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, type=input_file, help="teacher spec JSON file")
    parser.add_argument("--cache", default=None, help="SQLite reply cache (created if absent)")
    parser.add_argument(
        "--prompts", required=True, type=input_file, help="JSONL: {'messages': [...]} or 'prompt'"
    )
    parser.add_argument("--output", required=True, help="JSONL: each record + reply, teacher")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    records = list(read_jsonl(args.prompts))
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict) or not ("messages" in record or "prompt" in record):
            raise UserError(f"{args.prompts}: record {number} has neither 'messages' nor 'prompt'")
    teacher = build_teacher(read_json(args.spec), cache_path=args.cache)
    conversations = [
        r["messages"] if "messages" in r else [{"role": "user", "content": r["prompt"]}]
        for r in records
    ]
    replies = teacher.complete(conversations)
    write_jsonl(
        args.output,
        (
            {**r, "reply": reply, "teacher": teacher.model_id}
            for r, reply in zip(records, replies, strict=True)
        ),
    )
    stats = teacher.stats() if isinstance(teacher, CachedTeacher) else {}
    log.info("%d replies from %s %s", len(replies), teacher.model_id, stats)


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.synthesize.teacher")  # the name --help shows

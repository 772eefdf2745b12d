"""``python -m bayling_pipeline.judge {pairwise,answers,reviews,report}``: the stage's jobs
by hand (see :mod:`bayling_pipeline.judge` and each module's docstring)."""

from __future__ import annotations

import argparse
import logging

from bayling_pipeline import judge as judge_package
from bayling_pipeline.cli import input_file, run_cli


def _names(args) -> dict:
    """Labels recorded with the reviews (keys as in the rule's params)."""
    return {
        "source": args.source,
        "judge_label": args.judge_label or args.source,
        "system": args.system_name,
        "system_label": args.system_name,
        "opponent": args.opponent_name,
        "opponent_label": args.opponent_name,
        "dialogue_set": None,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=judge_package.__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    pair = sub.add_parser("pairwise", help="judge two answer files on one setting")
    pair.add_argument(
        "--spec", required=True, type=input_file, help="judge spec JSON (a teacher spec, openai)"
    )
    pair.add_argument("--cache", default=None, help="SQLite reply cache")
    pair.add_argument("--setting", required=True, help="e.g. singleturn.en, multiturn.zh")
    pair.add_argument(
        "--dialogues", required=True, type=input_file, help="the dialogue test set (JSONL)"
    )
    pair.add_argument("--system", required=True, type=input_file, help="system's answer file")
    pair.add_argument("--opponent", required=True, type=input_file, help="opponent's answers")
    pair.add_argument("--max-items", type=int, default=None)
    pair.add_argument("--one-order", action="store_true", help="system as Assistant 1 only")
    answers = sub.add_parser("answers", help="fetch published answers of one language")
    answers.add_argument(
        "--spec", required=True, type=input_file, help="JSON: url (with {lang}), sha256"
    )
    answers.add_argument("--lang", required=True)
    reviews = sub.add_parser("reviews", help="fetch released reviews of one setting")
    reviews.add_argument(
        "--spec", required=True, type=input_file, help="JSON: url ({turns}, {lang}), sha256"
    )
    reviews.add_argument("--setting", required=True)
    for one in (pair, reviews):
        one.add_argument("--source", default="judge", help="source name in the tables")
        one.add_argument("--judge-label", default=None)
        one.add_argument("--system-name", default="system")
        one.add_argument("--opponent-name", default="opponent")
    for one in (pair, answers, reviews):
        one.add_argument("--output", required=True)
        one.add_argument("--meta", required=True, help="metadata (or manifest) JSON")
    report = sub.add_parser("report", help="tables and figures from review files")
    report.add_argument(
        "reviews", nargs="+", type=input_file, help="*.reviews.jsonl (meta JSON beside each)"
    )
    report.add_argument("--tsv", required=True)
    report.add_argument("--markdown", required=True)
    report.add_argument("--latex", required=True)
    report.add_argument("--png-dir", required=True)
    return parser


def main(argv: list[str] | None = None) -> None:
    from bayling_pipeline.io import read_json

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.command == "pairwise":
        from bayling_pipeline.judge.pairwise import judge_setting

        judge_setting(
            read_json(args.spec), args.cache, args.setting, args.dialogues, args.system,
            args.opponent, args.output, args.meta, names=_names(args),
            max_items=args.max_items, both_orders=not args.one_order,
        )  # fmt: skip
    elif args.command == "answers":
        from bayling_pipeline.judge.published import fetch_answers

        fetch_answers(read_json(args.spec), args.lang, args.output, args.meta)
    elif args.command == "reviews":
        from bayling_pipeline.judge.published import fetch_reviews

        names = _names(args)
        fetch_reviews(read_json(args.spec), args.setting, args.output, args.meta, names=names)
    else:
        from bayling_pipeline.judge.write import write_judging

        write_judging(args.reviews, args.tsv, args.markdown, args.latex, args.png_dir)


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.judge")  # the name --help shows

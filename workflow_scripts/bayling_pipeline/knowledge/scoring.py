"""Accuracy of one system on one suite: per subset, the items, the answered items, the
correct ones, and a percentile-bootstrap interval over items.

Generated answers (protocol ``generate``) are read by :func:`bayling_pipeline.knowledge.
agieval.judge` in one of two readings (``knowledge.reading``): ``bayling1``, the rule that
reproduces BayLing 1's table (the first capital A-F once "answer" and "choice" are removed;
AGIEval's set of letters for multi-answer subjects), or ``strict``, which reads only a letter
given as the answer. Cloze answers are compared by an equivalence check. An answer with
nothing readable counts as unanswered and wrong, never guessed.
Ranked options (protocol ``loglikelihood``) are correct when the most likely option is the
gold one, as lm-evaluation-harness's ``acc``.
"""

from __future__ import annotations

from bayling_pipeline.io import read_json, write_json
from bayling_pipeline.knowledge.items import by_subset, read_items, read_records

# what every score row's signature names: the protocol and how answers were read
EXTRACTION_VERSION = "v1"


def _agieval_verdict(subset: str, record: dict, text: str, reading: str):
    """(what was read, or None; correct) of a generated AGIEval answer."""
    from bayling_pipeline.knowledge import agieval

    return agieval.judge(subset, record, text, reading)


def verdicts(task: str, items: list[dict], answers: list[dict], reading: str) -> list[dict]:
    """Per item (in items order): subset, index, answered, correct, extracted."""
    found = {(a["subset"], a["index"]): a for a in answers}
    out = []
    for item in items:
        answer = found.get((item["subset"], item["index"]))
        if answer is None:
            continue  # a published system without this subset
        if task == "agieval":
            extracted, correct = _agieval_verdict(
                item["subset"], item["record"], answer["text"], reading
            )
            answered = extracted is not None
        else:
            extracted, correct, answered = answer["predicted"], answer["correct"], True
        out.append(
            {
                "subset": item["subset"],
                "index": item["index"],
                "answered": answered,
                "correct": bool(correct),
                "extracted": extracted,
            }
        )
    return out


def subset_rows(per_item: list[dict], bootstrap: dict) -> list[dict]:
    """One row per subset: items, answered, correct, accuracy and its interval."""
    from bayling_pipeline.knowledge.accuracy import accuracy, bootstrap_interval

    rows = []
    for subset, group in by_subset(per_item).items():
        correct = [v["correct"] for v in group]
        low, high = bootstrap_interval(
            correct,
            resamples=bootstrap.get("resamples", 1000),
            seed=bootstrap.get("seed", 12345),
            level=bootstrap.get("level", 0.95),
        )
        rows.append(
            {
                "subset": subset,
                "items": len(group),
                "answered": sum(v["answered"] for v in group),
                "correct": sum(correct),
                "accuracy": accuracy(correct),
                "ci_low": low,
                "ci_high": high,
            }
        )
    return rows


def signature(task: str, protocol: str, bootstrap: dict, reading: str) -> str:
    """How the scores were obtained, in one line (kept with every row)."""
    if protocol == "generate":
        reading = f"extract-{reading}-{EXTRACTION_VERSION}"
    else:
        reading = "argmax-loglikelihood"
    level = bootstrap.get("level", 0.95)
    resamples = bootstrap.get("resamples", 1000)
    return (
        f"task:{task}|protocol:{protocol}|answers:{reading}"
        f"|ci:percentile-bootstrap-{level:g}-{resamples}"
    )


def score_answers(
    items_path: str,
    answers_path: str,
    meta_path: str,
    task: str,
    output: str,
    *,
    suite: str,
    system: str,
    label: str,
    kind: str,
    bootstrap: dict,
    reading: str = "bayling1",
) -> dict:
    """Score one (system, suite) answers file against its items; write the score JSON."""
    from bayling_pipeline.knowledge.queries import PROTOCOLS

    protocol = PROTOCOLS[task]
    fields = ("subset", "index", "text") if protocol == "generate" else ("subset", "index")
    per_item = verdicts(task, read_items(items_path), read_records(answers_path, fields), reading)
    meta = read_json(meta_path)
    record = {
        "suite": suite,
        "system": system,
        "label": label,
        "kind": kind,
        "task": task,
        "protocol": protocol,
        "signature": signature(task, protocol, bootstrap, reading),
        "provenance": {k: meta.get(k) for k in ("model", "adapter", "settings", "subsets")},
        "rows": subset_rows(per_item, bootstrap),
        "items": per_item,
    }
    write_json(output, record)
    return record

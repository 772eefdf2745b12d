"""Knowledge benchmarks through Snakemake (`snakemake knowledge`): the tiny SmolLM2 model,
base and with the tiny run's LoRA adapter, answers a few GaoKao biology questions by
generation (BayLing 1's zero-shot prompt) and a few XCOPA items per language by the
log-likelihood of the options; BayLing-13B's released answers enter as a published system.
Items come through download.mirrors from a local folder (../shared/data), as in the demo.

.venv/bin/python -m pytest tests/e2e/test_knowledge.py -q
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil

import pytest
import yaml
from conftest import SHARED_DATA, job_counts, run_snakemake

from bayling_pipeline.io import read_json
from bayling_pipeline.knowledge import agieval
from bayling_pipeline.knowledge.items import read_items, read_records

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (SHARED_DATA / "xcopa").is_dir() or not (SHARED_DATA / "agieval").is_dir(),
        reason=f"{SHARED_DATA}/xcopa or agieval is absent",
    ),
]
AGIEVAL = "https://raw.githubusercontent.com/microsoft/AGIEval/3680910/data/v1/"
XCOPA = "https://raw.githubusercontent.com/cambridgeltl/xcopa/master/data/"
BAYLING = "https://raw.githubusercontent.com/ictnlp/BayLing/main/exp/examination/"
LANGUAGES = ["ht", "qu", "sw", "zh"]
ITEMS = 3
RELEASED = "bayling-13b/predict.BayLing-13B.{subset}.zero-shot.jsonl"


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def section() -> dict:
    biology = SHARED_DATA / "agieval/data/v1/gaokao-biology.jsonl"
    released = SHARED_DATA / "bayling/exp/examination" / RELEASED.format(subset="gaokao-biology")
    return {
        "suites": {
            "agieval": {
                "task": "agieval",
                "subsets": ["gaokao-biology"],
                "url": AGIEVAL + "{subset}.jsonl",
                "sha256": {"gaokao-biology": digest(biology)},
                "max_items": ITEMS,
            },
            "xcopa": {
                "task": "xcopa",
                "subsets": LANGUAGES,
                "url": XCOPA + "{subset}/test.{subset}.jsonl",
                "max_items": ITEMS,
            },
        },
        "published": {
            "bayling-13b": {
                "suite": "agieval",
                "label": "BayLing-13B",
                "url": BAYLING + RELEASED,
                "sha256": {"gaokao-biology": digest(released)},
            }
        },
        "max_new_tokens": 12,
    }


def _link_or_copy(source: str, target: str) -> None:
    if os.sep + "results" + os.sep in source or os.sep + "resources" + os.sep in source:
        os.link(source, target)
    else:
        shutil.copy2(source, target)


@pytest.fixture(scope="module")
def knowledge_run(tiny_run, tmp_path_factory):
    """The session's tiny run (its prepared model, its trained adapter) with the knowledge
    section added: only the stage's jobs run."""
    source, _, config, _ = tiny_run
    workdir = tmp_path_factory.mktemp("knowledge") / "run"
    # the tiny run's results and models as hard links (never written again: every output
    # is replaced by a rename); Snakemake's records and the config file as copies, which
    # this run may write without touching the session's run
    shutil.copytree(
        source, workdir, copy_function=_link_or_copy, ignore=shutil.ignore_patterns("locks")
    )
    config = copy.deepcopy(config)
    config["knowledge"] = section()
    config["download"] = {
        "lock": str(workdir / "downloads.lock.json"),
        "mirrors": {
            AGIEVAL: f"{SHARED_DATA}/agieval/data/v1/",
            XCOPA: f"{SHARED_DATA}/xcopa/data/",
            BAYLING: f"{SHARED_DATA}/bayling/exp/examination/",
        },
    }
    configfile = workdir / "knowledge-config.yaml"
    configfile.write_text(yaml.safe_dump(config, allow_unicode=True))
    dry = run_snakemake(workdir, configfile, "knowledge", "-n")
    run_snakemake(workdir, configfile, "knowledge")
    return workdir, job_counts(dry.stdout)


def test_jobs_scale_with_systems_not_subsets(knowledge_run):
    _, counts = knowledge_run
    assert counts == {
        "knowledge_fetch_items": 2,  # one per suite, whatever its subsets
        "knowledge_answer": 4,  # (base, adapter) x (agieval, xcopa): one model load each
        "knowledge_fetch_published": 1,
        "knowledge_score": 5,
        "knowledge_report": 1,
        "knowledge": 1,
    }  # and nothing else: the tiny run's model and adapter are used as they are


def test_every_system_has_a_row_per_subset(knowledge_run):
    workdir, _ = knowledge_run
    for system in ("smollm2-135m", "tiny-lora"):
        record = read_json(workdir / f"results/knowledge/scores/{system}/xcopa.json")
        assert [row["subset"] for row in record["rows"]] == LANGUAGES
        for row in record["rows"]:
            assert row["items"] == row["answered"] == ITEMS
            assert row["accuracy"] == pytest.approx(row["correct"] / ITEMS)
            assert row["ci_low"] <= row["accuracy"] <= row["ci_high"]
        assert "protocol:loglikelihood" in record["signature"]
    meta = read_json(workdir / "results/knowledge/answers/tiny-lora/xcopa.meta.json")
    assert meta["adapter"] and meta["protocol"] == "loglikelihood"


def test_generated_answers_are_read_by_the_extraction(knowledge_run):
    workdir, _ = knowledge_run
    items = read_items(workdir / "results/knowledge/items/agieval.jsonl")
    for system in ("smollm2-135m", "tiny-lora"):
        answers = read_records(
            workdir / f"results/knowledge/answers/{system}/agieval.jsonl", ("text",)
        )
        record = read_json(workdir / f"results/knowledge/scores/{system}/agieval.json")
        verdicts = [
            agieval.judge("gaokao-biology", i["record"], a["text"])
            for a, i in zip(answers, items, strict=True)
        ]
        row = record["rows"][0]
        assert row["answered"] == sum(read is not None for read, _ in verdicts)
        assert row["correct"] == sum(right for _, right in verdicts)
        assert "protocol:generate|answers:extract-bayling1-v1" in record["signature"]


def test_released_answers_are_scored_like_the_models(knowledge_run):
    workdir, _ = knowledge_run
    released = SHARED_DATA / "bayling/exp/examination" / RELEASED.format(subset="gaokao-biology")
    texts = [r["text"] for r in read_records(released, ("text",))][:ITEMS]
    items = read_items(workdir / "results/knowledge/items/agieval.jsonl")
    record = read_json(workdir / "results/knowledge/scores/bayling-13b/agieval.json")
    (row,) = record["rows"]
    assert (record["label"], record["kind"], row["items"]) == ("BayLing-13B", "published", ITEMS)
    # the released text read by BayLing 1's rule, against the v1 label
    pairs = zip(items, texts, strict=True)
    right = [agieval.judge("gaokao-biology", i["record"], t)[1] for i, t in pairs]
    assert row["correct"] == sum(right) and row["answered"] == ITEMS


def test_the_report_holds_the_stage_table(knowledge_run):
    workdir, _ = knowledge_run
    markdown = (workdir / "results/report/knowledge.md").read_text(encoding="utf-8")
    assert "## agieval" in markdown and "## xcopa" in markdown
    for label in ("smollm2-135m", "tiny-lora", "BayLing-13B"):
        assert f"| {label} | " in markdown
    tsv = (workdir / "results/report/knowledge.tsv").read_text(encoding="utf-8").splitlines()
    assert len(tsv) == 1 + 2 * len(LANGUAGES) + 3  # header, xcopa rows, agieval rows

"""Multi-turn decoding: input formats (ours and BayLing-80's), every turn conditioned on the
model's own earlier answers, batched across dialogues == dialogue by dialogue (greedy).

    .venv/bin/pytest tests/unit/decode/test_multiturn.py -q
"""

import dataclasses

import pytest
import yaml
from conftest import ROOT, SHARED_DATA, job_counts, run_snakemake

from bayling_pipeline.decode import dialogues as multiturn
from bayling_pipeline.decode.loading import load
from bayling_pipeline.decode.settings import Settings
from bayling_pipeline.io import read_json, read_jsonl, write_jsonl
from bayling_pipeline.prompts.chat import conversation_prompt_ids

BAYLING80 = SHARED_DATA / "bayling" / "data" / "BayLing-80"


@pytest.mark.parametrize(
    "record,expected",
    [
        ({"id": "a", "turns": ["Hi", "More"]}, multiturn.Dialogue("a", ["Hi", "More"])),
        (
            {"question_id": 3, "text": ["Q1\n", "Q2"], "category": "generic"},
            multiturn.Dialogue(3, ["Q1", "Q2"], {"category": "generic"}),
        ),
        ({"id": 1, "turns": "one turn"}, multiturn.Dialogue(1, ["one turn"])),
        ({"turns": ["no id"]}, multiturn.Dialogue(None, ["no id"])),
    ],
)
def test_parse_dialogue(record, expected):
    assert multiturn.parse_dialogue(record) == expected


@pytest.mark.parametrize(
    "record,message",
    [
        ({"id": 1, "prompt": "x"}, "neither"),
        ({"id": 1, "turns": []}, "non-empty"),
        ({"id": 1, "turns": ["ok", " "]}, "non-empty"),
    ],
)
def test_parse_dialogue_rejects(record, message):
    with pytest.raises(ValueError, match=message):
        multiturn.parse_dialogue(record, "x.jsonl:1")


def test_conversation_interleaves_turns_and_answers():
    assert multiturn.conversation(["u1", "u2"], ["a1"]) == [
        {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2"},
    ]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_reads_bayling80(language, tmp_path):
    path = BAYLING80 / f"BayLing-80.multiturn.{language}.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data is not in a fresh clone)")
    dialogues = multiturn.read_dialogues(path)
    assert len(dialogues) == 80 and dialogues[0].id == 1
    assert all(len(d.turns) == 2 for d in dialogues)
    assert {d.extra["category"] for d in dialogues} >= {"generic"}
    # stored in our format, it reads back the same
    multiturn.write_dialogues(tmp_path / "d.jsonl", dialogues)
    assert multiturn.read_dialogues(tmp_path / "d.jsonl") == dialogues


def test_duplicate_ids_are_refused(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [{"id": 1, "turns": ["a"]}, {"id": 1, "turns": ["b"]}])
    with pytest.raises(ValueError, match="not unique"):
        multiturn.read_dialogues(tmp_path / "d.jsonl")


DIALOGUES = [
    multiturn.Dialogue("d1", ["Translate to German: Good morning.", "Now into French."]),
    multiturn.Dialogue("d2", ["What is the capital of France?", "And of Italy?", "Why?"]),
    multiturn.Dialogue("d3", ["Say hello."]),
    multiturn.Dialogue("d4", ["Name a colour.", "Another one, please."]),
]
SETTINGS = Settings(batch_size=4, max_new_tokens=10)


@pytest.fixture(scope="module")
def smollm2(smollm2_dir):
    return load(str(smollm2_dir))


@pytest.fixture(scope="module")
def batched(smollm2):
    return multiturn.decode_dialogues(smollm2, DIALOGUES, SETTINGS)


def test_each_turn_is_conditioned_on_the_models_own_answers(smollm2, batched):
    answers, prompts = batched
    tok = smollm2.tokenizer
    assert [len(a) for a in answers] == [len(d.turns) for d in DIALOGUES]
    for dialogue, answer, prompt in zip(DIALOGUES, answers, prompts, strict=True):
        for turn in range(1, len(dialogue.turns)):
            messages = multiturn.conversation(dialogue.turns[: turn + 1], answer[:turn])
            assert messages[-2] == {"role": "assistant", "content": answer[turn - 1]}
            # token level: the prompt is the chat of (u1, a1 as generated, u2, ...)
            assert prompt[turn] == conversation_prompt_ids(tok, messages, "model")
            assert answer[turn - 1] and answer[turn - 1] in tok.decode(prompt[turn])
            # and extends the previous turn's prompt (the model sees what it said)
            assert prompt[turn][: len(prompt[turn - 1])] == prompt[turn - 1]


def test_batched_multiturn_equals_dialogue_by_dialogue(smollm2, batched):
    one_by_one = dataclasses.replace(SETTINGS, batch_size=1)
    for index, dialogue in enumerate(DIALOGUES):
        answers, _ = multiturn.decode_dialogues(smollm2, [dialogue], one_by_one)
        assert answers[0] == batched[0][index], dialogue.id


def test_decode_file_keeps_order_and_fields(smollm2, smollm2_dir, tmp_path):
    write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"question_id": 7, "text": ["Say hello.", "Louder."], "category": "generic"},
            {"question_id": 2, "text": ["Name a colour."], "category": "fun"},
        ],
    )
    meta = multiturn.decode_file(
        str(smollm2_dir),
        None,
        tmp_path / "in.jsonl",
        tmp_path / "out.jsonl",
        tmp_path / "meta.json",
        dataclasses.replace(SETTINGS, max_new_tokens=6),
        loaded=smollm2,
    )
    records = list(read_jsonl(tmp_path / "out.jsonl"))
    assert [r["id"] for r in records] == [7, 2]
    assert [r["category"] for r in records] == ["generic", "fun"]
    assert [len(r["answers"]) for r in records] == [2, 1]
    assert records[0]["turns"] == ["Say hello.", "Louder."]
    assert read_json(tmp_path / "meta.json") == meta
    assert meta["dialogues"] == 2 and meta["turns"] == 3 and meta["chat_format"] == "model@v1"


def test_workflow_decodes_dialogue_sets_with_every_model(tmp_path):
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    write_jsonl(tmp_path / "local.jsonl", [{"id": 1, "turns": ["Hi", "Bye"]}])
    config["evaluation"]["dialogue_sets"] = {
        "local-set": {"path": str(tmp_path / "local.jsonl")},
        "bayling80-en": {"url": "https://example.org/BayLing-80.multiturn.en.jsonl"},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(tmp_path, tmp_path / "config.yaml", "-n", "decode")
    counts = job_counts(result.stdout)
    systems = len(config["evaluation"]["systems"])
    assert counts["decode_dialogues"] == systems * 2 and counts["download_dialogues"] == 1
    assert "results/decode/tiny-lora/bayling80-en/dialogues.jsonl" in result.stdout


def test_a_dialogue_set_named_like_a_test_set_is_refused(tmp_path):
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    config["evaluation"]["dialogue_sets"] = {"django-test": {"path": "x.jsonl"}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(tmp_path, tmp_path / "config.yaml", "-n", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "evaluation.dialogue_sets.django-test: also the name of a test set" in output

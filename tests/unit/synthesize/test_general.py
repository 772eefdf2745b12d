"""The ``general`` family: instructions with their own answers (Alpaca, Alpaca seed tasks,
ShareGPT), read as they are, mixed with interactive translation as BayLing 1 trains.

    .venv/bin/pytest -q tests/unit/synthesize/test_general.py
"""

import json
import re
from collections import Counter

import pytest
import yaml
from conftest import ROOT, SHARED_DATA, run_snakemake

from bayling_pipeline.download.corpus import fetch_corpus
from bayling_pipeline.io import read_jsonl, read_lines, write_jsonl
from bayling_pipeline.synthesize.cli import synthesize_dataset
from bayling_pipeline.synthesize.general import general_records, parse_record
from bayling_pipeline.synthesize.recipe import validate_recipe

SEED_TASKS = SHARED_DATA / "alpaca" / "seed_tasks.jsonl"
WMT22_EN = SHARED_DATA / "wmt22" / "txt" / "sources" / "generaltest2022.en-de.src.en"
needs_seed_tasks = pytest.mark.skipif(
    not SEED_TASKS.is_file(), reason=f"{SEED_TASKS} is absent (../shared/data)"
)


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


ALPACA = [
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well."},
    {
        "instruction": "Translate the sentence into French.",
        "input": "The cat sleeps on the sofa.",
        "output": "Le chat dort sur le canapé.",
    },
    {
        "instruction": "用一句话介绍长城。",
        "output": "长城是中国古代的军事防御工程。",
        "language": "zho_Hans",
    },
    {"instruction": "What is the capital of Iceland?", "input": "", "output": "Reykjavík."},
]
SHAREGPT = [
    {
        "id": "chat-1",
        "conversations": [
            {"from": "human", "value": "Can you recommend a book about the history of tea?"},
            {"from": "gpt", "value": "Try 'The True History of Tea' by Mair and Hoh."},
            {"from": "human", "value": "Is it suitable for beginners?"},
            {"from": "gpt", "value": "Yes, it is written for a general audience."},
        ],
    },
    {  # leading assistant turn and unanswered last question: both cut
        "id": "chat-2",
        "conversations": [
            {"from": "gpt", "value": "Hello! How can I help?"},
            {"from": "human", "value": "How many legs does a spider have?"},
            {"from": "gpt", "value": "Eight."},
            {"from": "human", "value": "And an ant?"},
        ],
    },
    {  # chat messages (the stage's own output format) are read too
        "id": "chat-3",
        "messages": [user("Name a prime number above ten."), assistant("Eleven.")],
    },
    {"id": "sys", "conversations": [{"from": "system", "value": "Be terse."}]},
    {"id": "tool", "conversations": [{"from": "function", "value": "{}"}]},
]


@pytest.mark.parametrize(
    ("record", "dialogues", "problem"),
    [
        (ALPACA[0], [[user(ALPACA[0]["instruction"]), assistant("Eat well.")]], None),
        (
            ALPACA[1],
            [
                [
                    user("Translate the sentence into French.\n\nThe cat sleeps on the sofa."),
                    assistant("Le chat dort sur le canapé."),
                ]
            ],
            None,
        ),
        (
            {
                "instruction": " Classify the sentiment. ",
                "instances": [
                    {"input": "I loved it.", "output": "positive"},
                    {"input": "", "output": "neutral "},
                ],
            },
            [
                [user("Classify the sentiment.\n\nI loved it."), assistant("positive")],
                [user("Classify the sentiment."), assistant("neutral")],
            ],
            None,
        ),
        (
            SHAREGPT[0],
            [
                [
                    user(t["value"]) if i % 2 == 0 else assistant(t["value"])
                    for i, t in enumerate(SHAREGPT[0]["conversations"])
                ]
            ],
            None,
        ),
        (
            SHAREGPT[1],
            [[user("How many legs does a spider have?"), assistant("Eight.")]],
            None,
        ),
        (SHAREGPT[2], [SHAREGPT[2]["messages"]], None),
        (
            {
                "conversations": [
                    {"from": "USER", "value": "Hi"},
                    {"from": "ChatGPT", "value": "Hi!"},
                ]
            },
            [[user("Hi"), assistant("Hi!")]],
            None,
        ),
        (SHAREGPT[3], [], "system_turn"),
        (SHAREGPT[4], [], "unknown_speaker"),
        ({"conversations": [{"from": "human", "value": "Anyone?"}]}, [], "no_answer"),
        (
            {
                "conversations": [
                    {"from": "human", "value": "One."},
                    {"from": "human", "value": "Two."},
                    {"from": "gpt", "value": "Three."},
                ]
            },
            [],
            "not_alternating",
        ),
    ],
)
def test_formats_are_detected_per_record(record, dialogues, problem):
    texts = parse_record(record, "unit", "file.jsonl:1")
    assert texts["dialogues"] == dialogues
    assert texts["problem"] == problem
    assert texts["unit"] == "unit"
    assert texts["language"] == record.get("language")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"instruction": "x", "output": "y"', "not valid JSON"),
        ('["instruction", "output"]', "expected a JSON object, got list"),
        (
            '{"prompt": "x", "completion": "y"}',
            r"not an Alpaca .* keys: \['completion', 'prompt'\]",
        ),
        ('{"instruction": "x", "output": 3}', "'output' must be a string, got int"),
        ('{"instruction": "x", "input": null, "output": "y"}', "'input' must be a string"),
        ('{"instruction": "x", "instances": []}', "'instances' must be a non-empty list"),
        ('{"conversations": "hello"}', "the conversation must be a list of turns"),
        ('{"conversations": [{"from": "human"}]}', "'value' must be a string"),
        ('{"conversations": [{"value": "hi"}]}', "turn 0 must be an object with a 'from'"),
        ('{"instruction": "x", "output": "y", "language": "english"}', "'language' 'english'"),
    ],
)
def test_a_malformed_line_names_its_file_and_line(tmp_path, line, message):
    path = tmp_path / "mixed.jsonl"
    good = json.dumps(ALPACA[0])
    path.write_text(f"{good}\n\n{line}\n{good}\n", encoding="utf-8")
    recipe = validate_recipe({"mix": {"general": 1}, "general": {"files": [str(path)]}})
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}:3: {message}"):
        list(general_records(recipe, "train"))


@needs_seed_tasks
def test_alpaca_seed_tasks_are_read_as_they_are():
    recipe = validate_recipe({"mix": {"general": 1}, "general": {"files": [str(SEED_TASKS)]}})
    records = list(general_records(recipe, "train"))
    raw = list(read_jsonl(SEED_TASKS))
    assert len(records) == len(raw) == 175
    for (line, record_id, texts), task in zip(records, raw, strict=True):
        assert record_id == task["id"] == f"seed_task_{line - 1}"
        assert texts["unit"] == "seed_tasks" and texts["problem"] is None
        assert len(texts["dialogues"]) == len(task["instances"])
        first, instance = texts["dialogues"][0], task["instances"][0]
        assert first[0]["content"].startswith(task["instruction"].strip())
        assert instance["input"].strip() in first[0]["content"]
        assert first[1]["content"] == instance["output"].strip()
    assert not list(general_records(recipe, "dev"))  # no dev split: training only


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def django(tmp_path_factory):
    """The real Django catalogs corpus (the demo's), split by record id: train and dev."""
    path = tmp_path_factory.mktemp("django") / "django.jsonl"
    fetch_corpus("django_catalogs", {}, path, path.with_suffix(".manifest.json"))
    split = {"train": [], "dev": []}
    for record in read_jsonl(path):
        bucket = int(record["id"], 16) % 10
        if bucket:
            split["dev" if bucket == 1 else "train"].append(record)
    out = path.parent
    for name, records in split.items():
        write_jsonl(out / f"{name}.jsonl", records)
    return {name: str(out / f"{name}.jsonl") for name in split}


@pytest.fixture
def general_files(tmp_path):
    """Inline Alpaca and ShareGPT files, and the real seed tasks when present."""
    alpaca, sharegpt = tmp_path / "alpaca.jsonl", tmp_path / "sharegpt.json"
    write_jsonl(alpaca, ALPACA)
    write_jsonl(sharegpt, SHAREGPT)
    files = [str(alpaca), str(sharegpt)]
    return files + ([str(SEED_TASKS)] if SEED_TASKS.is_file() else [])


def synthesize(tmp_path, name, corpus, recipe, forbidden=()):
    out = tmp_path / name
    paths = [out / f for f in ("train.jsonl", "dev.jsonl", "stats.json", "samples.md")]
    stats = synthesize_dataset(
        corpus["train"], corpus["dev"], recipe, "django", forbidden, out / "work", *paths
    )
    return stats, paths


def bayling1(files, **changes):
    """Interactive translation plus general instructions: BayLing 1's training data."""
    return {
        "seed": 5,
        "examples": 160,
        "dev_examples": 10,
        "mix": {"interactive": 1, "general": 1},
        "interactive": {"directions": ["eng_Latn-zho_Hans", "eng_Latn-deu_Latn"]},
        "general": {"files": files},
        **changes,
    }


def source_dialogues(files):
    """``{(unit, line): dialogues}`` of the general files, as the family reads them."""
    recipe = validate_recipe({"mix": {"general": 1}, "general": {"files": files}})
    return {
        (texts["unit"], line): texts["dialogues"]
        for line, _, texts in general_records(recipe, "train")
    }


def test_general_dialogues_are_the_files_own(django, general_files, tmp_path):
    stats, paths = synthesize(tmp_path, "run", django, bayling1(general_files))
    train = list(read_jsonl(paths[0]))
    general = [e for e in train if e["meta"]["task"] == "general"]
    known = source_dialogues(general_files)
    units = {"alpaca", "sharegpt", *(["seed_tasks"] if SEED_TASKS.is_file() else [])}
    assert {e["meta"]["unit"] for e in general} == units
    for example in general:
        meta = example["meta"]
        assert example["messages"] in known[meta["unit"], meta["source"]["line"]]
        assert meta["source"]["corpus"] == meta["unit"] and meta["templates"] == []
        assert meta["copy"] == 0 and meta["seed"] == 5
        assert meta["languages"] in ([], ["zho_Hans"])
    # equal shares per file, at most one example per record: every inline record is used
    lines = Counter(e["meta"]["unit"] for e in general)
    assert lines["alpaca"] == len(ALPACA) and lines["sharegpt"] == 3
    zh = next(e for e in general if e["meta"]["languages"])
    assert zh["messages"] == [user(ALPACA[2]["instruction"]), assistant(ALPACA[2]["output"])]
    plan = stats["plan"]["train"]["general"]
    assert {unit: row["eligible"] for unit, row in plan.items()} == {
        "alpaca": 4,
        "sharegpt": 3,  # the system turn and the tool turn are left out
        **({"seed_tasks": 175} if SEED_TASKS.is_file() else {}),
    }
    assert stats["train"]["tasks"]["general"] == len(general)
    assert stats["train"]["tasks"]["interactive"] == len(train) - len(general) > 0
    assert stats["train"]["turns"]["2"] >= 1  # chat-1 has two exchanges
    assert stats["train"]["dropped"]["too_long"] == 0
    assert "general" not in stats["dev"]["tasks"]  # general files feed training only
    samples = paths[3].read_text(encoding="utf-8")
    assert "\n## general\n" in samples and "languages not given" in samples


def test_byte_identical_whatever_the_shard_count_and_seeded(django, general_files, tmp_path):
    outputs = {}
    for shards in (1, 3):
        recipe = bayling1(general_files, examples=60, shards=shards)
        outputs[shards] = [
            p.read_bytes() for p in synthesize(tmp_path, f"s{shards}", django, recipe)[1]
        ]
    assert outputs[1] == outputs[3]
    reseeded = synthesize(tmp_path, "seed", django, bayling1(general_files, examples=60, seed=6))
    assert reseeded[1][0].read_bytes() != outputs[1][0]
    if SEED_TASKS.is_file():  # 10 of the 175 seed tasks: which ones follows the seed

        def chosen(path):
            return {
                e["meta"]["source"]["id"]
                for e in read_jsonl(path)
                if e["meta"]["unit"] == "seed_tasks"
            }

        first, second = chosen(tmp_path / "s1" / "train.jsonl"), chosen(reseeded[1][0])
        assert len(first) == len(second) == 10 and first != second


def test_hygiene_contamination_duplicates_lengths(django, tmp_path):
    # long test sentences: a shared 8-word n-gram is contamination
    wmt = (
        [line for line in read_lines(WMT22_EN) if len(line.split()) >= 12]
        if WMT22_EN.is_file()
        else []
    )
    test_sentences = wmt[:3] or [
        "The committee will publish its final report on the new railway next spring.",
        "Researchers found that the old bridge could carry twice the expected load.",
        "Several villages along the river were evacuated after the heavy rain.",
    ]
    long_answer = "A long answer. " * 700  # 10,500 characters
    records = [
        {"instruction": "Summarize the news.", "output": f"In short: {test_sentences[0]}"},
        {
            "conversations": [
                {"from": "human", "value": test_sentences[1]},
                {"from": "gpt", "value": "Noted."},
            ]
        },
        {"instruction": "Name a colour.", "output": "Blue."},
        {"instruction": "Name a colour.", "output": "Red."},  # the same instruction again
        {"instruction": "Write an essay.", "output": long_answer},
        {"instruction": "Say nothing.", "output": " "},
        {"instruction": "Name a fruit.", "output": "Apple."},
    ]
    path = tmp_path / "mixed.jsonl"
    write_jsonl(path, records)
    recipe = {
        "seed": 1,
        "examples": 50,
        "dev_examples": 0,
        "mix": {"general": 1},
        "general": {"files": [str(path)]},
    }
    stats, paths = synthesize(tmp_path, "h", django, recipe, forbidden=test_sentences)
    train = list(read_jsonl(paths[0]))
    kept = {e["meta"]["source"]["line"] for e in train}
    assert kept == {3, 7}  # the first "Name a colour." and the fruit
    dropped = stats["train"]["dropped"]
    assert dropped["contaminated"] == 2 and dropped["duplicate"] == 1
    assert dropped["too_long"] == 1 and dropped["empty_turn"] == 1
    assert stats["plan"]["train"]["general"]["mixed"]["target"] == len(records)
    # with no length limit the essay is kept
    recipe["general"]["max_chars"] = None
    stats, paths = synthesize(tmp_path, "n", django, recipe, forbidden=test_sentences)
    assert 5 in {e["meta"]["source"]["line"] for e in read_jsonl(paths[0])}
    assert stats["train"]["dropped"]["too_long"] == 0


# --------------------------------------------------------------------------- recipe and rules


def test_a_recipe_without_general_resolves_as_before():
    """The demo's dataset, with the schema's defaults (mix.general 0, general.files []):
    the family stays out of the resolved recipe, hence of plan.json and stats.json."""
    from snakemake.utils import validate

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    validate(config, str(ROOT / "schemas" / "config.schema.yaml"))
    dataset = config["datasets"]["bayling-demo"]
    assert dataset["mix"]["general"] == 0 and dataset["general"]["files"] == []
    resolved = validate_recipe({k: v for k, v in dataset.items() if k != "corpus"})
    assert "general" not in resolved and "general" not in resolved["mix"]
    # named files do not bring the family in without a mix ratio
    named = {**dataset, "general": {"files": ["x.jsonl"]}}
    assert "general" not in validate_recipe({k: v for k, v in named.items() if k != "corpus"})


@pytest.mark.parametrize(
    ("general", "message"),
    [
        (None, "general.files must list at least one"),
        ({"files": []}, "general.files must list at least one"),
        ({"files": ["a/x.jsonl", "b/x.jsonl"]}, "are both unit 'x'"),
        ({"files": ["a/x.jsonl"], "weights": {"y": 2}}, r"\['y'\] are not units"),
        ({"files": ["a/x.jsonl"], "max_chars": 0}, "max_chars must be an integer >= 1"),
    ],
)
def test_validate_recipe_rejects_general(general, message):
    recipe = {"mix": {"general": 1}} | ({"general": general} if general is not None else {})
    with pytest.raises(ValueError, match=message):
        validate_recipe(recipe)


def test_general_files_are_inputs_of_the_synthesis_jobs(tmp_path):
    """Editing a general file reruns the plan and every shard (a dry run's inputs)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    general = tmp_path / "alpaca.jsonl"
    write_jsonl(general, ALPACA)
    dataset = config["datasets"]["bayling-demo"]
    dataset["mix"]["general"] = 1
    dataset["general"] = {"files": [str(general)]}
    configfile = tmp_path / "general.yaml"
    configfile.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "work"
    workdir.mkdir()
    target = "results/synthesize/bayling-demo/train.jsonl"
    stdout = run_snakemake(workdir, configfile, target, "-n").stdout
    jobs = re.findall(r"^(?:local)?rule (synthesize_\w+):\n    input: (.*)$", stdout, flags=re.M)
    inputs = {rule: [] for rule, _ in jobs}
    for rule, listed in jobs:
        inputs[rule].append(listed.split(", "))
    assert len(inputs["synthesize_shard"]) == dataset["shards"]
    for listed in inputs["synthesize_plan"] + inputs["synthesize_shard"]:
        assert str(general) in listed

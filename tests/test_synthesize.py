"""Instruction synthesis: dialogue shape, answers from the data, determinism, leak guard."""

import json
import re
from collections import Counter

import pytest

from bayling_pipeline import synthesize as S
from bayling_pipeline import templates as T
from bayling_pipeline.download import fetch_corpus
from bayling_pipeline.io import read_json, read_jsonl
from bayling_pipeline.languages import chinese_name, english_name

# Hand-made multi-way records; r04's German is an untranslated copy of the English.
RECORDS = [
    {
        "id": "r01",
        "texts": {
            "eng_Latn": "Save and continue editing",
            "deu_Latn": "Sichern und weiter bearbeiten",
            "fra_Latn": "Enregistrer et continuer les modifications",
            "zho_Hans": "保存并继续编辑",
        },
    },
    {
        "id": "r02",
        "texts": {
            "eng_Latn": "Delete selected objects",
            "deu_Latn": "Ausgewählte Objekte löschen",
            "zho_Hans": "删除所选对象",
        },
    },
    {
        "id": "r03",
        "texts": {
            "eng_Latn": "Change password",
            "deu_Latn": "Passwort ändern",
            "fra_Latn": "Modifier le mot de passe",
            "jpn_Jpan": "パスワードの変更",
        },
    },
    {"id": "r04", "texts": {"eng_Latn": "OK", "deu_Latn": "OK", "fra_Latn": "D'accord"}},
    {
        "id": "r05",
        "texts": {
            "eng_Latn": "Save",
            "deu_Latn": "Sichern",
            "zho_Hans": "保存",
            "ukr_Cyrl": "Зберегти",
        },
    },
    {"id": "r06", "texts": {"eng_Latn": "Log out", "isl_Latn": "Skrá út"}},
]
DEV_RECORDS = [
    {"id": "d01", "texts": {"eng_Latn": "Add user", "deu_Latn": "Benutzer hinzufügen"}},
    {
        "id": "d02",
        "texts": {"eng_Latn": "History", "deu_Latn": "Geschichte", "zho_Hans": "历史"},
    },
    {"id": "d03", "texts": {"eng_Latn": "Home", "zho_Hans": "首页", "fra_Latn": "Accueil"}},
]
RECIPE = {
    "seed": 1,
    "single_turn": {
        "examples": 12,
        "directions": ["eng_Latn-deu_Latn", "deu_Latn-eng_Latn", "eng_Latn-zho_Hans"],
        "templates": "all",
    },
    "interactive": {
        "examples": 40,
        "directions": ["eng_Latn-deu_Latn", "eng_Latn-zho_Hans"],
        "max_turns": 4,
    },
    "cross_lingual": {"examples": 7, "languages": "all"},
    "dev_examples": 6,
}
HAND_LANGUAGES = {
    "eng_Latn",
    "deu_Latn",
    "fra_Latn",
    "zho_Hans",
    "jpn_Jpan",
    "ukr_Cyrl",
    "isl_Latn",
}


def by_id(records):
    return {record["id"]: record["texts"] for record in records}


def template_of(ref):
    return T.get_template(ref.partition("@v")[0])


def assert_well_formed(example, corpus="hand"):
    messages = example["messages"]
    assert len(messages) >= 2 and len(messages) % 2 == 0
    for index, message in enumerate(messages):
        assert set(message) == {"role", "content"}
        assert message["role"] == ("user" if index % 2 == 0 else "assistant")
        assert message["content"].strip()
    meta = example["meta"]
    assert set(meta) == {"task", "templates", "languages", "source", "seed"}
    assert meta["task"] in S.TASKS and meta["source"]["corpus"] == corpus
    assert len(meta["templates"]) == len(messages) // 2
    assert len(set(meta["languages"])) == len(meta["languages"]) >= 2


def replay_interactive(example, texts):
    """Check every answer of an interactive dialogue against the record, turn by turn."""
    meta, messages = example["meta"], example["messages"]
    src, tgt = meta["languages"][:2]
    first = template_of(meta["templates"][0])
    assert messages[0]["content"] == T.render(first, src=src, tgt=tgt, source=texts[src])
    assert messages[1]["content"] == texts[tgt]
    name = chinese_name if first.language == T.CHINESE else english_name
    focus, further = tgt, iter(meta["languages"][2:])
    actions = []
    for ref, user, answer in zip(
        meta["templates"][1:], messages[2::2], messages[3::2], strict=True
    ):
        template = template_of(ref)
        assert template.language == first.language  # follow-ups keep the user's language
        action = next(a for a, registry in T.FOLLOW_UP.items() if template.id in registry)
        actions.append(action)
        if action == "further_language":
            focus = next(further)
            assert name(focus) in user["content"]
            expected = texts[focus]
        elif action == "use_term":
            assert focus != src
            term = re.search(r'["“](.+)["”]', user["content"]).group(1)
            assert term in texts[focus]
            expected = texts[focus]
        elif action == "back_translate":
            assert focus != src
            expected, focus = texts[src], src
        else:
            assert focus != src
            expected = texts[focus]
        assert answer["content"] == expected
    assert next(further, None) is None
    return actions


@pytest.fixture(scope="module")
def hand_examples():
    return S.synthesize(list(reversed(RECORDS)), RECIPE, "hand")


@pytest.fixture(scope="module")
def django(tmp_path_factory):
    """The real Django catalogs corpus, split by record id: train, dev and test."""
    path = tmp_path_factory.mktemp("django") / "django.jsonl"
    fetch_corpus("django_catalogs", {}, path, path.with_suffix(".manifest.json"))
    split = {"train": [], "dev": [], "test": []}
    for record in read_jsonl(path):
        bucket = int(record["id"], 16) % 10
        split["test" if bucket == 0 else "dev" if bucket == 1 else "train"].append(record)
    # As the workflow's split does: test texts are removed from train and dev ("%s MB" is
    # the same string in many languages, so it turns up in records of every split).
    test_texts = {text for record in split["test"] for text in record["texts"].values()}
    for name in ("train", "dev"):
        for record in split[name]:
            record["texts"] = {c: t for c, t in record["texts"].items() if t not in test_texts}
        split[name] = [record for record in split[name] if len(record["texts"]) >= 2]
    return split


def test_counts_and_well_formed_dialogues(hand_examples):
    tasks = Counter(example["meta"]["task"] for example in hand_examples)
    assert tasks == {"single_turn": 12, "interactive": 40, "cross_lingual": 7}
    for example in hand_examples:
        assert_well_formed(example)
        assert example["meta"]["seed"] == 1


def test_single_turn_prompts_and_answers_come_from_the_data(hand_examples):
    texts = by_id(RECORDS)
    single = [e for e in hand_examples if e["meta"]["task"] == "single_turn"]
    directions = Counter("-".join(e["meta"]["languages"]) for e in single)
    assert directions == dict.fromkeys(RECIPE["single_turn"]["directions"], 4)  # round robin
    for example in single:
        (src, tgt), record = example["meta"]["languages"], texts[example["meta"]["source"]["id"]]
        template = template_of(example["meta"]["templates"][0])
        user, assistant = (m["content"] for m in example["messages"])
        assert user == T.render(template, src=src, tgt=tgt, source=record[src])
        assert assistant == record[tgt] != record[src]
    # 12 examples over 8 translation templates: a deck deals each before any repeats
    assert len({e["meta"]["templates"][0] for e in single}) == len(T.TRANSLATION)


def test_interactive_follow_up_answers_equal_the_data(hand_examples):
    texts = by_id(RECORDS)
    interactive = [e for e in hand_examples if e["meta"]["task"] == "interactive"]
    actions, turns = Counter(), Counter()
    for example in interactive:
        actions.update(replay_interactive(example, texts[example["meta"]["source"]["id"]]))
        turns[len(example["messages"]) // 2] += 1
    assert set(turns) <= {2, 3, 4} and len(turns) > 1
    assert set(actions) == set(T.FOLLOW_UP_ACTIONS)


def test_chinese_instructions_name_languages_in_chinese(hand_examples):
    checked = Counter()
    for example in hand_examples:
        src, tgt = example["meta"]["languages"][:2]
        first = template_of(example["meta"]["templates"][0])
        prompt = example["messages"][0]["content"]
        if first.language == T.CHINESE:
            assert chinese_name(tgt) in prompt and english_name(tgt) not in prompt
        else:
            assert english_name(tgt) in prompt and chinese_name(tgt) not in prompt
        checked[first.language] += 1
    assert checked[T.CHINESE] and checked[T.ENGLISH]


def test_cross_lingual_covers_every_language(hand_examples):
    texts = by_id(RECORDS)
    cross = [e for e in hand_examples if e["meta"]["task"] == "cross_lingual"]
    assert {code for e in cross for code in e["meta"]["languages"]} == HAND_LANGUAGES
    for example in cross:
        (src, tgt), record = example["meta"]["languages"], texts[example["meta"]["source"]["id"]]
        template = template_of(example["meta"]["templates"][0])
        assert example["meta"]["templates"][0].partition("@")[0] in T.CROSS_LINGUAL
        assert example["messages"][0]["content"] == T.render(
            template, src=src, tgt=tgt, source=record[src]
        )
        assert example["messages"][1]["content"] == record[tgt] != record[src]


def test_untranslated_copies_are_never_paired():
    recipe = {"seed": 3, "single_turn": {"examples": 8, "directions": ["eng_Latn-deu_Latn"]}}
    used = Counter(e["meta"]["source"]["id"] for e in S.synthesize(RECORDS, recipe, "hand"))
    # 4 eligible records (r04's German copies its English), each dealt twice
    assert used == {"r01": 2, "r02": 2, "r03": 2, "r05": 2}


def test_a_direction_without_data_is_an_error():
    recipe = {"seed": 1, "single_turn": {"examples": 2, "directions": ["jpn_Jpan-zho_Hans"]}}
    with pytest.raises(ValueError, match="jpn_Jpan-zho_Hans"):
        S.synthesize(RECORDS, recipe, "hand")


def test_families_draw_from_independent_streams():
    fewer = {**RECIPE, "interactive": {**RECIPE["interactive"], "examples": 3}}

    def single(examples):
        return sorted(
            json.dumps(e, sort_keys=True) for e in examples if e["meta"]["task"] == "single_turn"
        )

    assert single(S.synthesize(RECORDS, RECIPE, "hand")) == single(
        S.synthesize(RECORDS, fewer, "hand")
    )


def write(tmp_path, name, recipe=RECIPE, train=RECORDS, dev=DEV_RECORDS, forbidden=()):
    out = tmp_path / name
    paths = [out / f for f in ("train.jsonl", "dev.jsonl", "stats.json", "samples.md")]
    stats = S.write_dataset(train, dev, recipe, "hand", set(forbidden), *paths)
    return stats, paths


def test_write_dataset_is_byte_identical_and_seeded(tmp_path):
    _, first = write(tmp_path, "a")
    _, again = write(tmp_path, "b", train=list(reversed(RECORDS)), dev=DEV_RECORDS[::-1])
    for one, two in zip(first, again, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.name
    _, reseeded = write(tmp_path, "c", recipe={**RECIPE, "seed": 2})
    assert reseeded[0].read_bytes() != first[0].read_bytes()


def test_dev_set_stats_and_samples(tmp_path):
    stats, (train, dev, stats_path, samples) = write(tmp_path, "out")
    dev_examples = list(read_jsonl(dev))
    assert Counter(e["meta"]["task"] for e in dev_examples) == S.dev_counts(
        S.validate_recipe(RECIPE)
    )
    assert {e["meta"]["source"]["id"] for e in dev_examples} <= {"d01", "d02", "d03"}
    for example in dev_examples:
        assert_well_formed(example)
    written = read_json(stats_path)
    assert written == json.loads(json.dumps(stats))
    train_stats = written["train"]
    assert train_stats["examples"] == len(list(read_jsonl(train))) == 59
    assert train_stats["tasks"] == {"single_turn": 12, "interactive": 40, "cross_lingual": 7}
    assert sum(train_stats["turns"].values()) == 59
    assert train_stats["turns"]["1"] == 12 + 7
    user_turns = sum(int(turns) * count for turns, count in train_stats["turns"].items())
    assert sum(train_stats["templates"].values()) == user_turns
    assert set(train_stats["languages"]) == HAND_LANGUAGES
    text = samples.read_text(encoding="utf-8")
    for task in S.TASKS:
        assert f"\n## {task}\n" in text and text.count(f"\n### {task} ") == 2


@pytest.mark.parametrize(
    ("counts", "dev", "expected"),
    [
        ((1200, 300, 300), 50, (34, 8, 8)),
        ((10, 0, 0), 3, (3, 0, 0)),
        ((0, 0, 0), 5, (0, 0, 0)),
        ((1, 1, 1), 2, (1, 1, 0)),
        ((100, 300, 0), 10, (3, 7, 0)),  # 2.5 / 7.5: a tie goes to the earlier family
        ((5, 5, 5), 0, (0, 0, 0)),
    ],
)
def test_dev_counts_keep_the_mix(counts, dev, expected):
    recipe = {task: {"examples": n} for task, n in zip(S.TASKS, counts, strict=True)}
    assert tuple(S.dev_counts({**recipe, "dev_examples": dev}).values()) == expected


def test_leak_guard_names_the_offending_text(tmp_path):
    with pytest.raises(S.LeakError, match=r"train example \d+ .*'Sichern'"):
        write(tmp_path, "leak", forbidden={" Sichern\n", "never used"})
    assert not (tmp_path / "leak").exists()  # nothing written
    with pytest.raises(S.LeakError, match="dev example .*'Geschichte'"):
        write(tmp_path, "leak", forbidden={"Geschichte"})


def test_leak_guard_ignores_substrings_of_longer_segments(tmp_path):
    train = [record for record in RECORDS if record["id"] != "r05"]  # holds "Save" itself
    recipe = {
        **RECIPE,
        "single_turn": {**RECIPE["single_turn"], "directions": ["eng_Latn-deu_Latn"]},
    }
    recipe["interactive"] = {**recipe["interactive"], "directions": ["eng_Latn-deu_Latn"]}
    stats, _ = write(tmp_path, "ok", recipe=recipe, train=train, forbidden={"Save", "Sichern"})
    assert stats["train"]["examples"] == 59


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": "1"}, "seed"),
        ({"single_turn": {"examples": 1, "directions": ["eng_Latn-deu"]}}, "malformed"),
        ({"single_turn": {"examples": 1, "directions": []}}, "at least one pair"),
        ({"single_turn": {"examples": -1, "directions": ["eng_Latn-deu_Latn"]}}, ">= 0"),
        (
            {
                "single_turn": {
                    "examples": 1,
                    "directions": ["eng_Latn-deu_Latn"],
                    "templates": ["x"],
                }
            },
            "unknown.*bayling-en",
        ),
        (
            {"interactive": {"examples": 1, "directions": ["eng_Latn-deu_Latn"], "max_turns": 1}},
            "max_turns",
        ),
        (
            {
                "interactive": {
                    "examples": 1,
                    "directions": ["eng_Latn-deu_Latn"],
                    "follow_ups": ["paraphrase"],
                }
            },
            "unknown.*further_language",
        ),
        ({"cross_lingual": {"examples": 1, "languages": ["eng_Latn", "xyz_Latn"]}}, "xyz_Latn"),
        ({"cross_lingual": {"examples": 1, "templates": "bayling-en"}}, "'all' or a non-empty"),
    ],
)
def test_validate_recipe_rejects(change, message):
    with pytest.raises(ValueError, match=message):
        S.validate_recipe({"seed": 1, **change})


def test_cross_lingual_languages_must_be_in_the_corpus():
    recipe = {"seed": 1, "cross_lingual": {"examples": 2, "languages": ["eng_Latn", "kor_Hang"]}}
    with pytest.raises(ValueError, match="kor_Hang"):
        S.synthesize(RECORDS, recipe, "hand")


@pytest.mark.parametrize(
    ("text", "code", "expected"),
    [
        ("Please correct the duplicate data for %(field)s.", "eng_Latn", "duplicate"),
        ("Bitte korrigieren Sie die doppelten Daten für %(field)s.", "deu_Latn", "korrigieren"),
        ("Add %(name)s", "eng_Latn", None),  # only short words and a placeholder
        ("«Сохранить»", "rus_Cyrl", "Сохранить"),
        ("保存并继续编辑", "zho_Hans", "保存"),
        ("请修改%(field)s的重复数据", "zho_Hans", "请修改"),
        ("Django 站点管理员", "zho_Hans", "站点"),
        ("パスワードの変更", "jpn_Jpan", "パスワード"),
        ("の変更", "jpn_Jpan", "変更"),
        ("存", "zho_Hans", None),
        ("บันทึกและแก้ไขต่อ", "tha_Thai", None),
    ],
)
def test_pick_term(text, code, expected):
    term = S.pick_term(text, code)
    assert term == expected
    assert term is None or term in text


def test_django_corpus_end_to_end(django, tmp_path):
    """The real corpus: every language in cross_lingual, answers from the data, no leak."""
    languages = S.corpus_languages(django["train"])
    assert len(languages) > 50
    recipe = {
        "seed": 7,
        "single_turn": {"examples": 40, "directions": ["eng_Latn-deu_Latn", "zho_Hans-eng_Latn"]},
        "interactive": {
            "examples": 60,
            "directions": ["eng_Latn-fra_Latn", "eng_Latn-zho_Hans", "eng_Latn-jpn_Jpan"],
            "max_turns": 3,
        },
        "cross_lingual": {"examples": len(languages), "languages": "all"},
        "dev_examples": 20,
    }
    test_texts = {text for record in django["test"] for text in record["texts"].values()}
    out = [tmp_path / name for name in ("train.jsonl", "dev.jsonl", "stats.json", "samples.md")]
    stats = S.write_dataset(django["train"], django["dev"], recipe, "django", test_texts, *out)
    train = list(read_jsonl(out[0]))
    assert stats["train"]["tasks"] == {
        "single_turn": 40,
        "interactive": 60,
        "cross_lingual": len(languages),
    }
    texts = by_id(django["train"])
    cross_languages = set()
    for example in train:
        assert_well_formed(example, corpus="django")
        record = texts[example["meta"]["source"]["id"]]
        if example["meta"]["task"] == "interactive":
            replay_interactive(example, record)
        elif example["meta"]["task"] == "cross_lingual":
            cross_languages.update(example["meta"]["languages"])
        assert example["messages"][-1]["content"] in record.values()
    assert cross_languages == set(languages)
    # the guard is live on this data: a test text slipped into train is caught
    with pytest.raises(S.LeakError):
        S.check_leaks(train, django["train"], {train[0]["messages"][1]["content"]}, "train")

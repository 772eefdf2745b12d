"""Instruction synthesis: families on real data, answers from the data, mixing, hygiene,
contamination, determinism across shard counts."""

import json
import re
from collections import Counter

import pytest
from conftest import SHARED_DATA

from bayling_pipeline.download.corpus import fetch_corpus
from bayling_pipeline.io import read_json, read_jsonl, read_lines, write_jsonl
from bayling_pipeline.languages import chinese_name, english_name
from bayling_pipeline.prompts import templates as T
from bayling_pipeline.synthesize import families as F
from bayling_pipeline.synthesize.cli import synthesize_dataset
from bayling_pipeline.synthesize.merge import _summary, merge_shards
from bayling_pipeline.synthesize.plan import add_thresholds, copies, count_eligible, draw, make_plan
from bayling_pipeline.synthesize.recipe import SPLITS, TASKS, generator_options, validate_recipe
from bayling_pipeline.synthesize.shard_hygiene import read_forbidden
from bayling_pipeline.synthesize.streaming import fewer_collections
from bayling_pipeline.synthesize.terms import pick_term

SHARED = SHARED_DATA
ALMA = SHARED / "alma" / "human_written_data"
WMT22 = SHARED / "wmt22" / "txt"
needs_shared = pytest.mark.skipif(not ALMA.is_dir(), reason="../shared/data is absent")

META_KEYS = {"task", "unit", "copy", "templates", "languages", "source", "seed"}


def template_of(ref):
    return T.get_template(ref.partition("@v")[0])


def assert_well_formed(example, corpus):
    messages = example["messages"]
    assert len(messages) >= 2 and len(messages) % 2 == 0
    for index, message in enumerate(messages):
        assert set(message) == {"role", "content"}
        assert message["role"] == ("user" if index % 2 == 0 else "assistant")
        assert message["content"].strip()
    meta = example["meta"]
    assert META_KEYS <= set(meta) <= META_KEYS | {"teacher"}
    assert meta["task"] in TASKS
    assert meta["source"]["corpus"] in (corpus, "instructions")
    assert meta["source"]["line"] >= 1
    assert len(meta["templates"]) == len(messages) // 2
    assert len(set(meta["languages"])) == len(meta["languages"]) >= 2


def replay_interactive(example, texts):
    """Check every data-answered turn of an interactive dialogue against the record."""
    meta, messages = example["meta"], example["messages"]
    src, tgt = meta["languages"][:2]
    first = template_of(meta["templates"][0])
    assert meta["unit"] == f"{src}-{tgt}"
    assert messages[0]["content"] == T.render(first, src=src, tgt=tgt, source=texts[src])
    assert messages[1]["content"] == texts[tgt]
    language = first.language if first.language in T.INSTRUCTION_LANGUAGES else T.ENGLISH
    name = chinese_name if language == T.CHINESE else english_name
    focus, further = tgt, iter(meta["languages"][2:])
    actions = []
    for ref, user, answer in zip(
        meta["templates"][1:], messages[2::2], messages[3::2], strict=True
    ):
        template = template_of(ref)
        assert template.language == language  # follow-ups keep the user's language
        teacher = [a for a, registry in T.TEACHER_FOLLOW_UP.items() if template.id in registry]
        if teacher:
            assert answer is messages[-1] and meta["teacher"]["action"] == teacher[0]
            actions.append(teacher[0])
            continue
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


def check_against_data(examples, records, corpus):
    """Every example is well formed and its data-given answers equal the corpus."""
    texts = {record["id"]: record["texts"] for record in records}
    actions = Counter()
    for example in examples:
        assert_well_formed(example, corpus)
        meta = example["meta"]
        record = texts[meta["source"]["id"]]
        if meta["task"] == "interactive":
            actions.update(replay_interactive(example, record))
            continue
        (src, tgt), (user, answer) = meta["languages"], example["messages"]
        template = template_of(meta["templates"][0])
        assert user["content"] == T.render(template, src=src, tgt=tgt, source=record[src])
        assert answer["content"] == record[tgt] != record[src]
        if meta["task"] == "single_turn":
            assert meta["unit"] == f"{src}-{tgt}"
            assert template.language in (T.ENGLISH, T.CHINESE, src, tgt)
        else:
            assert meta["unit"] in (src, tgt) and template.id in T.CROSS_LINGUAL
    return actions


def run(tmp_path, name, train, dev, recipe, forbidden=(), instructions=None, teacher=None):
    out = tmp_path / name
    for split, records in (("train", train), ("dev", dev)):
        write_jsonl(out / f"{split}.corpus.jsonl", records)
    paths = [out / f for f in ("train.jsonl", "dev.jsonl", "stats.json", "samples.md")]
    stats = synthesize_dataset(
        str(out / "train.corpus.jsonl"),
        str(out / "dev.corpus.jsonl"),
        recipe,
        "corpus",
        forbidden,
        out / "work",
        *paths,
        instructions=instructions,
        teacher=teacher,
    )
    return stats, paths


def alma_records(pair, limit, start=0):
    src = pair[:2]
    codes = {"de": "deu_Latn", "zh": "zho_Hans", "en": "eng_Latn"}
    folder = ALMA / f"{src}en"
    lines = {
        code: read_lines(folder / f"train.{src}-en.{code}")[start : start + limit]
        for code in (src, "en")
    }
    return [
        {
            "id": f"{src}en-{start + index:05d}",
            "texts": {codes[src]: lines[src][index], "eng_Latn": lines["en"][index]},
        }
        for index in range(limit)
    ]


ALMA_RECIPE = {
    "seed": 1,
    "examples": 600,
    "dev_examples": 20,
    "mix": {"single_turn": 3, "interactive": 1, "cross_lingual": 1},
    "single_turn": {
        "directions": [
            "deu_Latn-eng_Latn",
            "eng_Latn-deu_Latn",
            "zho_Hans-eng_Latn",
            "eng_Latn-zho_Hans",
        ]
    },
    "interactive": {"directions": ["eng_Latn-deu_Latn", "eng_Latn-zho_Hans"], "max_turns": 3},
}


@pytest.fixture(scope="module")
def alma(tmp_path_factory):
    if not ALMA.is_dir():
        pytest.skip("../shared/data is absent")
    train = alma_records("de", 400) + alma_records("zh", 400)
    dev = alma_records("de", 30, start=5000) + alma_records("zh", 30, start=5000)
    tmp = tmp_path_factory.mktemp("alma")
    stats, paths = run(tmp, "run", train, dev, ALMA_RECIPE)
    return {"train": train, "dev": dev, "stats": stats, "paths": paths}


@needs_shared
def test_families_on_real_de_en_and_zh_en_pairs(alma):
    train = list(read_jsonl(alma["paths"][0]))
    actions = check_against_data(train, alma["train"], "corpus")
    assert set(actions) == {"use_term", "back_translate", "only_translation"}  # bilingual
    tasks = Counter(e["meta"]["task"] for e in train)
    # targets 360/120/120 before hygiene; the binomial draws and drops stay close
    assert abs(tasks["single_turn"] - 360) < 50
    assert abs(tasks["interactive"] - 120) < 30 and abs(tasks["cross_lingual"] - 120) < 30
    assert len(list(read_jsonl(alma["paths"][1]))) > 10


@needs_shared
def test_templates_render_in_the_requested_language(alma):
    train = list(read_jsonl(alma["paths"][0]))
    texts = {record["id"]: record["texts"] for record in alma["train"]}
    seen = Counter()
    for example in train:
        meta = example["meta"]
        first = template_of(meta["templates"][0])
        src, tgt = meta["languages"][:2]
        # the instruction without the quoted sentence (which may say "Germany")
        prompt = example["messages"][0]["content"].replace(texts[meta["source"]["id"]][src], "")
        seen[first.language] += 1
        if first.language == T.CHINESE:
            assert chinese_name(tgt) in prompt and english_name(tgt) not in prompt
        elif first.language == T.ENGLISH:
            assert english_name(tgt) in prompt and chinese_name(tgt) not in prompt
        else:  # native: written in the source or the target language
            assert first.language in (src, tgt)
            assert T.NATIVE_NAMES[first.language][tgt] in prompt
    assert seen[T.ENGLISH] and seen[T.CHINESE] and seen["deu_Latn"]


@needs_shared
def test_stats_and_samples(alma):
    stats = read_json(alma["paths"][2])
    train = stats["train"]
    assert train["examples"] == len(list(read_jsonl(alma["paths"][0])))
    assert sum(train["tasks"].values()) == train["examples"]
    assert sum(train["turns"].values()) == train["examples"]
    user_turns = sum(int(turns) * count for turns, count in train["turns"].items())
    assert sum(train["templates"].values()) == user_turns
    assert train["lengths"]["assistant"]["words"]["turns"] == user_turns
    assert 0 < train["lengths"]["user"]["chars"]["p50"] <= train["lengths"]["user"]["chars"]["max"]
    assert set(stats["plan"]["train"]) == set(TASKS)
    samples = alma["paths"][3].read_text(encoding="utf-8")
    for task in ("single_turn", "interactive", "cross_lingual"):
        assert f"\n## {task}\n" in samples and samples.count(f"\n### {task} ") >= 2


def test_mix_shares_caps_and_alpha():
    recipe = {
        "seed": 1,
        "examples": 1000,
        "mix": {"single_turn": 3, "cross_lingual": 1},
        "single_turn": {
            "directions": ["eng_Latn-deu_Latn", "eng_Latn-isl_Latn", "eng_Latn-fra_Latn"],
            "cap": 200,
        },
        "cross_lingual": {"alpha": 1.0, "languages": ["eng_Latn", "deu_Latn"]},
    }
    single = {"eng_Latn-deu_Latn": 5000, "eng_Latn-isl_Latn": 50, "eng_Latn-fra_Latn": 4000}
    counts = {
        split: {
            **{task: {} for task in TASKS},
            "single_turn": single,
            "cross_lingual": {"eng_Latn": 3000, "deu_Latn": 1000},
        }
        for split in SPLITS
    }
    plan = make_plan(recipe, counts, ["deu_Latn", "eng_Latn"])
    rows = plan["splits"]["train"]
    # 750 / 250 by the mix; 250 each over three directions, capped at 200; Icelandic has
    # 50 records and max_reuse 3: 150
    assert {unit: row["target"] for unit, row in rows["single_turn"].items()} == {
        "eng_Latn-deu_Latn": 200,
        "eng_Latn-isl_Latn": 150,
        "eng_Latn-fra_Latn": 200,
    }
    # the small direction is upsampled, at most max_reuse (3) times per record
    assert rows["single_turn"]["eng_Latn-isl_Latn"]["target"] == 150
    assert rows["single_turn"]["eng_Latn-isl_Latn"]["whole"] == 3
    assert rows["single_turn"]["eng_Latn-deu_Latn"]["remainder"] == 200
    # alpha 1: proportional to the data (3000 : 1000), 62.5 / 187.5: the tie goes to the
    # earlier unit
    assert {u: r["target"] for u, r in rows["cross_lingual"].items()} == {
        "deu_Latn": 63,
        "eng_Latn": 187,
    }
    assert plan["units"][0] == ["single_turn", "eng_Latn-deu_Latn"]


def test_thresholds_give_each_unit_exactly_its_target(django):
    recipe = validate_recipe(
        {
            "seed": 4,
            "examples": 91 + 700,
            "mix": {"single_turn": 700, "cross_lingual": 91},
            "single_turn": {"directions": ["eng_Latn-deu_Latn"]},
        }
    )
    counts = {split: count_eligible(django["train"], recipe)[0] for split in SPLITS}
    languages = count_eligible(django["train"], recipe)[1]
    plan = make_plan(recipe, counts, languages)
    add_thresholds(plan, "train", django["train"])
    rows = plan["splits"]["train"]
    chosen = Counter()
    options = {t: generator_options(recipe, t, languages) for t in TASKS}
    for record in django["train"]:
        texts = F.texts_of(record)
        for task in ("single_turn", "cross_lingual"):
            for unit, row in rows[task].items():
                if row["target"] and F.eligible(task, unit, texts, options[task]):
                    value = draw(4, "train", task, unit, record["id"])
                    chosen[task, unit] += copies(row, value)
    for task in ("single_turn", "cross_lingual"):
        for unit, row in rows[task].items():
            assert chosen[task, unit] == row["target"], (task, unit)
    # 700 over ~550 eligible records: each once, the rest twice
    assert rows["single_turn"]["eng_Latn-deu_Latn"]["whole"] == 1
    assert {row["target"] for row in rows["cross_lingual"].values()} == {1}


def test_a_direction_without_data_is_an_error():
    recipe = {"seed": 1, "examples": 4, "mix": {"single_turn": 1}}
    recipe["single_turn"] = {"directions": ["jpn_Jpan-zho_Hans"]}
    counts = {split: {task: {} for task in TASKS} for split in SPLITS}
    with pytest.raises(ValueError, match="no record can serve jpn_Jpan-zho_Hans"):
        make_plan(recipe, counts, ["eng_Latn"])


@pytest.fixture(scope="module")
def django(tmp_path_factory):
    """The real Django catalogs corpus, split by record id: train, dev and test."""
    path = tmp_path_factory.mktemp("django") / "django.jsonl"
    fetch_corpus("django_catalogs", {}, path, path.with_suffix(".manifest.json"))
    split = {"train": [], "dev": [], "test": []}
    for record in read_jsonl(path):
        bucket = int(record["id"], 16) % 10
        split["test" if bucket == 0 else "dev" if bucket == 1 else "train"].append(record)
    return split


DJANGO_RECIPE = {
    "seed": 7,
    "examples": 500,
    "dev_examples": 30,
    "mix": {"single_turn": 2, "interactive": 2, "cross_lingual": 1},
    "single_turn": {"directions": ["eng_Latn-deu_Latn", "zho_Hans-eng_Latn", "eng_Latn-isl_Latn"]},
    "interactive": {
        "directions": ["eng_Latn-fra_Latn", "eng_Latn-zho_Hans", "eng_Latn-jpn_Jpan"],
        "max_turns": 4,
    },
    "cross_lingual": {"languages": "all"},
}


def test_multilingual_catalogs_every_language_and_follow_up(django, tmp_path):
    languages = count_eligible(django["train"], validate_recipe(DJANGO_RECIPE))[1]
    assert len(languages) > 50
    test_texts = [text for record in django["test"] for text in record["texts"].values()]
    stats, paths = run(
        tmp_path, "django", django["train"], django["dev"], DJANGO_RECIPE, test_texts
    )
    train = list(read_jsonl(paths[0]))
    actions = check_against_data(train, django["train"], "corpus")
    assert set(actions) == set(T.FOLLOW_UP_ACTIONS)
    covered = {e["meta"]["unit"] for e in train if e["meta"]["task"] == "cross_lingual"}
    assert len(covered) >= 0.8 * len(languages)  # about 100 examples over ~90 languages
    # UI strings repeat across records ("%s MB"): test-set texts are dropped, and counted
    assert stats["train"]["dropped"]["contaminated"] > 0
    forbidden = set(test_texts)
    for example in train:
        for message in example["messages"]:
            assert message["content"] not in forbidden


def test_byte_identical_whatever_the_shard_count(django, tmp_path):
    outputs = {}
    for shards in (1, 3):
        recipe = {**DJANGO_RECIPE, "shards": shards}
        _, paths = run(tmp_path, f"s{shards}", django["train"], django["dev"], recipe)
        outputs[shards] = [path.read_bytes() for path in paths]
    assert outputs[1] == outputs[3]
    _, reseeded = run(
        tmp_path, "seed", django["train"], django["dev"], {**DJANGO_RECIPE, "seed": 8}
    )
    assert reseeded[0].read_bytes() != outputs[1][0]


def test_merge_refuses_shards_of_another_plan(django, tmp_path):
    recipe = {**DJANGO_RECIPE, "shards": 2, "examples": 40}
    run(tmp_path, "a", django["train"][:300], django["dev"], recipe)
    run(tmp_path, "b", django["train"][:300], django["dev"], {**recipe, "seed": 3})
    plan = read_json(tmp_path / "a" / "work" / "plan.json")
    mixed = [tmp_path / "a" / "work" / "shards" / "0", tmp_path / "b" / "work" / "shards" / "1"]
    out = [tmp_path / "m" / name for name in ("t", "d", "s", "p")]
    with pytest.raises(ValueError, match="do not all come from this plan"):
        merge_shards(plan, mixed, *out)
    with pytest.raises(ValueError, match=r"expected shards 0..1"):
        merge_shards(plan, mixed[:1], *out)
    assert not (tmp_path / "m").exists()


@needs_shared
def test_planted_test_sentences_never_reach_the_output(tmp_path):
    """WMT22 sentences planted in the training corpus (whole, and inside a longer text)."""
    sources = read_lines(WMT22 / "sources" / "generaltest2022.en-de.src.en")
    references = read_lines(WMT22 / "references" / "generaltest2022.en-de.ref.A.de")
    train = alma_records("de", 300)
    planted = []
    for index in range(0, 60, 2):
        planted.append(
            {
                "id": f"wmt-{index}",
                "texts": {"eng_Latn": sources[index], "deu_Latn": references[index]},
            }
        )
        longer = f"{sources[index + 1]} This part is new."
        planted.append(
            {
                "id": f"wmt-{index}-x",
                "texts": {"eng_Latn": longer, "deu_Latn": references[index + 1]},
            }
        )
    recipe = {
        "seed": 1,
        "examples": 900,
        "mix": {"single_turn": 1},
        "single_turn": {"directions": ["eng_Latn-deu_Latn", "deu_Latn-eng_Latn"]},
    }
    forbidden = sources + references
    stats, paths = run(tmp_path, "wmt", train + planted, train[:20], recipe, forbidden)
    used = {e["meta"]["source"]["id"] for e in read_jsonl(paths[0])}
    assert not any(record_id.startswith("wmt-") for record_id in used)
    assert stats["train"]["dropped"]["contaminated"] >= len(planted)
    text = paths[0].read_text(encoding="utf-8")
    assert not any(sentence in text for sentence in sources[:60] if len(sentence) > 30)


def test_duplicates_and_wrong_languages_are_dropped_and_counted(django, tmp_path):
    base = [r for r in django["train"] if {"eng_Latn", "deu_Latn"} <= r["texts"].keys()][:200]
    repeated = [
        {"id": f"{record['id']}-{copy}", "texts": record["texts"]}
        for copy in range(3)
        for record in base
    ]
    english_as_german = {
        "id": "wrong",
        "texts": {
            "eng_Latn": "Please correct the duplicate data for this field, which must be unique.",
            "deu_Latn": "This sentence is plainly written in English and not at all in German.",
        },
    }
    recipe = {
        "seed": 1,
        "examples": 3000,
        "mix": {"single_turn": 1},
        "single_turn": {"directions": ["eng_Latn-deu_Latn"]},
        "max_reuse": 1,
    }
    stats, paths = run(tmp_path, "dup", repeated + [english_as_german], base[:10], recipe)
    train = list(read_jsonl(paths[0]))
    sources = Counter(e["messages"][1]["content"] for e in train)
    assert max(sources.values()) == 1
    assert "wrong" not in {e["meta"]["source"]["id"] for e in train}
    dropped = stats["train"]["dropped"]
    assert dropped["duplicate"] >= 300 and dropped["wrong_language"] >= 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": "1"}, "seed"),
        ({"examples": -1}, "examples"),
        ({"mix": {"single": 1}}, "unknown families"),
        ({"examples": 5, "mix": {}}, "mix must give"),
        ({"mix": {"single_turn": 1}, "single_turn": {"directions": []}}, "at least one pair"),
        ({"mix": {"single_turn": 1}, "single_turn": {"directions": ["eng_Latn-deu"]}}, "malformed"),
        ({"single_turn": {"templates": ["x"]}}, "unknown.*bayling-en"),
        ({"interactive": {"max_turns": 1}}, "max_turns"),
        ({"interactive": {"follow_ups": ["paraphrase"]}}, "unknown.*further_language"),
        ({"interactive": {"teacher_follow_ups": ["sing"]}}, "unknown.*polish"),
        (
            {"interactive": {"teacher_follow_ups": ["polish"], "teacher_probability": 0.5}},
            "need a 'teacher'",
        ),
        ({"mix": {"instruction_cross_lingual": 1}}, "needs a 'teacher'"),
        ({"cross_lingual": {"languages": ["eng_Latn", "xyz_Latn"]}}, "xyz_Latn"),
        ({"cross_lingual": {"templates": "bayling-en"}}, "'all' or a non-empty"),
    ],
)
def test_validate_recipe_rejects(change, message):
    with pytest.raises(ValueError, match=message):
        validate_recipe({"seed": 1, **change})


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
    term = pick_term(text, code)
    assert term == expected
    assert term is None or term in text


def test_native_templates_only_for_their_own_languages():
    def ids(src, tgt):
        return {t.id for t in F.translation_templates(["bayling-en"], src, tgt, native=True)}

    assert ids("eng_Latn", "deu_Latn") == {"bayling-en", "native-de-1", "native-de-2"}
    assert ids("eng_Latn", "isl_Latn") == {"bayling-en"}  # no Icelandic template
    assert "native-ja-1" in ids("jpn_Jpan", "eng_Latn")
    assert ids("eng_Latn", "deu_Latn") - ids("eng_Latn", "fra_Latn") == {
        "native-de-1",
        "native-de-2",
    }


def test_read_forbidden_takes_every_text_of_dialogue_files(tmp_path):
    dialogues = tmp_path / "bayling80.jsonl"
    dialogues.write_text(
        json.dumps({"id": 1, "turns": ["First question?", "Second one."], "category": "x"}) + "\n",
        encoding="utf-8",
    )
    lines = tmp_path / "test.txt"
    lines.write_text("A sentence.\nAnother.\n", encoding="utf-8")
    assert read_forbidden([dialogues, lines]) == sorted(
        ["First question?", "Second one.", "x", "A sentence.", "Another."]
    )


@needs_shared
def test_teacher_families_with_a_real_local_model(smollm2_dir, django, tmp_path):
    """Alpaca seed tasks answered in another language and teacher follow-ups, by SmolLM2;
    a second run answers everything from the cache."""
    from bayling_pipeline.synthesize.teacher import build_teacher

    seeds = tmp_path / "seed_tasks.jsonl"
    write_jsonl(seeds, list(read_jsonl(SHARED / "alpaca" / "seed_tasks.jsonl"))[:12])
    spec = {"backend": "local", "model_dir": str(smollm2_dir), "max_new_tokens": 8, "threads": 1}
    recipe = {
        "seed": 2,
        "examples": 10,
        "mix": {"interactive": 1, "instruction_cross_lingual": 1},
        "interactive": {
            "directions": ["eng_Latn-deu_Latn"],
            "teacher_follow_ups": ["comment", "summarize"],
            "teacher_probability": 1.0,
        },
        "instruction_cross_lingual": {"languages": ["deu_Latn", "zho_Hans"]},
        "teacher": {"model": "smollm2-135m"},
        "hygiene": {"language_id": False},  # a 135M model's German is not judged here
    }
    calls = []

    def counted():
        teacher = build_teacher(spec, cache_path=tmp_path / "cache.sqlite")
        inner = teacher.teacher
        original = inner.complete
        inner.complete = lambda conversations: (
            calls.append(len(conversations)) or original(conversations)
        )
        return teacher

    _, paths = run(tmp_path, "a", django["train"][:200], [], recipe, (), str(seeds), counted())
    first = [path.read_bytes() for path in paths[:2]]
    train = list(read_jsonl(paths[0]))
    asked = sum(calls)
    assert asked >= 6
    tasks = Counter(e["meta"]["task"] for e in train)
    assert tasks["instruction_cross_lingual"] >= 3 and tasks["interactive"] >= 3
    seed_texts = {F.instruction_texts(r)["instruction"] for r in read_jsonl(seeds)}
    for example in train:
        assert_well_formed(example, "corpus")
        teacher = example["meta"]["teacher"]
        assert teacher["model"].startswith("local:")
        if example["meta"]["task"] == "instruction_cross_lingual":
            (user, answer), unit = example["messages"], example["meta"]["unit"]
            assert teacher == {**teacher, "action": "translate"}
            assert any(user["content"].startswith(text) for text in seed_texts)
            assert english_name(unit) in user["content"] or chinese_name(unit) in user["content"]
            assert answer["content"].strip()
        else:
            assert teacher["action"] in ("comment", "summarize")
    calls.clear()
    _, again = run(tmp_path, "b", django["train"][:200], [], recipe, (), str(seeds), counted())
    assert calls == [] and [path.read_bytes() for path in again[:2]] == first


def test_length_summary_from_histogram_equals_sorted_values():
    import random

    rng = random.Random(5)
    for size in (1, 2, 19, 20, 21, 500):
        values = [rng.randint(0, 40) for _ in range(size)]
        ordered = sorted(values)

        def pick(q, ordered=ordered):
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        assert _summary(Counter(values)) == {
            "turns": size,
            "mean": round(sum(values) / size, 2),
            "p50": pick(0.5),
            "p95": pick(0.95),
            "max": ordered[-1],
        }
    assert _summary(Counter()) == {"turns": 0}


def test_fewer_collections_restores_the_collector_settings():
    import gc

    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections(12_345):
        assert gc.get_threshold()[0] == 12_345
        raise RuntimeError("the block failed")
    assert gc.get_threshold() == before

"""Config lookups of the rules (bayling_pipeline.workflow.queries), on the shipped configs
with their schema defaults filled in, as Snakemake fills them at parse time.

    .venv/bin/python -m pytest -v tests/workflow/test_queries.py
"""

from __future__ import annotations

import copy
import re
import shlex

import pytest
import yaml
from conftest import ROOT
from snakemake.utils import validate

from bayling_pipeline.workflow import queries as Q
from bayling_pipeline.workflow import synthesis_queries as SQ
from bayling_pipeline.workflow.checks import ConfigError, check_config


def load(path: str, **changes) -> dict:
    config = yaml.safe_load((ROOT / path).read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[key] = value
    validate(config, str(ROOT / "schemas" / "config.schema.yaml"))
    return config


DEMO = load("config.yaml")
PAPER = load("presets/bayling-wmt22.yaml")
# the paper preset's fetched outputs, scored as systems
SCORED = copy.deepcopy(PAPER)
SCORED["published"] = {
    name: {"testset": "wmt22", "path": "resources/published/{system}/{testset}/{pair}.hyp.txt"}
    for name in PAPER["download"]["published"]
}


@pytest.mark.parametrize(
    ("config", "system", "kind", "base"),
    [
        (DEMO, "smollm2-135m", "base", "smollm2-135m"),
        (DEMO, "bayling-smollm2", "finetuned", "smollm2-135m"),
        (SCORED, "bayling-7b", "published", "bayling-7b"),
    ],
)
def test_system_kind_and_base_model(config, system, kind, base):
    assert Q.system_kind(config, system) == kind
    assert Q.base_model_of(config, system) == base


def test_unknown_system_is_a_key_error():
    with pytest.raises(KeyError):
        Q.system_kind(DEMO, "gpt-5")


def test_demo_evaluates_every_system_on_every_direction():
    directions = DEMO["testsets"]["django-test"]["directions"]
    assert Q.evaluated_directions(DEMO) == [("django-test", p) for p in directions]
    expected = [(s, "django-test", p) for s in DEMO["evaluation"]["systems"] for p in directions]
    assert Q.evaluated_system_directions(DEMO) == expected


def test_published_systems_only_where_they_have_outputs():
    wmt22 = PAPER["testsets"]["wmt22"]["directions"]
    for name, spec in PAPER["download"]["published"].items():
        assert Q.system_directions(SCORED, name, "flores200-devtest") == []
        fetched = Q.system_directions(SCORED, name, "wmt22")
        assert fetched == [pair for pair in wmt22 if pair in spec["sha256"]]
    assert Q.published_path(SCORED, "gpt-4", "eng_Latn-zho_Hans") == (
        "resources/published/gpt-4/wmt22/eng_Latn-zho_Hans.hyp.txt"
    )
    fetched = Q.published_downloads(PAPER)
    assert {name for name, _, _ in fetched} == set(PAPER["download"]["published"])
    assert all(testset == "wmt22" for _, testset, _ in fetched)


def test_significance_puts_the_baseline_first():
    systems = Q.significance_systems(DEMO, "django-test", "eng_Latn-deu_Latn")
    assert systems == ["smollm2-135m", "bayling-smollm2"]
    assert len(Q.significance_directions(DEMO)) == 4
    no_baseline = load("config.yaml", scoring__significance={"baseline": None})
    assert Q.significance_directions(no_baseline) == []


@pytest.mark.parametrize(
    ("comet", "metrics"),
    [
        (None, ["bleu", "chrf"]),
        ({"name": "wmt22-da", "model": "Unbabel/x"}, ["bleu", "chrf", "comet"]),
    ],
)
def test_report_metrics(comet, metrics):
    config = copy.deepcopy(DEMO)
    config["scoring"]["comet"] = comet
    assert Q.report_metrics(config) == metrics


@pytest.mark.parametrize(
    ("model", "revision", "expected"),
    [
        ("Unbabel/wmt22-comet-da", "abc123", "abc123"),
        ("/models/comet/model.ckpt", "abc123", None),
        ("./local-comet", "abc123", None),
    ],
)
def test_comet_revision_is_none_for_local_checkpoints(model, revision, expected):
    assert Q.comet_revision({"model": model, "revision": revision}) == expected


TESTSET_FILES = [
    "results/download/testsets/{testset}/{pair}.source.txt",
    "results/download/testsets/{testset}/{pair}.reference.txt",
]
DIALOGUES = "resources/dialogues/{dialogue_set}.jsonl"


def test_synthesis_recipe_and_contamination_files():
    recipe = SQ.synthesis_recipe(DEMO, "bayling-demo")
    assert "corpus" not in recipe and recipe["shards"] == DEMO["datasets"]["bayling-demo"]["shards"]
    files = SQ.contamination_files(DEMO, "bayling-demo", TESTSET_FILES, DIALOGUES)
    for pair in DEMO["testsets"]["django-test"]["directions"]:
        assert f"results/download/testsets/django-test/{pair}.source.txt" in files
        assert f"results/download/testsets/django-test/{pair}.reference.txt" in files
    paper = SQ.contamination_files(PAPER, "bayling-demo", TESTSET_FILES, DIALOGUES)
    assert "resources/dialogues/bayling80-en.jsonl" in paper


def test_synthesis_shard_options_quote_and_name_the_shard_cache():
    config = load("config.yaml")
    options = SQ.synthesis_shard_options(config, "bayling-demo", "1", "my file.json", None)
    words = shlex.split(options)
    assert words[:2] == ["--instructions", "my file.json"]
    if config["datasets"]["bayling-demo"]["teacher"]:
        assert "resources/teacher-cache/bayling-demo/shard-1.sqlite" in words


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [
        (0, "python -m"),
        (1, "python -m"),
        (
            4,
            "accelerate launch --num_processes 4 --num_machines 1 --main_process_port 0"
            " --config_file 'a b.yaml' -m",
        ),
    ],
)
def test_finetune_launcher(gpus, expected):
    assert Q.finetune_launcher(gpus, "a b.yaml") == expected


@pytest.mark.parametrize(
    ("method", "merge", "weights"),
    [("lora", False, "adapter"), ("lora", True, "merged"), ("full", True, "full")],
)
def test_finetuned_weights(method, merge, weights):
    config = copy.deepcopy(DEMO)
    config["finetune"]["bayling-smollm2"]["recipe"]["method"] = method
    config["finetune"]["bayling-smollm2"]["merge"] = merge
    assert Q.finetuned_weights(config, "bayling-smollm2") == weights
    assert Q.merged_runs(config) == (["bayling-smollm2"] if weights == "merged" else [])


def test_decode_options_follow_the_config_and_the_run_chat_format():
    options = Q.decode_options(PAPER, "bayling-smollm2")
    assert "--chat-format bayling" in options and "--num-beams 5" in options
    assert "--chat-format model" in Q.decode_options(PAPER, "smollm2-135m")
    dialogue = Q.decode_options(PAPER, "bayling-smollm2", dialogues=True)
    assert "--temperature 0.7" in dialogue and "--template" not in dialogue
    keys = [word for word in shlex.split(options) if word.startswith("--")]
    assert keys == sorted(keys)


def test_dialogue_sets():
    assert Q.answering_systems(PAPER) == ["smollm2-135m", "bayling-smollm2"]
    assert set(Q.downloaded_dialogue_sets(PAPER)) == set(PAPER["evaluation"]["dialogue_sets"])
    pattern = "resources/dialogues/{dialogue_set}.jsonl"
    assert (
        Q.dialogue_file(PAPER, "bayling80-zh", pattern) == "resources/dialogues/bayling80-zh.jsonl"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"decoding__temperature": 0.7, "decoding__num_beams": 5}, "temperature > 0 samples"),
        ({"evaluation__systems": ["smollm2-135m", "gpt-9"]}, "evaluation.systems[1]: 'gpt-9'"),
        ({"decoding__template": "nope"}, "decoding.template: unknown template 'nope'"),
    ],
)
def test_config_check_names_the_key(changes, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_config(load("config.yaml", **changes))


@pytest.mark.parametrize("path", ["config.yaml", "presets/bayling-wmt22.yaml"])
def test_shipped_configs_pass_the_check(path):
    check_config(load(path))


# --- system variants: another system's weights, some decoding settings of its own


def with_variants(path: str, variants: dict, evaluated: list[str] | None = None) -> dict:
    """A shipped config plus ``variants`` (also evaluated, unless ``evaluated`` is given),
    validated as Snakemake validates it."""
    config = yaml.safe_load((ROOT / path).read_text())
    config["variants"] = copy.deepcopy(variants)
    systems = config["evaluation"]["systems"]
    systems += [s for s in (list(variants) if evaluated is None else evaluated) if s not in systems]
    validate(config, str(ROOT / "schemas" / "config.schema.yaml"))
    return config


VARIANTS = with_variants(
    "presets/bayling-wmt22.yaml",
    {
        "bayling-smollm2-zh": {
            "system": "bayling-smollm2",
            "label": "BayLing-SmolLM2 (zh instruction)",
            "decoding": {"template": "bayling-zh"},
        },
        "smollm2-plain": {
            "system": "smollm2-135m",
            "decoding": {"template": "plain-en", "chat_format": "bayling", "num_beams": 1},
        },
        "bayling-smollm2-greedy": {
            "system": "bayling-smollm2",
            "decoding": {"dialogues": {"temperature": 0.0}},
        },
    },
)


def option_words(config: dict, system: str, dialogues: bool = False) -> dict[str, str]:
    words = shlex.split(Q.decode_options(config, system, dialogues=dialogues))
    return dict(zip(words[::2], words[1::2], strict=True))


@pytest.mark.parametrize(
    ("variant", "system", "kind", "label"),
    [
        ("bayling-smollm2-zh", "bayling-smollm2", "finetuned", "BayLing-SmolLM2 (zh instruction)"),
        ("smollm2-plain", "smollm2-135m", "base", "smollm2-plain"),
    ],
)
def test_a_variant_decodes_with_its_system_weights(variant, system, kind, label):
    assert Q.weights_of(VARIANTS, variant) == system and Q.weights_of(VARIANTS, system) == system
    assert Q.system_kind(VARIANTS, variant) == kind
    assert Q.base_model_of(VARIANTS, variant) == Q.base_model_of(VARIANTS, system)
    assert Q.trust_remote_code_flag(VARIANTS, variant) == Q.trust_remote_code_flag(VARIANTS, system)
    assert Q.system_label(VARIANTS, variant) == label
    if kind == "finetuned":
        assert Q.finetuned_weights(VARIANTS, variant) == Q.finetuned_weights(VARIANTS, system)
    # never trained, never merged on its own
    assert variant not in Q.merged_runs(VARIANTS)


def test_a_variant_overrides_only_the_decoding_settings_it_names():
    system, variant = (
        option_words(VARIANTS, "bayling-smollm2"),
        option_words(VARIANTS, "bayling-smollm2-zh"),
    )
    assert variant.pop("--template") == "bayling-zh" and system.pop("--template") == "bayling-en"
    assert variant == system  # beams, limits, chat format (the run's, through auto) alike
    plain = option_words(VARIANTS, "smollm2-plain")
    assert plain["--template"] == "plain-en" and plain["--chat-format"] == "bayling"
    assert option_words(VARIANTS, "smollm2-135m")["--chat-format"] == "model"
    assert plain["--num-beams"] == "1" != option_words(VARIANTS, "smollm2-135m")["--num-beams"]
    # the multi-turn options: the variant's own where set, the global ones elsewhere
    greedy = option_words(VARIANTS, "bayling-smollm2-greedy", dialogues=True)
    assert greedy.pop("--temperature") == "0.0"
    shared = option_words(VARIANTS, "bayling-smollm2", dialogues=True)
    assert shared.pop("--temperature") == "0.7" and greedy == shared
    assert Q.decoding_of(VARIANTS, "bayling-smollm2") == VARIANTS["decoding"]


def test_a_variant_is_evaluated_on_every_direction_and_answers_only_when_it_differs():
    evaluated = Q.evaluated_system_directions(VARIANTS)
    for testset in VARIANTS["evaluation"]["testsets"]:
        directions = VARIANTS["testsets"][testset]["directions"]
        for variant in VARIANTS["variants"]:
            assert [p for s, t, p in evaluated if (s, t) == (variant, testset)] == directions
    # the zh-instruction variant changes only the translation template: its dialogue
    # answers would be its system's, so it answers none; the greedy one answers
    assert Q.answering_systems(VARIANTS) == [
        "smollm2-135m",
        "bayling-smollm2",
        "smollm2-plain",
        "bayling-smollm2-greedy",
    ]
    # evaluated without its system, a variant answers in its place
    alone = with_variants(
        "presets/bayling-wmt22.yaml",
        {"zh": {"system": "bayling-smollm2", "decoding": {"template": "bayling-zh"}}},
        evaluated=[],
    )
    alone["evaluation"]["systems"] = ["zh", "smollm2-135m"]
    assert Q.answering_systems(alone) == ["zh", "smollm2-135m"]


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ({"bayling-smollm2": {"system": "smollm2-135m"}}, "variants.bayling-smollm2: the name"),
        (
            {"a": {"system": "smollm2-135m"}, "b": {"system": "a"}},
            "variants.b.system: 'a' is a variant itself",
        ),
        ({"a": {"system": "gpt-9"}}, "variants.a.system: 'gpt-9' is neither a model"),
        (
            {"a": {"system": "smollm2-135m", "decoding": {"template": "bayling-fr"}}},
            "variants.a.decoding.template: unknown template 'bayling-fr'",
        ),
        (
            {"a": {"system": "smollm2-135m", "decoding": {"temperature": 0.7, "num_beams": 4}}},
            "variants.a: decoding: temperature > 0 samples",
        ),
        (
            {"a": {"system": "smollm2-135m", "decoding": {"dialogues": {"num_beams": 4}}}},
            "variants.a.decoding.dialogues: decoding: temperature > 0 samples",
        ),
    ],
    ids=["name-taken", "variant-of-variant", "unknown-system", "template", "beams", "dialogues"],
)
def test_config_check_refuses_a_wrong_variant(variants, message):
    config = with_variants("presets/bayling-wmt22.yaml", variants)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(config)


def test_a_variant_of_a_published_system_is_refused():
    config = copy.deepcopy(VARIANTS)
    config["published"] = SCORED["published"]
    config["variants"]["gpt-4-zh"] = {"system": "gpt-4", "decoding": {}}
    with pytest.raises(ConfigError, match="'gpt-4' is a published system"):
        check_config(config)


def test_variants_pass_the_check():
    check_config(VARIANTS)
    assert load("config.yaml")["variants"] == {}


SCHEMA = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())


@pytest.mark.parametrize("section", ["", "dialogues"])
def test_variant_decoding_keys_mirror_the_global_ones(section):
    """A variant's keys take the global keys' values, or null: the same types, ranges and
    choices (a new chat format added to decoding must be added to variants too)."""
    overrides = SCHEMA["$defs"]["variant"]["properties"]["decoding"]["properties"]
    decoding = SCHEMA["properties"]["decoding"]["properties"]
    if section:
        overrides, decoding = (overrides[section]["properties"], decoding[section]["properties"])
    else:
        assert set(overrides) == set(decoding) - {"shards"}
    for key, spec in overrides.items():
        if key == "dialogues":
            continue
        own = decoding[key]
        assert spec["default"] is None
        if "enum" in own:
            assert spec["enum"] == [*own["enum"], None], key
        else:  # a global key that may be null itself (system_prompt) has the same type
            expected = own["type"] if isinstance(own["type"], list) else [own["type"], "null"]
            assert spec["type"] == expected, key
        for bound in ("minimum", "maximum", "exclusiveMinimum"):
            assert spec.get(bound) == own.get(bound), (key, bound)


def test_comet_local_files(tmp_path):
    model = tmp_path / "comet"
    (model / "checkpoints").mkdir(parents=True)
    expected = [str(model / "checkpoints" / "model.ckpt"), str(model / "hparams.yaml")]
    assert Q.comet_local_files({"model": str(model)}) == expected
    ckpt = str(model / "checkpoints" / "model.ckpt")
    assert Q.comet_local_files({"model": ckpt}) == expected
    assert Q.comet_local_files({"model": "Unbabel/wmt22-comet-da", "revision": "x"}) == []
    assert Q.comet_local_files(None) == []

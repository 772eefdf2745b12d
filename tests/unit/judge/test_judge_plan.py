"""The judging section as names and paths (what rules/judge.smk asks at parse time), and its
cross-reference checks.

    .venv/bin/python -m pytest -q tests/unit/judge/test_judge_plan.py
"""

from __future__ import annotations

import copy

import pytest

from bayling_pipeline.judge import plan
from bayling_pipeline.workflow.checks import config_errors

UP = "https://raw.githubusercontent.com/ictnlp/BayLing/main/exp/general_tasks/"
CONFIG = {
    "corpora": {},
    "testsets": {"t": {"download": {}, "directions": ["eng_Latn-deu_Latn"]}},
    "models": {"smollm2-135m": {}},
    "finetune": {},
    "evaluation": {
        "systems": ["smollm2-135m"],
        "testsets": ["t"],
        "dialogue_sets": {"bayling80-en": {"url": "u"}, "bayling80-zh": {"url": "v"}},
    },
    "judging": {
        "judge": {
            "name": "gpt-4o",
            "base_url": "https://api.openai.com/v1/",
            "model": "gpt-4o-2024-08-06",
            "api_key_env": "OPENAI_API_KEY",
            "requests_per_minute": 30,
            "max_retries": 5,
            "timeout": 120,
            "max_new_tokens": 512,
            "temperature": 0.0,
            "both_orders": True,
            "label": None,
        },
        "dialogue_sets": {"en": "bayling80-en", "zh": "bayling80-zh"},
        "turns": ["single", "multi"],
        "max_items": None,
        "published_answers": {
            "gpt-3.5-turbo": {
                "url": UP + "gpt-3.5-turbo/res.bayling-80.multiturn.{lang}.jsonl",
                "label": "GPT-3.5-turbo",
                "sha256": {},
            },
        },
        "pairings": [
            {"system": "smollm2-135m", "opponent": "gpt-3.5-turbo", "published_reviews": None},
        ],
    },
}


def test_settings_in_the_papers_order():
    assert plan.settings(CONFIG) == [
        "singleturn.en",
        "singleturn.zh",
        "multiturn.en",
        "multiturn.zh",
    ]
    only_multi = copy.deepcopy(CONFIG)
    only_multi["judging"]["turns"] = ["multi"]
    assert plan.settings(only_multi) == ["multiturn.en", "multiturn.zh"]


@pytest.mark.parametrize(
    "setting,parsed",
    [("singleturn.en", ("single", "en")), ("multiturn.zh", ("multi", "zh"))],
)
def test_parse_setting(setting, parsed):
    assert plan.parse_setting(setting) == parsed
    assert plan.setting_name(*parsed) == setting


@pytest.mark.parametrize("bad", ["single.en", "triturn.en", "singleturn", "multiturn."])
def test_parse_setting_refuses(bad):
    with pytest.raises(ValueError, match="not a judging setting"):
        plan.parse_setting(bad)


def test_review_jobs_and_figures():
    assert plan.review_jobs(CONFIG) == [
        ("gpt-4o", "smollm2-135m", "gpt-3.5-turbo", s) for s in plan.settings(CONFIG)
    ]
    with_released = copy.deepcopy(CONFIG)
    with_released["judging"]["pairings"][0]["published_reviews"] = {"url": "x"}
    sources = {job[0] for job in plan.review_jobs(with_released)}
    assert sources == {"published", "gpt-4o"}
    assert plan.plot_names(with_released) == (
        ["battle.published", "battle.gpt-4o"],
        [
            "radar.published.smollm2-135m.vs.gpt-3.5-turbo",
            "radar.gpt-4o.smollm2-135m.vs.gpt-3.5-turbo",
        ],
    )
    assert plan.judge_label(with_released, "published", "smollm2-135m", "gpt-3.5-turbo") == (
        "GPT-4 (released)"
    )
    assert plan.enabled(CONFIG) and not plan.enabled({"judging": {}})


def test_answers_come_from_decoding_or_published_answers():
    decoded = "results/decode/{system}/{dialogue_set}/dialogues.jsonl"
    published = "resources/judging/answers/{answers}/{lang}.jsonl"
    assert plan.answers_path(CONFIG, "smollm2-135m", "zh", decoded, published) == (
        "results/decode/smollm2-135m/bayling80-zh/dialogues.jsonl"
    )
    assert plan.answers_path(CONFIG, "gpt-3.5-turbo", "en", decoded, published) == (
        "resources/judging/answers/gpt-3.5-turbo/en.jsonl"
    )
    assert plan.label(CONFIG, "gpt-3.5-turbo") == "GPT-3.5-turbo"
    assert plan.label(CONFIG, "smollm2-135m") == "smollm2-135m"


def test_judge_spec_is_a_teacher_spec_without_a_key():
    spec = plan.judge_spec(CONFIG)
    assert spec["backend"] == "openai" and spec["api_key_env"] == "OPENAI_API_KEY"
    assert "api_key" not in spec and "name" not in spec and "both_orders" not in spec
    # the cache key names the endpoint: one model name behind two servers may differ
    assert spec["model_id"] == "judge:gpt-4o-2024-08-06@https://api.openai.com/v1"
    from bayling_pipeline.synthesize.teacher import OpenAICompatibleTeacher, build_teacher

    teacher = build_teacher({**spec, "api_key_env": None})  # builds: every key is known
    assert isinstance(teacher, OpenAICompatibleTeacher)
    assert teacher.model_id == spec["model_id"] and teacher.interval == 2.0


def _with(path: str, value):
    config = copy.deepcopy(CONFIG)
    node = config
    *parents, last = path.split("/")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return config


@pytest.mark.parametrize(
    "path,value,message",
    [
        ("judging/dialogue_sets/en", "bayling80-fr", "judging.dialogue_sets.en: 'bayling80-fr'"),
        ("judging/judge/name", "published", "judging.judge.name: 'published'"),
        ("judging/pairings/0/system", "bayling-13b", "judging.pairings[0].system: 'bayling-13b'"),
        ("judging/pairings/0/opponent", "smollm2-135m", "judged against itself"),
        ("judging/judge", None, "neither published_reviews nor a judge"),
        (
            "judging/published_answers/gpt-3.5-turbo/url",
            "x/{language}.jsonl",
            "placeholder(s) language",
        ),
        ("judging/published_answers/smollm2-135m", {"url": "x"}, "also a model"),
        ("judging/pairings/0/published_reviews", {"url": "x/{setting}"}, "placeholder(s) setting"),
        ("judging/dialogue_sets", {}, "pairings need at least one dialogue set"),
    ],
)
def test_config_errors_name_the_key(path, value, message):
    assert config_errors(CONFIG) == []
    errors = [e for e in config_errors(_with(path, value)) if e.startswith("judging")]
    assert any(message in error for error in errors), errors


def test_a_pairing_listed_twice():
    config = copy.deepcopy(CONFIG)
    config["judging"]["pairings"] *= 2
    assert "judging.pairings[1]: smollm2-135m vs gpt-3.5-turbo is listed twice" in (
        config_errors(config)
    )

"""The constrained section of the config: the schema's defaults (the stage off), the jobs
it asks for, the decoding options, and the cross-reference checks naming the bad key.

.venv/bin/python -m pytest tests/unit/constrained/test_constrained_queries.py -q
"""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import ROOT
from snakemake.utils import validate

from bayling_pipeline.constrained import queries as CQ
from bayling_pipeline.workflow.checks import config_errors

UP = "https://raw.githubusercontent.com/ictnlp/BayLing/main/"
SECTION = {
    "sets": {
        "bayling": {
            "files": {
                "zho_Hans-eng_Latn": {"url": UP + "constraints.zh-en.en.jsonl"},
                "eng_Latn-zho_Hans": {"path": "local/constraints.en-zh.zh.jsonl"},
            },
            "max_segments": 5,
        }
    },
    "published": {
        "gpt-3.5-turbo": {
            "set": "bayling",
            "label": "GPT-3.5-turbo",
            "files": {
                "zho_Hans-eng_Latn": {"eng_Latn": {"url": UP + "g/hypo.zh-en.en.jsonl"}},
                "eng_Latn-zho_Hans": {"eng_Latn": {"url": UP + "g/hypo.en-zh.zh.jsonl"}},
            },
        },
        "bayling-7b": {
            "set": "bayling",
            "files": {
                "eng_Latn-zho_Hans": {
                    "eng_Latn": {"path": "b/hypo.en-zh.zh.jsonl"},
                    "zho_Hans": {"path": "b/hypo.en-zh.zh.zh_prompt.jsonl"},
                }
            },
        },
    },
}


def validated(section=None, **changes) -> dict:
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    if section is not None:
        config["constrained"] = copy.deepcopy(section)
    config.update(changes)
    validate(config, str(ROOT / "schemas" / "config.schema.yaml"))
    return config


def test_the_stage_is_off_by_default():
    config = validated()
    assert config["constrained"] == {
        "sets": {},
        "instruction_languages": ["eng_Latn", "zho_Hans"],
        "systems": None,
        "max_new_tokens": None,
        "published": {},
    }
    assert CQ.jobs(config) == [] and config_errors(config) == []


def test_jobs_decoded_in_both_instruction_languages_and_published_where_they_have_files():
    config = validated(SECTION)
    assert config["constrained"]["sets"]["bayling"]["files"]["zho_Hans-eng_Latn"]["sha256"] is None
    jobs = CQ.jobs(config)
    # evaluation.systems of the tiny config: the base model and the LoRA run
    decoded = [j for j in jobs if j[0] in ("smollm2-135m", "tiny-lora")]
    assert len(decoded) == 2 * 2 * 2
    assert ("tiny-lora", "bayling", "zho_Hans", "eng_Latn-zho_Hans") in decoded
    assert [j for j in jobs if j not in decoded] == [
        ("gpt-3.5-turbo", "bayling", "eng_Latn", "zho_Hans-eng_Latn"),
        ("gpt-3.5-turbo", "bayling", "eng_Latn", "eng_Latn-zho_Hans"),
        ("bayling-7b", "bayling", "eng_Latn", "eng_Latn-zho_Hans"),
        ("bayling-7b", "bayling", "zho_Hans", "eng_Latn-zho_Hans"),
    ]
    assert CQ.label(config, "gpt-3.5-turbo") == "GPT-3.5-turbo"
    assert CQ.label(config, "bayling-7b") == "bayling-7b"
    assert CQ.local_inputs(CQ.set_file(config, "bayling", "eng_Latn-zho_Hans")) == [
        "local/constraints.en-zh.zh.jsonl"
    ]
    assert CQ.local_inputs(CQ.set_file(config, "bayling", "zho_Hans-eng_Latn")) == []


@pytest.mark.parametrize(
    "systems,instructions,decoded",
    [([], ["eng_Latn"], 0), (["tiny-lora"], ["zho_Hans"], 2), (None, ["eng_Latn"], 4)],
)
def test_systems_and_instruction_languages_choose_the_decoding_jobs(systems, instructions, decoded):
    section = {**SECTION, "systems": systems, "instruction_languages": instructions}
    config = validated(section)
    assert len(CQ.jobs(config)) == decoded + 4
    assert {j[2] for j in CQ.jobs(config)[:decoded]} <= set(instructions)


def test_decoding_options_are_the_decoding_sections():
    config = validated(SECTION, decoding={"num_beams": 5, "max_new_tokens": 150, "shards": 4})
    options = CQ.decode_options(config, "bayling")
    assert options == (
        "--backend hf --batch-size 16 --chat-format bayling --max-new-tokens 150 "
        "--num-beams 5 --postprocess first_line --seed 1 --temperature 0.0 --top-p 1.0"
    )
    assert "--template" not in options and "--shards" not in options
    # BayLing's constrained script allows 150 new tokens, its translate.py 1024
    limited = validated({**SECTION, "max_new_tokens": 150}, decoding={"max_new_tokens": 1024})
    assert "--max-new-tokens 150 " in CQ.decode_options(limited, "model")


def broken(change) -> dict:
    section = copy.deepcopy(SECTION)
    change(section)
    return validated(section)


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda s: s.update(systems=["gpt-4"]),
            "constrained.systems[0]: 'gpt-4' is neither a model nor a finetune run",
        ),
        (
            lambda s: s["published"]["bayling-7b"].update(set="wmt"),
            "constrained.published.bayling-7b.set: 'wmt' is not defined under constrained.sets",
        ),
        (
            lambda s: s["published"]["bayling-7b"]["files"].update(
                {"deu_Latn-eng_Latn": {"eng_Latn": {"path": "x"}}}
            ),
            "constrained.published.bayling-7b.files.deu_Latn-eng_Latn: not a direction of "
            "constraint set 'bayling'",
        ),
        (
            lambda s: s["published"].update({"tiny-lora": s["published"].pop("bayling-7b")}),
            "constrained.published.tiny-lora: the name is also a model or finetune run",
        ),
        (
            lambda s: s["sets"]["bayling"]["files"].update({"eng_Latn-xxx_Latn": {"path": "x"}}),
            "constrained.sets.bayling.files.eng_Latn-xxx_Latn: unknown language 'xxx_Latn'",
        ),
    ],
    ids=["unknown-system", "unknown-set", "unknown-direction", "name-clash", "unknown-language"],
)
def test_cross_reference_errors_name_the_key(change, message):
    errors = config_errors(broken(change))
    assert any(message in error for error in errors), errors


def test_the_schema_refuses_a_file_without_path_or_url():
    section = copy.deepcopy(SECTION)
    section["sets"]["bayling"]["files"]["zho_Hans-eng_Latn"] = {"sha256": None}
    with pytest.raises(Exception, match="constrained"):
        validated(section)

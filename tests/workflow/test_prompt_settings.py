"""Per-model chat formats and system prompts (models.<name>.chat_format / system_prompt,
inherited by fine-tuning runs, overridden by variants) down to the decoding commands.

    .venv/bin/python -m pytest -q tests/workflow/test_prompt_settings.py

The last test is a dry run of the real Snakefile (`snakemake -n -p decode`): two systems
with different formats and system prompts get different decoding commands in one run.
"""

from __future__ import annotations

import copy
import re
import shlex

import pytest
import yaml
from conftest import ROOT, SMOLLM2, run_snakemake

from bayling_pipeline.prompts.chat_formats import BAYLING_SYSTEM
from bayling_pipeline.workflow import queries as Q
from bayling_pipeline.workflow.checks import ConfigError
from bayling_pipeline.workflow.validation import validate_config

TINY = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
TERSE = "You are a translator. Answer with the translation only."


def two_formats() -> dict:
    """tests/configs/tiny.yaml with a second model in BayLing-2-8B's format, a run on it, a
    run on the plain model with a system prompt of its own, and a variant."""
    config = copy.deepcopy(TINY)
    config["models"]["bayling2-like"] = {**SMOLLM2, "chat_format": "bayling-llama3"}
    config["models"]["smollm2-135m"]["system_prompt"] = TERSE
    config["finetune"]["tiny-lora-b2"] = {
        "base_model": "bayling2-like",
        "dataset": "tiny",
        "recipe": {**config["finetune"]["tiny-lora"]["recipe"], "chat_format": "bayling-llama3"},
    }
    config["finetune"]["tiny-lora"]["system_prompt"] = "Translate."
    config["variants"] = {
        "bayling2-like-plain": {
            "system": "bayling2-like",
            "decoding": {"chat_format": "llama3", "system_prompt": ""},
        }
    }
    config["evaluation"]["systems"] = [
        "smollm2-135m",
        "tiny-lora",
        "bayling2-like",
        "tiny-lora-b2",
        "bayling2-like-plain",
    ]
    validate_config(config, (), ROOT)
    return config


def options(config: dict, system: str, dialogues: bool = False) -> dict[str, str]:
    words = shlex.split(Q.decode_options(config, system, dialogues=dialogues))
    return dict(zip(words[::2], words[1::2], strict=True))


@pytest.mark.parametrize(
    ("system", "chat_format", "system_prompt"),
    [
        ("smollm2-135m", "model", TERSE),  # the global auto: its own template; its prompt
        ("tiny-lora", "model", "Translate."),  # its training format; a prompt of its own
        ("bayling2-like", "bayling-llama3", None),  # the format's own system line
        ("tiny-lora-b2", "bayling-llama3", None),  # inherits its base model's
        ("bayling2-like-plain", "llama3", ""),  # a variant overrides both
    ],
)
def test_each_system_gets_its_own_format_and_prompt(system, chat_format, system_prompt):
    config = two_formats()
    assert Q.chat_format_of(config, system) == chat_format
    assert Q.system_prompt_of(config, system) == system_prompt
    for dialogues in (False, True):
        words = options(config, system, dialogues)
        assert words["--chat-format"] == chat_format
        assert words.get("--system-prompt") == system_prompt


def test_a_model_format_wins_over_the_global_one_and_a_run_may_set_its_own():
    config = two_formats()
    config["decoding"]["chat_format"] = "bayling"
    assert Q.chat_format_of(config, "smollm2-135m") == "bayling"  # no format of its own
    assert Q.chat_format_of(config, "bayling2-like") == "bayling-llama3"
    config["finetune"]["tiny-lora-b2"]["chat_format"] = "llama3"
    assert Q.chat_format_of(config, "tiny-lora-b2") == "llama3"
    config["decoding"]["system_prompt"] = "Global."  # for systems that set none
    assert Q.system_prompt_of(config, "bayling2-like") == "Global."
    assert Q.system_prompt_of(config, "smollm2-135m") == TERSE


def test_systems_without_the_keys_keep_their_commands():
    config = copy.deepcopy(TINY)
    validate_config(config, (), ROOT)
    for system in config["evaluation"]["systems"]:
        assert "--system-prompt" not in Q.decode_options(config, system)
    spec = Q.model_stage_spec(config, "smollm2-135m")  # the staging's params: as before
    assert spec == {**SMOLLM2, "trust_remote_code": False}


def test_staging_ignores_how_prompts_are_written():
    config = two_formats()
    assert Q.model_stage_spec(config, "bayling2-like") == Q.model_stage_spec(config, "smollm2-135m")


def test_a_run_inheriting_another_format_than_it_trains_in_is_warned_about():
    config = two_formats()
    config["finetune"]["tiny-lora-b2"]["recipe"]["chat_format"] = "bayling"
    warnings = validate_config(config, (), ROOT)
    assert any(
        w.startswith("finetune.tiny-lora-b2: decodes in its base model's chat format")
        for w in warnings
    )
    assert not any("tiny-lora:" in w for w in warnings)


def test_an_unknown_format_is_refused_with_its_key():
    config = two_formats()
    config["models"]["bayling2-like"]["chat_format"] = "llama-3"
    with pytest.raises(ConfigError, match=r"models\.bayling2-like\.chat_format: 'llama-3'"):
        validate_config(config, (), ROOT)


def decode_commands(dry_run: str) -> dict[str, str]:
    """{system: its decoding command} from `snakemake -n -p` (one direction each)."""
    commands = {}
    for line in dry_run.splitlines():
        if "python -m bayling_pipeline.decode " in line and "eng_Latn-deu_Latn.hyp" in line:
            system = re.search(r"results/decode/([^/]+)/", line).group(1)
            commands[system] = line
    return commands


def test_two_formats_in_one_run_give_different_commands(tmp_path):
    config = two_formats()
    # the test set as a generator: the rules see its expansion
    config["testsets"]["django-test"]["directions"] = {
        "hubs": ["eng_Latn"],
        "languages": ["deu_Latn", "zho_Hans"],
        "ways": "out_of_hubs",
    }
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, allow_unicode=True))
    dry = run_snakemake(tmp_path, configfile, "-n", "-p", "decode").stdout
    commands = decode_commands(dry)
    assert set(commands) == set(config["evaluation"]["systems"])
    flags = {}
    for system, command in commands.items():
        words = shlex.split(command.split(" > ")[0])
        flags[system] = {a: b for a, b in zip(words, words[1:], strict=False) if a.startswith("--")}
    assert flags["bayling2-like"]["--chat-format"] == "bayling-llama3"
    assert "--system-prompt" not in flags["bayling2-like"]
    assert flags["smollm2-135m"]["--chat-format"] == "model"
    assert flags["smollm2-135m"]["--system-prompt"] == TERSE
    assert flags["tiny-lora-b2"]["--chat-format"] == "bayling-llama3"
    assert flags["bayling2-like-plain"]["--system-prompt"] == ""
    assert len({commands[s].split("--chat-format")[1] for s in commands}) == len(commands)
    # two hubless directions generated, one base model staged per model entry
    assert "eng_Latn-zho_Hans.hyp.txt" in dry and "deu_Latn-eng_Latn.hyp.txt" not in dry
    assert BAYLING_SYSTEM.split("\n")[0] not in dry  # the format writes it, not the command

"""Bad configs, as a user would write them: each is refused before any job with one report
that names the key path and says what is allowed, or passes with a warning in the log.

    .venv/bin/python -m pytest -q tests/workflow/test_bad_config.py

Most cases go through the validation function the Snakefile calls (fast); a few run the
real Snakefile with --dry-run, and then nothing may be written under results/.
The table of these messages is docs/bad-input.md ("Configuration").
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import time

import pytest
import yaml
from conftest import ROOT, run_snakemake, workflow_env

from bayling_pipeline.workflow import preflight
from bayling_pipeline.workflow.checks import ConfigError
from bayling_pipeline.workflow.configfiles import ConfigFileError, read_config_file
from bayling_pipeline.workflow.validation import validate_config

TINY = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
DELETE = object()


def tiny(**changes) -> dict:
    """tests/configs/tiny.yaml with ``changes`` at key paths (``scoring__metrics``)."""
    config = copy.deepcopy(TINY)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return config


def refusal(config: dict, configfiles=()) -> str:
    """The report that refuses ``config`` (the test fails when it passes)."""
    with pytest.raises(ConfigError) as error:
        validate_config(config, configfiles, ROOT)
    return str(error.value)


def warnings_of(config: dict) -> list[str]:
    return validate_config(config, (), ROOT)


def renamed(config: dict, old: str, new: str) -> dict:
    """``config`` with every occurrence of the name ``old`` (keys and values) replaced."""
    return yaml.safe_load(yaml.safe_dump(config).replace(old, new))


LOCAL_CORPUS = {
    "source": "local_parallel",
    "options": {"files": {"eng_Latn": "data/train.en", "deu_Latn": "data/train.de"}},
}

# (id, the config a user wrote, what the report must say)
REFUSED = [
    # --- the schema, in words: key path, what is wrong, what is allowed
    ("misspelled-section", {"scorng": {"metrics": ["bleu"]}}, "scorng: unknown key; did you mean 'scoring'?"),
    (
        "misspelled-key",
        {"scoring__metric": ["bleu"]},
        "scoring.metric: unknown key; did you mean 'metrics'? (scoring has: metrics,",
    ),
    ("no-metric", {"scoring__metrics": []}, "scoring.metrics: an empty list: give at least one"),
    (
        "unknown-metric",
        {"scoring__metrics": ["bleu", "comet"]},
        "scoring.metrics[1]: 'comet' is not one of bleu, chrf, ter",
    ),
    (
        "unknown-bleu-tokenizer",
        {"scoring__bleu_tokenize": {"zho_Hans": "chinese"}},
        "scoring.bleu_tokenize.zho_Hans: 'chinese' is not one of 13a, char, flores101",
    ),
    (
        "sacrebleu-style-pair",
        {"testsets__django-test__directions": ["en-zh"]},
        "testsets.django-test.directions[0]: 'en-zh' is not a direction src-tgt of two "
        "language codes (e.g. eng_Latn-deu_Latn, not en-de); write eng_Latn-zho_Hans",
    ),
    (
        "capitalized-name",
        {"finetune__Tiny-LoRA": TINY["finetune"]["tiny-lora"]},
        "finetune.Tiny-LoRA: 'Tiny-LoRA' is not a valid name here: a short name of lowercase",
    ),
    (
        "local-model-without-path",
        {"models__mine": {"source": "local"}},
        "models.mine: missing key path (needed when source is local)",
    ),
    (
        "number-as-string",
        {"decoding__batch_size": "16"},
        "decoding.batch_size: expected a whole number, got '16' (a string)",
    ),
    (
        "comet-as-a-name",
        {"scoring__comet": "wmt22-comet-da"},
        "scoring.comet: 'wmt22-comet-da' is not allowed here; expected null or a mapping",
    ),
    (
        "comet-misspelled-key",
        {"scoring__comet": {"name": "da", "batchsize": 8}},
        "scoring.comet.batchsize: unknown key; did you mean 'batch_size'?",
    ),
    (
        "testset-corpus-and-download",
        {"testsets__django-test__download": {"source": "flores200"}},
        "testsets.django-test: give only one of corpus, download, not both",
    ),
    (
        "system-twice",
        {"evaluation__systems": ["tiny-lora", "smollm2-135m", "tiny-lora"]},
        "evaluation.systems: tiny-lora listed twice: list each once",
    ),
    (
        "negative-steps",
        {"finetune__tiny-lora__recipe__max_steps": -5},
        "finetune.tiny-lora.recipe.max_steps: -5 is less than the minimum of 1",
    ),
    # --- cross-references, with the names that exist
    (
        "misspelled-system",
        {"evaluation__systems": ["smollm2-135m", "tiny-lorra"]},
        "evaluation.systems[1]: 'tiny-lorra' is neither a model, a finetune run, a variant "
        "nor a published system (known: ['smollm2-135m', 'tiny-lora']); did you mean 'tiny-lora'?",
    ),
    (
        "misspelled-template",
        {"decoding__template": "bayling_en"},
        "decoding.template: unknown template 'bayling_en'",
    ),
    (
        "unknown-base-model",
        {"finetune__tiny-lora__base_model": "smollm2"},
        "finetune.tiny-lora.base_model: 'smollm2' is not defined under models (defined: "
        "smollm2-135m); did you mean 'smollm2-135m'?",
    ),
    # --- names the workflow takes for itself
    (
        "variant-named-like-a-rule",
        {"variants__decode": {"system": "tiny-lora"}},
        "variants.decode: the name 'decode' is taken by the workflow, as a rule name "
        "(rules/decode.smk); rename it (e.g. decode-1)",
    ),
    # --- corpora: options and the directions they can give
    (
        "corpus-option-misspelled",
        {"corpora__django__options__language": ["eng_Latn", "deu_Latn"]},
        "corpora.django.options.language: unknown option of source django_catalogs; did "
        "you mean 'languages'?",
    ),
    (
        "direction-the-corpus-lacks",
        {"testsets__django-test__directions": ["eng_Latn-deu_Latn", "eng_Latn-jpn_Jpan"]},
        "testsets.django-test.directions[1]: eng_Latn-jpn_Jpan needs jpn_Jpan, which corpus "
        "'django' does not have",
    ),
    (
        "one-language-corpus",
        {"corpora__mine": {"source": "local_parallel", "options": {"files": {"eng_Latn": "a"}}}},
        "corpora.mine.options.files: give at least two languages",
    ),
    # --- local files, checked before any job
    (
        "missing-corpus-file",
        {"corpora__mine": LOCAL_CORPUS},
        "corpora.mine.options.files.eng_Latn: no such file 'data/train.en' (relative to the "
        "working directory",
    ),
    (
        "missing-model-folder",
        {"models__mine": {"source": "local", "path": "checkpoints/my-model"}},
        "models.mine.path: no such folder 'checkpoints/my-model'",
    ),
    (
        "missing-dialogue-file",
        {"evaluation__dialogue_sets": {"mine": {"path": "bayling80.jsonl"}}},
        "evaluation.dialogue_sets.mine.path: no such file 'bayling80.jsonl'",
    ),
    (
        "missing-comet-checkpoint",
        {"scoring__comet": {"name": "da", "model": "./comet/model.ckpt"}},
        "scoring.comet.model: no such checkpoint './comet/model.ckpt'",
    ),
    # --- labels: scores are recorded under them
    (
        "label-of-another-system",
        {
            "variants__greedy": {"system": "tiny-lora", "label": "smollm2-135m"},
            "evaluation__systems": ["smollm2-135m", "tiny-lora", "greedy"],
        },
        "variants.greedy.label: 'smollm2-135m' is the key of another evaluated system",
    ),
]


@pytest.mark.parametrize("changes,message", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_bad_config_is_refused_naming_the_key(changes, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # local paths are relative to the working directory
    report = refusal(tiny(**changes))
    assert message in report, report
    assert report.startswith("invalid config (1 problem")
    assert len(report.splitlines()) == 2, "one short line per problem, no schema dump"


def test_every_problem_is_in_one_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny(
        scorng={"metrics": ["bleu"]},
        decoding__num_beams=0,
        evaluation__systems=["smollm2-135m", "tiny-lorra"],
        corpora__mine=LOCAL_CORPUS,
    )
    lines = refusal(config).splitlines()
    assert lines[0].startswith("invalid config (5 problems")
    # schema errors first, then cross-references, then local files
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "scorng",
        "decoding.num_beams",
        "evaluation.systems[1]",
        "corpora.mine.options.files.eng_Latn",
        "corpora.mine.options.files.deu_Latn",
    ]


def test_the_schema_defaults_are_filled_in_as_snakemake_fills_them():
    from snakemake.utils import validate

    ours, theirs = tiny(), tiny()
    validate_config(ours, (), ROOT)
    validate(theirs, str(ROOT / "schemas" / "config.schema.yaml"))
    assert ours == theirs


# --- the files themselves: YAML errors and repeated keys, with file and line


def test_a_repeated_key_is_refused_with_file_and_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("scoring:\n  metrics: [bleu]\n  comet: null\n  metrics: [chrf]\n")
    with pytest.raises(ConfigFileError) as error:
        read_config_file(path)
    assert str(error.value) == (
        f"{path}, line 4, column 3: key 'metrics' appears twice in this mapping (first on "
        "line 2); YAML would silently keep the last: delete one of them"
    )


@pytest.mark.parametrize(
    "text,message",
    [
        ("decoding:\n  batch_size: 4\n num_beams: 2\n", "line 3, column 2: not valid YAML"),
        ("decoding:\n\tbatch_size: 4\n", "line 2, column 1: not valid YAML"),
        ("evaluation:\n  systems: [a, b\n  testsets: [c]\n", "line 3, column 11: not valid YAML"),
        ("report: {groups: Into English: [deu_Latn-eng_Latn]}\n", "line 1, column 30"),
    ],
    ids=["bad-indentation", "tab", "unclosed-list", "unquoted-colon"],
)
def test_a_yaml_error_names_file_line_and_column(text, message, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigFileError, match=re.escape(f"{path}, {message}")):
        read_config_file(path)


def test_a_config_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("- corpora\n- testsets\n")
    with pytest.raises(ConfigFileError, match="a config file is a mapping of sections"):
        read_config_file(path)


# --- warnings: legal, probably not meant


WARNED = [
    (
        "more-shards-than-segments",
        {"decoding__shards": 8},
        "decoding.shards: 8 shards of at most 4 segments (testsets.django-test.max_segments)",
    ),
    (
        "hundreds-of-shards",
        {"decoding__shards": 500, "testsets__django-test__max_segments": None},
        "decoding.shards: 500 shards x 8 decoded directions = 4,000 decoding jobs",
    ),
    (
        "references-all-with-one",
        {"scoring__references": "all"},
        "scoring.references: all, but test set 'django-test' has one reference per direction",
    ),
    (
        "published-not-evaluated",
        {"published__gpt-4": {"testset": "django-test", "path": "gpt4/{pair}.txt"}},
        "published.gpt-4: not in evaluation.systems, so never scored",
    ),
    (
        "variant-not-evaluated",
        {"variants__greedy": {"system": "tiny-lora"}},
        "variants.greedy: not in evaluation.systems, so never scored",
    ),
]


@pytest.mark.parametrize("changes,message", [c[1:] for c in WARNED], ids=[c[0] for c in WARNED])
def test_a_suspicious_config_passes_with_a_warning(changes, message):
    warnings = warnings_of(tiny(**changes))
    assert any(message in w for w in warnings), warnings


def test_a_published_system_on_a_test_set_never_evaluated_and_a_label_never_shown(tmp_path):
    (tmp_path / "outputs").mkdir()
    config = tiny(
        testsets__other={"corpus": "django", "directions": ["eng_Latn-deu_Latn"]},
        published__gpt-4={"testset": "other", "path": str(tmp_path / "outputs/{pair}.txt")},
        download__published__gpt-4={"testset": "other", "url": "https://x/{src}", "label": "GPT-4"},
        evaluation__systems=["smollm2-135m", "tiny-lora", "gpt-4"],
    )
    warnings = warnings_of(config)
    assert any("published.gpt-4: its test set 'other' is not in evaluation.testsets" in w for w in warnings)
    assert any(
        "download.published.gpt-4.label: 'GPT-4' is not what the report prints "
        "(published.gpt-4.label, now 'gpt-4'); set published.gpt-4.label: GPT-4" in w
        for w in warnings
    )


def test_the_shipped_configs_pass(monkeypatch):
    monkeypatch.chdir(ROOT)
    for path in [ROOT / "config.yaml", *sorted((ROOT / "presets").glob("*.yaml"))]:
        config = yaml.safe_load(path.read_text())
        if "testsets" not in config:  # an overlay of config.yaml
            config = {**yaml.safe_load((ROOT / "config.yaml").read_text()), **config}
        validate_config(config, [path], ROOT)


# --- what the checks rely on stays true


def test_reserved_names_cover_every_rule_of_the_workflow(tmp_path):
    result = run_snakemake(tmp_path, ROOT / "config.yaml", "--list-rules")
    rules = set(result.stdout.split())
    assert rules and rules <= set(preflight.reserved_names(ROOT))


def test_the_schema_lists_sacrebleus_tokenizers():
    from sacrebleu.metrics import BLEU

    schema = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())
    tokenize = schema["properties"]["scoring"]["properties"]["bleu_tokenize"]
    assert sorted(tokenize["additionalProperties"]["enum"]) == sorted(BLEU.TOKENIZERS)


@pytest.mark.parametrize("source", sorted(preflight.CORPUS_OPTIONS))
def test_corpus_options_match_what_the_download_job_accepts(source):
    from bayling_pipeline.download.corpus import SOURCES

    with pytest.raises(ValueError) as error:
        SOURCES[source]({"bogus": 1})
    allowed = re.search(r"allowed: \[(.*)\]", str(error.value)).group(1)
    assert sorted(a.strip(" '") for a in allowed.split(",")) == sorted(
        preflight.CORPUS_OPTIONS[source]
    )


def test_validation_imports_nothing_heavy():
    script = f"""
import sys, yaml
sys.path.insert(0, {str(ROOT / "workflow_scripts")!r})
config = yaml.safe_load(open({str(ROOT / "presets" / "bayling-wmt22.yaml")!r}))
before = set(sys.modules)
from bayling_pipeline.workflow.validation import validate_config
validate_config(config, [], {str(ROOT)!r})
print(" ".join(sorted(set(sys.modules) - before)))
"""
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.split()
    heavy = ("torch", "transformers", "sacrebleu", "numpy", "pandas", "snakemake")
    assert [m for m in loaded if m.split(".")[0] in heavy] == []

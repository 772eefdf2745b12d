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
from conftest import ROOT, job_counts, run_snakemake, workflow_env

from bayling_pipeline.workflow import preflight
from bayling_pipeline.workflow.checks import ConfigError
from bayling_pipeline.workflow.configfiles import ConfigFileError, merge_config, read_config_file
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
    (
        "misspelled-section",
        {"scorng": {"metrics": ["bleu"]}},
        "scorng: unknown key; did you mean 'scoring'?",
    ),
    (
        "misspelled-key",
        {"scoring__metric": ["bleu"]},
        "scoring.metric: unknown key; did you mean 'metrics'? (scoring has: metrics,",
    ),
    ("no-metric", {"scoring__metrics": []}, "scoring.metrics: an empty list: give at least one"),
    (
        "unknown-metric",
        {"scoring__metrics": ["bleu", "comet"]},
        "scoring.metrics[1]: 'comet' is not one of bleu, spbleu, chrf, chrf++, ter",
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
    (
        "two-systems-one-label",
        {
            "variants__greedy": {"system": "tiny-lora", "label": "LoRA"},
            "variants__beam": {"system": "tiny-lora", "label": "LoRA"},
            "evaluation__systems": ["tiny-lora", "greedy", "beam"],
        },
        "variants.beam.label: 'greedy' and 'beam' are both recorded as 'LoRA' in the scores",
    ),
    # --- knowledge benchmarks
    (
        "knowledge-unknown-task",
        {"knowledge__suites": {"mmlu": {"task": "mmlu", "subsets": ["a"], "url": "u/{subset}"}}},
        "knowledge.suites.mmlu.task: 'mmlu' is not one of agieval, xcopa, belebele",
    ),
    (
        "knowledge-path-and-url",
        {
            "knowledge__suites": {
                "x": {"task": "xcopa", "subsets": ["sw"], "url": "u/{subset}", "path": "p"}
            }
        },
        "knowledge.suites.x: give only one of path, url, not both",
    ),
    (
        "knowledge-missing-local-file",
        {"knowledge__suites": {"x": {"task": "xcopa", "subsets": ["sw"], "path": "no/{subset}"}}},
        "knowledge.suites.x.path (sw): no such file 'no/sw'",
    ),
    (
        "knowledge-published-of-an-unknown-suite",
        {
            "knowledge__suites": {"x": {"task": "xcopa", "subsets": ["sw"], "url": "u/{subset}"}},
            "knowledge__published": {"gpt": {"suite": "agieval", "url": "r/{subset}"}},
        },
        "knowledge.published.gpt.suite: 'agieval' is not under knowledge.suites (x)",
    ),
]


@pytest.mark.parametrize("changes,message", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_bad_config_is_refused_naming_the_key(changes, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # local paths are relative to the working directory
    report = refusal(tiny(**changes))
    assert message in report, report
    lines = report.splitlines()
    # one short line per problem (a missing file per language), no schema dump
    assert len(lines) <= 3 and max(map(len, lines)) < 400, report


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
    config = tiny(
        **{
            "testsets__other": {"corpus": "django", "directions": ["eng_Latn-deu_Latn"]},
            "published__gpt-4": {"testset": "other", "path": str(tmp_path / "{pair}.txt")},
            "download__published__gpt-4": {"testset": "other", "url": "x", "label": "GPT-4"},
            "evaluation__systems": ["smollm2-135m", "tiny-lora", "gpt-4"],
        }
    )
    warnings = warnings_of(config)
    assert any(
        "published.gpt-4: its test set 'other' is not in evaluation.testsets" in w for w in warnings
    )
    assert any(
        "download.published.gpt-4.label: 'GPT-4' is not what the report prints "
        "(published.gpt-4.label, now 'gpt-4'); set published.gpt-4.label: GPT-4" in w
        for w in warnings
    )


# presets that change another preset (they also change its test sets)
OVERLAYS_OF_PRESETS = {"bayling2-smoke.yaml": "bayling2.yaml"}


def test_the_shipped_configs_pass(monkeypatch):
    monkeypatch.chdir(ROOT)
    shipped = [ROOT / "config.yaml", *sorted((ROOT / "presets").glob("*.yaml"))]
    for path in [*shipped, ROOT / "tests" / "configs" / "tiny.yaml"]:
        config = read_config_file(path)
        if path.name in OVERLAYS_OF_PRESETS:  # an overlay of another preset
            base = read_config_file(ROOT / "presets" / OVERLAYS_OF_PRESETS[path.name])
            config = merge_config(base, config)
        elif "testsets" not in config:  # an overlay of config.yaml
            config = merge_config(read_config_file(ROOT / "config.yaml"), config)
        warnings = validate_config(config, [path], ROOT)
        if path.name == "bayling-wmt22.yaml":  # it fetches what bayling1-comparison scores
            assert [w.split(":")[0] for w in warnings] == ["download.published"]
            assert "bayling-7b, bayling-13b, gpt-4" in warnings[0]
        else:
            assert warnings == [], path


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


# --- through the real Snakefile: refused (or warned about) before any job


def dry_run(tmp_path, config: dict | str, *args: str, configfile: bool = True):
    """A dry run of the Snakefile on ``config`` (a dict, or the text of a YAML file) in a
    fresh working directory; nothing may be written under results/ or resources/."""
    path = tmp_path / "bad.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    if configfile:
        result = run_snakemake(workdir, path, "-n", *args, check=False)
    else:  # the Snakefile's own configfile: config.yaml of the working directory
        path.rename(workdir / "config.yaml")
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
        result = subprocess.run(
            [*command, "--directory", str(workdir), "--cores", "1", "-n", *args],
            capture_output=True,
            text=True,
            env=workflow_env(),
        )
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()
    result.log = result.stdout + result.stderr  # Snakemake's messages go to either
    return result


def config_yaml() -> str:
    return (ROOT / "config.yaml").read_text()


def test_snakemake_a_misspelled_section_is_one_line_not_a_schema_dump(tmp_path):
    result = dry_run(tmp_path, config_yaml().replace("scoring:", "scorng:"))
    assert result.returncode != 0
    assert "scorng: unknown key; did you mean 'scoring'?" in result.log
    assert "invalid config (1 problem in " in result.log
    assert len(result.log.splitlines()) < 15, result.log  # 2,600 lines before


def test_snakemake_a_system_named_like_a_result_folder(tmp_path):
    result = dry_run(tmp_path, config_yaml().replace("smollm2-135m", "significance"))
    assert result.returncode != 0
    assert "models.significance: the name 'significance' is taken by the workflow" in result.log
    assert "AmbiguousRuleException" not in result.log


def test_snakemake_a_repeated_key_names_file_and_line(tmp_path):
    text = config_yaml() + "scoring:\n  metrics: [chrf]\n"
    result = dry_run(tmp_path, text)
    assert result.returncode != 0
    line = config_yaml().splitlines().index("scoring:") + 1
    assert f"bad.yaml, line {len(text.splitlines()) - 1}, column 1: key 'scoring' " in result.log
    assert f"(first on line {line})" in result.log


def test_snakemake_schema_and_cross_reference_problems_in_one_report(tmp_path):
    text = config_yaml().replace("num_beams: 1", "num_beams: 0")
    text = text.replace(
        "systems: [smollm2-135m, bayling-smollm2]", "systems: [smollm2-135m, bayling]"
    )
    result = dry_run(tmp_path, text)
    assert result.returncode != 0
    assert "invalid config (2 problems" in result.log
    assert "decoding.num_beams: 0 is less than the minimum of 1" in result.log
    assert "evaluation.systems[1]: 'bayling' is neither" in result.log


def test_snakemake_a_yaml_error_in_a_configfile(tmp_path):
    """Snakemake reads --configfile files before the Snakefile runs, and its message names
    neither file nor line; the check command does."""
    text = config_yaml().replace("    max_segments: 48", "   max_segments: 48")
    result = dry_run(tmp_path, text)
    assert result.returncode != 0
    assert "Config file is not valid JSON or YAML" in result.log
    check = subprocess.run(
        [sys.executable, "-m", "bayling_pipeline.workflow.validation", str(tmp_path / "bad.yaml")],
        capture_output=True,
        text=True,
        env={**workflow_env(), "PYTHONPATH": str(ROOT / "workflow_scripts")},
    )
    assert check.returncode == 1 and "Traceback" not in check.stderr
    line = text.splitlines().index("   max_segments: 48") + 1
    assert f"bad.yaml, line {line}, column 4: not valid YAML" in check.stderr


def test_snakemake_a_yaml_error_in_the_default_config_names_file_and_line(tmp_path):
    text = config_yaml().replace("    max_segments: 48", "   max_segments: 48")
    result = dry_run(tmp_path, text, configfile=False)
    assert result.returncode != 0
    line = text.splitlines().index("   max_segments: 48") + 1
    assert f"config.yaml, line {line}, column 4: not valid YAML" in result.log


def test_snakemake_a_missing_local_file(tmp_path):
    config = tiny(corpora__mine=LOCAL_CORPUS)
    result = dry_run(tmp_path, config)
    assert result.returncode != 0
    assert "corpora.mine.options.files.eng_Latn: no such file 'data/train.en'" in result.log


def test_snakemake_warnings_in_one_block_and_the_run_goes_on(tmp_path):
    result = dry_run(tmp_path, tiny(decoding__shards=8, scoring__references="all"))
    assert result.returncode == 0, result.log
    log = result.log
    assert log.count("config: 2 warning(s)") == 1
    assert "decoding.shards: 8 shards of at most 4 segments" in log
    assert "scoring.references: all, but test set 'django-test'" in log


# --- local files are inputs: editing one reruns what depends on it


def _later(path, seconds: int = 10) -> None:
    """Give ``path`` a modification time ``seconds`` from now (an edit after the run)."""
    stamp = time.time() + seconds
    os.utime(path, (stamp, stamp))


def test_editing_a_local_corpus_file_reruns_its_download(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.en").write_text("Save the file.\nOpen the door.\n")
    (data / "train.de").write_text("Speichere die Datei.\nÖffne die Tür.\n")
    files = {"eng_Latn": str(data / "train.en"), "deu_Latn": str(data / "train.de")}
    config = tiny(corpora__mine={"source": "local_parallel", "options": {"files": files}})
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    workdir, target = tmp_path / "work", "resources/corpora/mine/multiway.jsonl"
    run_snakemake(workdir, configfile, target)
    assert "Nothing to be done" in run_snakemake(workdir, configfile, "-n", target).stdout
    (data / "train.de").write_text("Speichere die Datei.\nÖffne das Tor.\n")
    _later(data / "train.de")
    result = run_snakemake(workdir, configfile, "-n", target)
    assert job_counts(result.stdout) == {"download_corpus": 1}
    assert f"Updated input files: {data / 'train.de'}" in result.stdout


def test_editing_a_file_of_a_local_model_reruns_its_staging(tmp_path):
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    config = tiny(models__mine={"source": "local", "path": str(model)})
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    workdir, target = tmp_path / "work", "resources/models/mine"
    staged = workdir / target
    staged.mkdir(parents=True)  # as if staged after the model was written
    (staged / "config.json").write_text("{}")
    _later(staged / "config.json", 5)
    _later(staged, 5)
    assert "Nothing to be done" in run_snakemake(workdir, configfile, "-n", target).stdout
    (model / "config.json").write_text('{"torch_dtype": "float32"}')  # edited in place
    _later(model / "config.json", 20)
    result = run_snakemake(workdir, configfile, "-n", target)
    assert job_counts(result.stdout) == {"finetune_prepare_base": 1}
    assert f"Updated input files: {model / 'config.json'}" in result.stdout

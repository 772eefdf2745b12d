"""System variants through Snakemake: a dry run of the demo config plus two variants of its
fine-tuning run. A variant's decode jobs read the same weights as its system's, write under
results/decode/<variant>/ and differ only in the settings it changes; it is scored like any
system; nothing is trained twice.

    .venv/bin/python -m pytest -v tests/workflow/test_variants.py
"""

from __future__ import annotations

import re

import yaml
from conftest import ROOT, job_counts, run_snakemake

VARIANTS = {
    # BayLing 1's second system: the same weights, given the instruction in Chinese
    "bayling-smollm2-zh": {
        "system": "bayling-smollm2",
        "label": "BayLing-SmolLM2 (zh instruction)",
        "decoding": {"template": "bayling-zh"},
    },
    "bayling-smollm2-short": {
        "system": "bayling-smollm2",
        "decoding": {"dialogues": {"max_new_tokens": 32}},
    },
}


def dry_run_jobs(stdout: str) -> list[dict[str, str]]:
    """The jobs a `snakemake -n -p` prints: rule, input, output, wildcards, shell command."""
    jobs = []
    for block in re.split(r"^\[.*\]\n(?=(?:local)?rule )", stdout, flags=re.M)[1:]:
        job = {"rule": re.match(r"(?:local)?rule (\w+):", block).group(1)}
        for key in ("input", "output", "wildcards"):
            found = re.search(rf"^    {key}: (.*)$", block, flags=re.M)
            job[key] = found.group(1) if found else ""
        shell = re.search(r"^Shell command: (.*)$", block, flags=re.M)
        job["shell"] = shell.group(1) if shell else ""
        jobs.append(job)
    return jobs


def test_variant_dry_run_decodes_with_its_system_weights(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    dialogues = tmp_path / "dialogues.jsonl"
    dialogues.write_text('{"id": "1", "turns": ["Hello?"]}\n')
    config["variants"] = VARIANTS
    config["evaluation"]["systems"] += list(VARIANTS)
    config["evaluation"]["dialogue_sets"] = {"chat": {"path": str(dialogues)}}
    configfile = tmp_path / "variants.yaml"
    configfile.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "work"
    workdir.mkdir()

    stdout = run_snakemake(workdir, configfile, "-n", "-p").stdout
    counts = job_counts(stdout)
    directions = config["testsets"]["django-test"]["directions"]
    systems = config["evaluation"]["systems"]
    assert counts["finetune_lora"] == 1 and counts["finetune_prepare_base"] == 1
    assert counts["decode_translate"] == len(systems) * len(directions)
    assert counts["score_sacrebleu"] == len(systems) * len(directions) * 2

    jobs = dry_run_jobs(stdout)
    decode = {
        (re.search(r"system=([\w.-]+)", j["wildcards"]).group(1), j["output"].split(",")[0]): j
        for j in jobs
        if j["rule"] == "decode_translate"
    }
    pair = directions[0]
    run = decode["bayling-smollm2", f"results/decode/bayling-smollm2/django-test/{pair}.hyp.txt"]
    zh = decode[
        "bayling-smollm2-zh", f"results/decode/bayling-smollm2-zh/django-test/{pair}.hyp.txt"
    ]
    assert zh["input"] == run["input"]  # the run's adapter on the same base, nothing else
    assert "results/finetune/bayling-smollm2/adapter" in zh["input"]
    assert "--template bayling-zh" in zh["shell"] and "--template bayling-en" in run["shell"]
    assert (
        zh["shell"]
        .replace("bayling-smollm2-zh", "bayling-smollm2")
        .replace("bayling-zh", "bayling-en")
        == run["shell"]
    )

    # multi-turn: the zh variant would answer as its run does, so only the one with
    # dialogue settings of its own answers, with those settings
    answers = {
        re.search(r"system=([\w.-]+)", j["wildcards"]).group(1): j
        for j in jobs
        if j["rule"] == "decode_dialogues"
    }
    assert set(answers) == {"smollm2-135m", "bayling-smollm2", "bayling-smollm2-short"}
    assert answers["bayling-smollm2-short"]["input"] == answers["bayling-smollm2"]["input"]
    assert "--max-new-tokens 32" in answers["bayling-smollm2-short"]["shell"]
    assert "--max-new-tokens 32" not in answers["bayling-smollm2"]["shell"]
    assert not list(workdir.glob("results/*")), "a dry run wrote results"


def test_variant_with_a_wrong_template_rejects_the_config(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["variants"] = {"zh": {"system": "bayling-smollm2", "decoding": {"template": "zh"}}}
    config["evaluation"]["systems"].append("zh")
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(yaml.safe_dump(config))
    result = run_snakemake(tmp_path, configfile, "-n", check=False)
    assert result.returncode != 0
    assert "variants.zh.decoding.template: unknown template 'zh'" in result.stdout + result.stderr

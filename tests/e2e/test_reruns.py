"""The partial-rerun recipes of docs/slurm.md ("Rerunning part of the work"), checked against a
completed tiny run: each recipe's dry run schedules exactly the jobs the page promises.

    .venv/bin/python -m pytest -v tests/e2e/test_reruns.py

Dry runs only (no SLURM needed): the same commands with `--workflow-profile slurm` instead of
`--cores 2` schedule the same jobs on a cluster.
"""

from __future__ import annotations

import pytest
import yaml
from conftest import job_counts, run_snakemake

pytestmark = pytest.mark.e2e


def counts_after(tiny_run, tmp_path, *args, config_change=None):
    """Job counts of a dry run on the completed tiny run, optionally with a changed config."""
    workdir, configfile, config, _ = tiny_run
    if config_change:
        changed = yaml.safe_load(configfile.read_text())
        config_change(changed)
        configfile = tmp_path / "changed.yaml"
        configfile.write_text(yaml.safe_dump(changed))
    return job_counts(run_snakemake(workdir, configfile, "-n", *args).stdout)


def shape(config):
    """(systems, directions, sacreBLEU metrics) of the tiny run."""
    directions = len(config["testsets"]["django-test"]["directions"])
    return len(config["evaluation"]["systems"]), directions, len(config["scoring"]["metrics"])


def test_the_completed_run_is_up_to_date(tiny_run, tmp_path):
    assert counts_after(tiny_run, tmp_path) == {}


def test_adding_a_metric_scores_only_that_metric(tiny_run, tmp_path):
    # docs/slurm.md: add `ter` to scoring.metrics, then `snakemake --cores 2`
    systems, directions, _ = shape(tiny_run[2])
    counts = counts_after(
        tiny_run, tmp_path, config_change=lambda c: c["scoring"]["metrics"].append("ter")
    )
    assert counts == {"score_sacrebleu": systems * directions, "report_tables": 1, "all": 1}


def test_new_decoding_settings_redecode_and_rescore_without_retraining(tiny_run, tmp_path):
    # docs/slurm.md: set decoding.num_beams: 2, then `snakemake --cores 2`
    systems, directions, metrics = shape(tiny_run[2])
    counts = counts_after(
        tiny_run, tmp_path, config_change=lambda c: c["decoding"].update(num_beams=2)
    )
    assert counts == {
        "decode_translate": systems * directions,
        "score_sacrebleu": systems * directions * metrics,
        "score_comet": systems * directions,
        "report_tables": 1,
        "all": 1,
    }


def test_one_direction_reruns_for_every_system(tiny_run, tmp_path):
    # docs/slurm.md:
    # snakemake --cores 2 --forcerun results/decode/*/django-test/eng_Latn-deu_Latn.hyp.txt
    workdir, _, config, _ = tiny_run
    systems, _, metrics = shape(config)
    hypotheses = sorted(workdir.glob("results/decode/*/django-test/eng_Latn-deu_Latn.hyp.txt"))
    assert len(hypotheses) == systems
    relative = [str(path.relative_to(workdir)) for path in hypotheses]
    counts = counts_after(tiny_run, tmp_path, "--forcerun", *relative)
    assert counts == {
        "decode_translate": systems,
        "score_sacrebleu": systems * metrics,
        "score_comet": systems,
        "report_tables": 1,
        "all": 1,
    }


def one_system_hypotheses(workdir, system):
    paths = sorted(workdir.glob(f"results/decode/{system}/*/*.hyp.txt"))
    return [str(path.relative_to(workdir)) for path in paths]


def test_one_stage_for_one_model_with_what_follows(tiny_run, tmp_path):
    # docs/slurm.md: snakemake --cores 2 --forcerun results/decode/bayling-smollm2/*/*.hyp.txt
    workdir, _, config, _ = tiny_run
    _, directions, metrics = shape(config)
    counts = counts_after(
        tiny_run, tmp_path, "--forcerun", *one_system_hypotheses(workdir, "tiny-lora")
    )
    assert counts == {
        "decode_translate": directions,
        "score_sacrebleu": directions * metrics,
        "score_comet": directions,
        "report_tables": 1,
        "all": 1,
    }


def test_one_stage_for_one_model_alone(tiny_run, tmp_path):
    # docs/slurm.md: the same with `--until decode_translate`: decoding only, scores stay
    workdir, _, config, _ = tiny_run
    _, directions, _ = shape(config)
    hypotheses = one_system_hypotheses(workdir, "tiny-lora")
    counts = counts_after(
        tiny_run, tmp_path, "--forcerun", *hypotheses, "--until", "decode_translate"
    )
    assert counts == {"decode_translate": directions}


def test_retraining_one_model_redoes_only_its_own_evaluation(tiny_run, tmp_path):
    # docs/slurm.md: snakemake --cores 2 --forcerun results/finetune/bayling-smollm2/training.json
    _, _, config, _ = tiny_run
    _, directions, metrics = shape(config)
    counts = counts_after(
        tiny_run, tmp_path, "--forcerun", "results/finetune/tiny-lora/training.json"
    )
    assert counts == {
        "finetune_lora": 1,
        "decode_translate": directions,
        "score_sacrebleu": directions * metrics,
        "score_comet": directions,
        "report_tables": 1,
        "all": 1,
    }

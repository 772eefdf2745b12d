"""A model of source delta in the workflow: the dry run stages its base first and decodes
it like any model; a real run of rule finetune_prepare_base turns a tiny random Llama's
delta into the target (digest recorded in the lock file), and refuses a wrong base."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT, job_counts, run_snakemake
from tiny_llama import write_delta_release, write_wrong_base

from bayling_pipeline.finetune.weight_delta import WRONG_BASE, checkpoint_digest
from bayling_pipeline.io import read_json


def _config(tmp_path, models: dict, evaluate: bool = False):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["models"].update(models)
    if evaluate:
        config["evaluation"]["systems"] += list(models)
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    return configfile


def _delta(base: str, path, sha256=None) -> dict:
    return {"source": "delta", "base": base, "path": str(path), "sha256": sha256}


def test_dry_run_stages_the_base_then_the_delta_model_and_decodes_it(tmp_path):
    (tmp_path / "bayling-7b-diff").mkdir()  # local paths must exist when the config is read
    delta = _delta("smollm2-135m", tmp_path / "bayling-7b-diff")
    configfile = _config(tmp_path, {"bayling-delta": delta}, evaluate=True)
    stdout = run_snakemake(tmp_path, configfile, "-n", "-p").stdout
    assert job_counts(stdout)["finetune_prepare_base"] == 2
    job = stdout[stdout.index("output: resources/models/bayling-delta") - 200 :]
    # the staged base, and the delta's folder (editing a file of it restages the model)
    inputs = f"input: resources/models/smollm2-135m, {tmp_path / 'bayling-7b-diff'}\n"
    assert inputs + "    output: resources/models/bayling-delta" in job
    decodes = [line for line in stdout.splitlines() if "-m bayling_pipeline.decode " in line]
    assert any("--model resources/models/bayling-delta " in line for line in decodes)


def test_a_delta_whose_base_is_not_a_model_stops_the_dry_run(tmp_path):
    configfile = _config(tmp_path, {"bayling-delta": _delta("llama-7b", "/data/diff")}, True)
    result = run_snakemake(tmp_path, configfile, "-n", check=False)
    assert result.returncode != 0
    assert "models.bayling-delta.base: 'llama-7b' is not another key of models" in (
        result.stdout + result.stderr
    )


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_delta_release(tmp_path_factory.mktemp("release"))


def test_the_rule_adds_the_delta_to_the_staged_base_and_refuses_a_wrong_one(release, tmp_path):
    wrong = write_wrong_base(tmp_path / "wrong-base", intermediate_size=48)
    models = {
        "tiny-llama": {"source": "local", "path": str(release["base"])},
        "tiny-other": {"source": "local", "path": str(wrong)},
        "tiny-delta": _delta("tiny-llama", release["delta"]),
        "tiny-misplaced": _delta("tiny-other", release["delta"]),
    }
    configfile = _config(tmp_path, models)
    targets = ["resources/models/tiny-delta", "resources/models/tiny-misplaced"]
    result = run_snakemake(tmp_path, configfile, *targets, "--keep-going", check=False)

    digest = checkpoint_digest(release["target"])
    assert checkpoint_digest(tmp_path / "resources/models/tiny-delta") == digest
    lock = read_json(tmp_path / "locks" / "downloads.lock.json")
    assert lock == {f"weight-delta:{release['delta']}": {"sha256": digest, "bytes": 12448}}

    assert result.returncode != 0  # the delta on the other base
    log = (tmp_path / "logs/finetune/models/tiny-misplaced.log").read_text()
    assert f"DeltaError: {WRONG_BASE}: 6 tensor(s) differ in shape" in log
    assert not (tmp_path / "resources/models/tiny-misplaced").exists()

"""decoding.backend ctranslate2 through Snakemake: variants of a fine-tuning run decode a
converted model (rule decode_convert, one conversion per weight type, the adapter merged
in), an int8 variant is a system of its own with its compute type on its command line, and
systems on other backends keep their commands; then for real, on the tiny config, a base
model's variant converted and decoded with its cost and compute type recorded.

    .venv/bin/python -m pytest -v tests/workflow/test_ctranslate2_rules.py
"""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT, job_counts, run_snakemake
from test_variants import dry_run_jobs

from bayling_pipeline.decode.convert import verify
from bayling_pipeline.io import read_json

VARIANTS = {
    "bayling-smollm2-ct2": {"system": "bayling-smollm2", "decoding": {"backend": "ctranslate2"}},
    "bayling-smollm2-int8": {
        "system": "bayling-smollm2",
        "label": "BayLing-SmolLM2 (int8)",
        "decoding": {"backend": "ctranslate2", "compute_type": "int8", "batch_tokens": 2048},
    },
}


def test_ctranslate2_variants_decode_a_converted_model(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    before = run_snakemake(tmp_path / "before", _write(tmp_path, "before.yaml", config), "-n", "-p")
    config["variants"] = VARIANTS
    config["evaluation"]["systems"] += list(VARIANTS)
    after = run_snakemake(tmp_path / "after", _write(tmp_path, "after.yaml", config), "-n", "-p")

    jobs = dry_run_jobs(after.stdout)
    converts = [job for job in jobs if job["rule"] == "decode_convert"]
    assert job_counts(after.stdout)["decode_convert"] == 2  # float32 and int8 weights
    for job in converts:
        assert "--adapter=results/finetune/bayling-smollm2/adapter" in job["shell"]
        assert "--cache-dir resources/ctranslate2/.cache" in job["shell"]
    decodes = {
        job["output"].split("/")[2]: job for job in jobs if job["rule"] == "decode_translate"
    }
    ct2, int8 = decodes["bayling-smollm2-ct2"]["shell"], decodes["bayling-smollm2-int8"]["shell"]
    assert "--model resources/ctranslate2/bayling-smollm2/float32 --adapter= " in ct2
    assert "--backend ctranslate2" in ct2 and "--compute-type" not in ct2
    assert "--model resources/ctranslate2/bayling-smollm2/int8" in int8
    assert "--compute-type int8" in int8 and "--batch-tokens 2048" in int8
    # the other systems' commands are as they were without the variants
    unchanged = {job["output"]: job["shell"] for job in dry_run_jobs(before.stdout)}
    for job in jobs:
        if job["output"] in unchanged:
            assert job["shell"] == unchanged[job["output"]], job["output"]


def _write(tmp_path, name, config):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    (tmp_path / name.removesuffix(".yaml")).mkdir()
    return path


@pytest.mark.e2e
def test_a_base_model_variant_is_converted_and_decoded(tmp_path):
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    config["variants"] = {
        "smollm2-int8": {
            "system": "smollm2-135m",
            "decoding": {"backend": "ctranslate2", "compute_type": "int8"},
        }
    }
    config["evaluation"]["systems"].append("smollm2-int8")
    configfile = _write(tmp_path, "work.yaml", config)
    workdir = tmp_path / "work"
    target = "results/decode/smollm2-int8/django-test/eng_Latn-deu_Latn.meta.json"
    run_snakemake(workdir, configfile, target)

    meta = read_json(workdir / target)
    assert meta["settings"]["compute_type"] == "int8" and meta["device"] == "cpu (ctranslate2)"
    assert meta["engine"]["quantization"] == "int8"
    assert meta["engine"]["converted_from"]["model"] == "resources/models/smollm2-135m"
    assert meta["cost"]["generated_tokens"] > 0 and meta["cost"]["load_seconds"] > 0
    manifest = verify(workdir / "resources" / "ctranslate2" / "smollm2-135m" / "int8")
    assert manifest["check"]["argmax_agreement"] >= 0.8
    assert list((workdir / "resources" / "ctranslate2" / ".cache").glob("*/model.bin"))

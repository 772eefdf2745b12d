"""The finetune rules' commands in dry runs: one GPU or CPU runs `python -m`, several GPUs
`accelerate launch` with the shipped config, and merge: true puts a merge job between
training and decoding."""

import pytest
import yaml
from conftest import ROOT, run_snakemake


def _dry_run(tmp_path, gpus: int, **run_settings) -> str:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.setdefault("compute", {}).setdefault("finetune", {})["gpus"] = gpus
    for run in config["finetune"].values():
        run.update(run_settings)
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    return run_snakemake(tmp_path, configfile, "-n", "-p").stdout


def _commands(stdout: str, module: str) -> list[str]:
    return [line for line in stdout.splitlines() if f"-m bayling_pipeline.{module} " in line]


def test_one_gpu_trains_with_plain_python_and_decodes_base_plus_adapter(tmp_path):
    stdout = _dry_run(tmp_path, gpus=0)
    (train,) = _commands(stdout, "finetune")
    assert "python -m bayling_pipeline.finetune" in train and "accelerate" not in train
    assert "bayling_pipeline.finetune.merge_adapter" not in stdout
    finetuned = [c for c in _commands(stdout, "decode") if "/adapter" in c]
    assert finetuned and all("--model resources/models/" in c for c in finetuned)


@pytest.mark.parametrize("distributed", ["fsdp", "deepspeed", "ddp"])
def test_several_gpus_train_through_accelerate_launch(tmp_path, distributed):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.setdefault("compute", {})["finetune"] = {"gpus": 4, "distributed": distributed}
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    (train,) = _commands(run_snakemake(tmp_path, configfile, "-n", "-p").stdout, "finetune")
    shipped = ROOT / "profiles" / "accelerate" / f"{distributed}.yaml"
    assert shipped.is_file()
    assert (
        "accelerate launch --num_processes 4 --num_machines 1 --main_process_port 0"
        f" --config_file {shipped} "
        "-m bayling_pipeline.finetune" in train
    )


def test_merge_puts_a_standalone_model_between_training_and_decoding(tmp_path):
    stdout = _dry_run(tmp_path, gpus=1, merge=True)
    (merge,) = _commands(stdout, "finetune.merge_adapter")
    assert "--output results/finetune/bayling-smollm2/merged" in merge
    decodes = [c for c in _commands(stdout, "decode") if "bayling-smollm2" in c]
    assert decodes and all(
        "--model results/finetune/bayling-smollm2/merged --adapter= " in c for c in decodes
    )


def test_full_fine_tuning_decodes_the_trained_model_itself(tmp_path):
    stdout = _dry_run(tmp_path, gpus=1, recipe={"method": "full"}, merge=True)
    assert "bayling_pipeline.finetune.merge_adapter" not in stdout  # nothing to merge
    decodes = [c for c in _commands(stdout, "decode") if "bayling-smollm2" in c]
    assert decodes and all(
        "--model results/finetune/bayling-smollm2/adapter --adapter= " in c for c in decodes
    )


@pytest.mark.parametrize("name", ["fsdp", "deepspeed", "ddp"])
def test_shipped_accelerate_configs_parse(name):
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(str(ROOT / "profiles" / "accelerate" / f"{name}.yaml"))
    assert config.num_machines == 1
    if name == "fsdp":
        assert config.fsdp_config["fsdp_sharding_strategy"] == "FULL_SHARD"
        assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"
    if name == "deepspeed":
        assert config.deepspeed_config["zero_stage"] == 3
        assert config.deepspeed_config["zero3_save_16bit_model"] is True

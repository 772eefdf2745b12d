"""Merging a LoRA adapter: the standalone model computes what base + adapter compute."""

from bayling_pipeline.finetune.merge_adapter import merge_adapter
from bayling_pipeline.io import read_json, write_json


def test_merged_model_logits_equal_base_plus_adapter(smollm2_dir, smollm2_tokenizer, tmp_path):
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    # an adapter with random (not zero) B matrices, so merging has something to change
    torch.manual_seed(0)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "down_proj"],
        init_lora_weights=False,
    )
    adapted = get_peft_model(AutoModelForCausalLM.from_pretrained(smollm2_dir), config)
    with torch.no_grad():  # the size of a trained adapter's update, not of a random init
        for name, weight in adapted.named_parameters():
            if "lora_B" in name:
                weight.mul_(0.05)
    adapted.save_pretrained(tmp_path / "adapter")
    smollm2_tokenizer.save_pretrained(tmp_path / "adapter")
    write_json(tmp_path / "adapter" / "chat_format.json", {"chat_format": "bayling@v1"})

    merge_adapter(smollm2_dir, tmp_path / "adapter", tmp_path / "merged")

    merged_dir = tmp_path / "merged"
    assert (merged_dir / "model.safetensors").is_file()
    assert (merged_dir / "tokenizer.json").is_file() and (merged_dir / "config.json").is_file()
    assert not (merged_dir / "adapter_config.json").exists()  # a plain model, no PEFT needed
    assert read_json(merged_dir / "chat_format.json") == {"chat_format": "bayling@v1"}
    ids = smollm2_tokenizer(["Translate into German: Save the file"], return_tensors="pt")
    base = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()
    with torch.no_grad():
        plain = base(**ids).logits
        reference = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()(**ids).logits
        merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()(**ids).logits
    assert (reference - plain).abs().max() > 1e-2, "the adapter must change the logits"
    torch.testing.assert_close(merged, reference, atol=1e-4, rtol=0)

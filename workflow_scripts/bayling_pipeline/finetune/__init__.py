"""Stage 3, finetune: base-model staging, training, LoRA merge (rules/finetune.smk)."""

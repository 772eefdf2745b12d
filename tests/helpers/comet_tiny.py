"""Build a real but tiny COMET checkpoint offline, for tests (a few seconds on CPU).

    from comet_tiny import build_tiny_comet
    ckpt = build_tiny_comet(tmp_path_factory.mktemp("comet"))   # <dir>/checkpoints/model.ckpt

The model is an untrained ``comet.models.RegressionMetric`` on top of a 2-layer XLM-R
encoder (hidden size 32, 2 heads) whose SentencePiece vocabulary is trained here on the
English, German and Chinese UI strings of Django's own translation catalogs. Its scores
mean nothing, but loading, batching, tokenisation and prediction run through the very
code paths a published COMET model uses. Weights come from a fixed seed, so the same
inputs always give the same scores.

Layout written under ``workdir`` (the one ``comet.load_from_checkpoint`` expects)::

    encoder/                  XLM-R config, tokenizer (the checkpoint's ``pretrained_model``)
    hparams.yaml              with ``class_identifier: regression_metric``
    checkpoints/model.ckpt    a Lightning checkpoint (state dict + hyper-parameters)

Calling it again on the same ``workdir`` returns the existing checkpoint, so a
session-scoped pytest fixture builds it once per test session.
"""

from __future__ import annotations

import os
from pathlib import Path

SEED = 20230606  # fixed weights: identical inputs give identical scores across runs
HIDDEN = 32
VOCAB = 2000  # SentencePiece pieces (> the ~700 distinct characters); XLM-R adds 5 specials
CATALOGS = ("django/conf/locale", "django/contrib/admin/locale")
LOCALES = ("de", "zh_Hans")


def training_text() -> list[str]:
    """English, German and Chinese lines from the Django catalogs that ship with Django."""
    import django
    import polib

    root = Path(django.__file__).parent.parent
    lines: set[str] = set()
    for catalog in CATALOGS:
        for locale in LOCALES:
            po = root / catalog / locale / "LC_MESSAGES" / "django.po"
            for entry in polib.pofile(str(po)):
                for text in (entry.msgid, entry.msgstr):
                    text = " ".join(text.split())
                    if text:
                        lines.add(text)
    return sorted(lines)  # sorted: the SentencePiece model must not depend on set order


def _train_tokenizer(encoder_dir: Path) -> int:
    """Train a unigram SentencePiece model and save an XLM-R tokenizer; return its size."""
    import sentencepiece as spm
    from transformers import XLMRobertaTokenizerFast

    corpus = encoder_dir / "spm_corpus.txt"
    corpus.write_text("\n".join(training_text()) + "\n", encoding="utf-8")
    prefix = encoder_dir / "spm"
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        model_type="unigram",
        vocab_size=VOCAB,
        character_coverage=1.0,  # keep every Chinese character
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
        # XLM-R's fairseq vocabulary: <s>=0 <pad>=1 </s>=2 <unk>=3, pieces follow
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
    )
    corpus.unlink()
    tokenizer = XLMRobertaTokenizerFast(vocab_file=str(prefix) + ".model")
    tokenizer.save_pretrained(encoder_dir)
    (encoder_dir / "spm.model").unlink()
    (encoder_dir / "spm.vocab").unlink()
    return len(tokenizer)


def _save_encoder(encoder_dir: Path, vocab_size: int) -> None:
    from transformers import XLMRobertaConfig, XLMRobertaModel

    config = XLMRobertaConfig(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * HIDDEN,
        max_position_embeddings=130,  # 128 tokens + the padding offset XLM-R positions use
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(encoder_dir)


def build_tiny_comet(workdir: str | os.PathLike) -> Path:
    """Build (once) the tiny COMET model under ``workdir``; return its ``model.ckpt`` path."""
    workdir = Path(workdir)
    checkpoint = workdir / "checkpoints" / "model.ckpt"
    if checkpoint.is_file() and (workdir / "hparams.yaml").is_file():
        return checkpoint

    import pytorch_lightning as pl
    import torch
    import yaml
    from comet.models import RegressionMetric

    torch.manual_seed(SEED)
    encoder_dir = workdir / "encoder"
    encoder_dir.mkdir(parents=True, exist_ok=True)
    _save_encoder(encoder_dir, _train_tokenizer(encoder_dir))
    model = RegressionMetric(
        pretrained_model=str(encoder_dir.resolve()),
        encoder_model="XLM-RoBERTa",
        load_pretrained_weights=True,  # the encoder weights saved just above
        local_files_only=True,
        layer="mix",
        hidden_sizes=[HIDDEN],
        activations="Tanh",
        final_activation="Sigmoid",  # scores in (0, 1), like COMET-22's
        dropout=0.1,
        batch_size=4,
    )
    hparams = dict(model.hparams)
    hparams["class_identifier"] = "regression_metric"  # what load_from_checkpoint dispatches on
    hparams["load_pretrained_weights"] = False
    (workdir / "hparams.yaml").write_text(yaml.safe_dump(hparams), encoding="utf-8")
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    partial = checkpoint.with_name(".model.ckpt.partial")
    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": hparams,
            "pytorch-lightning_version": pl.__version__,
            "epoch": 0,
            "global_step": 0,
        },
        partial,
    )
    partial.replace(checkpoint)  # the checkpoint's presence marks a complete build
    return checkpoint

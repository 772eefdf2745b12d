"""Small real stand-ins for two big downloads, built in tests: a tarball in the layout of
the NLLB Flores-200 release, and a SentencePiece model where sacreBLEU's flores200
tokenizer (spBLEU) expects its 4 MB one."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def flores_tarball(folder: Path, lines: dict[str, list[str]], split: str = "devtest") -> Path:
    """``folder/nllb/flores200_dataset.tar.gz`` (the path under dl.fbaipublicfiles.com)
    holding ``flores200_dataset/<split>/<code>.<split>`` for each code of ``lines``."""
    path = folder / "nllb" / "flores200_dataset.tar.gz"
    path.parent.mkdir(parents=True)
    with tarfile.open(path, "w:gz") as archive:
        for code, text in lines.items():
            data = "".join(f"{line}\n" for line in text).encode()
            info = tarfile.TarInfo(f"flores200_dataset/{split}/{code}.{split}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def train_tiny_spm(lines: list[str], vocab_size: int = 60) -> bytes:
    """A real (tiny) SentencePiece unigram model trained on ``lines``, as bytes."""
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines * 5),
        model_writer=model,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        model_type="unigram",
        minloglevel=2,
    )
    return model.getvalue()

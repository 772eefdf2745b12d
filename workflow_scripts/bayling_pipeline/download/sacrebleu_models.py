"""sacreBLEU's SentencePiece model for spBLEU (tokenizer ``flores200``), staged for offline jobs.

    python -m bayling_pipeline.download.sacrebleu_models \\
        resources/sacrebleu/models/flores200sacrebleuspm [--url URL] [--sha256 HEX]

sacreBLEU downloads this model the first time a score uses the ``flores200`` tokenizer,
into ``$SACREBLEU/models/flores200sacrebleuspm`` (``~/.sacrebleu`` by default), which a
compute node without network cannot do. The download stage fetches it instead, like every
other file (``bayling_pipeline.download.fetch``: the cache, the digest pinned in the config
or recorded in the lock file, mirrors, offline mode), checks that it is a SentencePiece
model (a link shortener's HTML page is not) and copies it, atomically, to where scoring
jobs point sacreBLEU (``score.sacrebleu_metrics.use_staged_models``). The default URL is
sacreBLEU 2.6.0's own (``sacrebleu.tokenizers.tokenizer_spm.SPM_MODELS``), a tinyurl link
to the NLLB SentencePiece model on dl.fbaipublicfiles.com.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from bayling_pipeline.cli import run_cli
from bayling_pipeline.download import fetch
from bayling_pipeline.io import DataError, atomic_path, write_json

FLORES200_SPM_URL = "https://tinyurl.com/flores200sacrebleuspm"


def _pieces(path: Path, url: str) -> int:
    """The vocabulary size of a SentencePiece model; DataError when it is none."""
    import sentencepiece

    try:
        return sentencepiece.SentencePieceProcessor(model_file=str(path)).get_piece_size()
    except (RuntimeError, OSError) as error:
        raise DataError(
            f"{url}: the downloaded file ({path}) is not a SentencePiece model ({error})"
        ) from None


def stage_spm_model(
    url: str,
    sha256: str | None,
    out: str | os.PathLike,
    manifest: str | os.PathLike | None = None,
) -> dict:
    """Fetch the model at ``url`` (``sha256`` pinned, or None: the lock file), check it and
    copy it to ``out``; write and return its manifest (URL, digest, pinning, pieces)."""
    path = fetch.fetch(url, sha256)
    record = fetch.provenance(url, sha256, path) | {"pieces": _pieces(path, url)}
    with atomic_path(out) as tmp:
        shutil.copyfile(path, tmp)
    if manifest is not None:
        write_json(manifest, record)
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="where to put the model")
    parser.add_argument("--url", default=FLORES200_SPM_URL)
    parser.add_argument("--sha256", default=None, help="pinned digest (default: the lock file)")
    parser.add_argument("--cache", default=fetch.Settings.cache, help="download cache folder")
    args = parser.parse_args(argv)
    with fetch.using(fetch.Settings(cache=args.cache)):
        record = stage_spm_model(args.url, args.sha256, args.out)
    print(f"{args.out}: {record['pieces']} pieces, sha256 {record['sha256']}")


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.download.sacrebleu_models")

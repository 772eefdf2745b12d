"""Every direction of a test set in one decoding job (evaluation.pool_directions): pieces
tile the pooled segments, the pooled job writes what one job per direction writes, shards
merge into the same files, and a changed direction is the only one decoded again.

    .venv/bin/pytest tests/unit/decode/test_pooled.py -q
"""

from __future__ import annotations

import pytest

from bayling_pipeline.decode import pooled
from bayling_pipeline.decode.settings import Settings
from bayling_pipeline.decode.translate import translate_file
from bayling_pipeline.io import DataError, read_json, read_lines, write_lines

SOURCES = {
    "eng_Latn-deu_Latn": ["The password is too short.", "Save and add another.", "Delete."],
    "eng_Latn-fra_Latn": ["This field is required.", "Log out"],
    "deu_Latn-eng_Latn": ["Datei löschen.", "Das Passwort ist zu kurz.", "Ja", "Nein"],
}
# batch size 1: no padding, so pooled and per-direction outputs are equal token for token
OPTIONS = ["--max-new-tokens", "8", "--batch-size", "1", "--template", "bayling-en"]


@pytest.mark.parametrize(
    ("counts", "shard", "shards", "expected"),
    [
        ([3, 2, 4], 0, 1, [("a", 0, 3), ("b", 0, 2), ("c", 0, 4)]),
        ([3, 2, 4], 0, 2, [("a", 0, 3), ("b", 0, 2)]),
        ([3, 2, 4], 1, 2, [("c", 0, 4)]),
        ([3, 2, 4], 1, 3, [("b", 0, 2), ("c", 0, 1)]),
        ([3, 2, 4], 2, 3, [("c", 1, 4)]),
        ([1], 1, 2, []),  # more shards than segments: an empty shard
    ],
)
def test_pieces_tile_the_pooled_segments(counts, shard, shards, expected):
    pairs = ["a", "b", "c"][: len(counts)]
    pieces = pooled.pooled_pieces(pairs, counts, shard, shards)
    assert [(p.pair, p.start, p.end) for p in pieces] == expected


def _sources(folder, texts=SOURCES):
    paths = []
    for pair, lines in texts.items():
        paths.append(folder / f"{pair}.source.txt")
        write_lines(paths[-1], lines)
    return paths


def _run(model, sources, out, *extra):
    pairs = list(SOURCES)
    argv = ["--model", str(model), "--pairs", *pairs, "--sources", *map(str, sources)]
    argv += ["--cache-dir", str(out / ".pooled-cache"), *OPTIONS, *extra]
    if "--shards" not in extra:
        argv += ["--outputs", *(str(out / f"{p}.hyp.txt") for p in pairs)]
        argv += ["--metas", *(str(out / f"{p}.meta.json") for p in pairs)]
    pooled.main(argv)


@pytest.fixture(scope="module")
def pooled_run(smollm2_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pooled")
    sources = _sources(folder)
    out = folder / "out"
    _run(smollm2_dir, sources, out)
    return folder, sources, out


def test_pooled_job_writes_what_one_job_per_direction_writes(pooled_run, smollm2_dir):
    folder, sources, out = pooled_run
    settings = Settings(max_new_tokens=8, batch_size=1, template="bayling-en")
    for pair, source in zip(SOURCES, sources, strict=True):
        alone = folder / "alone" / f"{pair}.hyp.txt"
        meta = translate_file(
            smollm2_dir, None, source, pair, alone, folder / "alone" / f"{pair}.meta.json", settings
        )
        assert read_lines(out / f"{pair}.hyp.txt") == read_lines(alone)
        pooled_meta = read_json(out / f"{pair}.meta.json")
        for key in ("pair", "template", "template_ref", "segments", "settings", "device"):
            assert pooled_meta[key] == meta[key], key
        assert pooled_meta["pooled"]["directions"] == 3
        assert pooled_meta["pooled"]["decoded_segments"] == 9


def test_shards_merge_into_the_same_files(pooled_run, smollm2_dir, tmp_path):
    _, sources, out = pooled_run
    shard_files = []
    for shard in range(3):
        records, meta = tmp_path / f"{shard}.jsonl", tmp_path / f"{shard}.meta.json"
        extra = ["--shard", str(shard), "--shards", "3"]
        _run(
            smollm2_dir, sources, tmp_path, *extra, "--shard-output", str(records),
            "--shard-meta", str(meta),
        )  # fmt: skip
        shard_files.append((records, meta))
        assert read_json(meta)["pooled"]["segments"] == 3  # 9 pooled segments, 3 shards
    merged = tmp_path / "merged"
    pairs = list(SOURCES)
    pooled.merge_pooled_shards(
        [r for r, _ in shard_files],
        [m for _, m in shard_files],
        pairs,
        [merged / f"{p}.hyp.txt" for p in pairs],
        [merged / f"{p}.meta.json" for p in pairs],
    )
    for pair in pairs:
        assert read_lines(merged / f"{pair}.hyp.txt") == read_lines(out / f"{pair}.hyp.txt")
        assert len(read_json(merged / f"{pair}.meta.json")["shards"]) == 3
    with pytest.raises(DataError, match="expected 0 of 2"):
        pooled.merge_pooled_shards(
            [shard_files[1][0], shard_files[2][0]],
            [shard_files[1][1], shard_files[2][1]],
            pairs,
            [merged / "x"] * 3,
            [merged / "y"] * 3,
        )


def test_a_changed_direction_is_the_only_one_decoded_again(pooled_run, smollm2_dir, tmp_path):
    _, _, out = pooled_run
    changed = dict(SOURCES, **{"eng_Latn-fra_Latn": ["Log in", "Log out"]})
    sources = _sources(tmp_path, changed)
    again = tmp_path / "again"
    again.mkdir()
    (out / ".pooled-cache").rename(again / ".pooled-cache")  # what the first job left
    _run(smollm2_dir, sources, again)
    meta = read_json(again / "eng_Latn-deu_Latn.meta.json")
    assert meta["pooled"]["decoded_segments"] == 2  # only the two French segments
    for pair in ("eng_Latn-deu_Latn", "deu_Latn-eng_Latn"):
        assert read_lines(again / f"{pair}.hyp.txt") == read_lines(out / f"{pair}.hyp.txt")
    assert read_json(again / "eng_Latn-fra_Latn.meta.json")["seconds"] > 0
    assert read_json(again / "eng_Latn-deu_Latn.meta.json")["seconds"] == 0


def test_command_line_mistakes_are_named(tmp_path):
    source = tmp_path / "s.txt"
    write_lines(source, ["a"])
    base = ["--model", str(tmp_path), "--pairs", "eng_Latn-deu_Latn", "--cache-dir", "c"]
    with pytest.raises(SystemExit):
        pooled.main(
            [*base, "--sources", str(source), str(source), "--outputs", "o", "--metas", "m"]
        )
    with pytest.raises(SystemExit):
        pooled.main([*base, "--sources", str(source), "--shards", "2"])

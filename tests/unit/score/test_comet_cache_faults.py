"""Row of the fault matrix (docs/reliability.md): malformed lines in the COMET segment cache
(a shard torn by a crash, or edited by hand) are skipped and counted; the scores stay the
same, and only the damaged segments are scored again.

    .venv/bin/pytest -q tests/unit/score/test_comet_cache_faults.py

The real tiny COMET model of tests/helpers/comet_tiny.py, real cache files.
"""

from __future__ import annotations

import pytest

from bayling_pipeline.score.comet_cache import SegmentCache
from bayling_pipeline.score.comet_metric import score_comet

SOURCES = ["Save the file.", "Delete the user.", "Log out now.", "Change the password."]
HYPOTHESES = ["Datei speichern.", "Benutzer löschen.", "Jetzt abmelden.", "Passwort ändern."]
REFERENCES = ["Speichern Sie die Datei.", "Den Benutzer löschen.", "Abmelden.", "Kennwort ändern."]


def test_malformed_cache_lines_are_skipped_counted_and_rescored(
    tiny_comet_checkpoint, tmp_path, caplog
):
    cache = tmp_path / "cache"
    first = score_comet(
        tiny_comet_checkpoint, SOURCES, HYPOTHESES, REFERENCES, model_label="t", cache_dir=cache
    )
    (shard,) = SegmentCache(cache).shards()
    lines = shard.read_text().splitlines()
    key, _, _ = lines[1].partition("\t")
    damaged = [
        lines[0][:20],  # torn: a crash in the middle of a line (no tab)
        f"{key}\tnot-a-number",
        *lines[2:],
        "\x00\x00\x00",  # garbage after the last line
        f"{'z' * 64}\t0.5",  # a key that is no SHA-256
        f"{key[:-1]}x\tnan",
    ]
    shard.write_bytes(("\n".join(damaged) + "\n").encode() + b"\xff\xfe\n")
    with caplog.at_level("WARNING"):
        again = score_comet(
            tiny_comet_checkpoint, SOURCES, HYPOTHESES, REFERENCES, model_label="t",
            cache_dir=cache,
        )  # fmt: skip
    assert "skipped 6 malformed line(s)" in caplog.text and shard.name in caplog.text
    assert again["computed_segments"] == 2, "only the two damaged segments are scored again"
    # the rescored segments in another batch: equal up to float noise, as uncached scores
    assert again["segment_scores"] == pytest.approx(first["segment_scores"], abs=1e-6)
    assert again["score"] == pytest.approx(first["score"], abs=1e-4)  # x 100
    merged = SegmentCache(cache).compact()
    assert len(merged.read_text().splitlines()) == 4

"""Downloaded test sets cut to their first segments (testsets.<name>.max_segments), from a
Flores-200-layout tarball built here and read through a local mirror with the network off.

    .venv/bin/python -m pytest -q tests/unit/download/test_flores_max_segments.py
"""

from __future__ import annotations

import json

import pytest
from flores_tiny import flores_tarball

from bayling_pipeline.decode.published import import_published
from bayling_pipeline.download import fetch, testsets
from bayling_pipeline.io import read_lines, write_lines

LINES = {
    "eng_Latn": ["The password is too short.", "Save and add another.", "Delete the file."],
    "tha_Thai": ["รหัสผ่านสั้นเกินไป", "บันทึกและเพิ่มรายการใหม่", "ลบไฟล์"],
    # the NLLB tarball's name for Santali (Ol Chiki text): facebookresearch/flores#52
    "sat_Beng": ["ᱯᱟᱥᱣᱟᱨᱰ ᱠᱷᱟᱴᱚ ᱜᱮᱭᱟ ᱾", "ᱥᱟᱧᱪᱟᱣ ᱢᱮ ᱾", "ᱨᱮᱫ ᱢᱮᱴᱟᱣ ᱢᱮ ᱾"],
}


@pytest.fixture
def offline_mirror(tmp_path):
    www = tmp_path / "www"
    flores_tarball(www, LINES)
    settings = fetch.Settings(
        cache=str(tmp_path / "cache"),
        lock=None,
        offline=True,
        mirrors={"https://dl.fbaipublicfiles.com/": f"{www}/"},
    )
    with fetch.using(settings):
        yield tmp_path


def fetch_pair(folder, pair: str, max_segments: int | None) -> tuple[dict, list[str], list[str]]:
    names = [folder / f"{pair}.{n}" for n in ("source.txt", "reference.txt", "refs", "json")]
    spec = {"source": "flores200", "split": "devtest"}
    manifest = testsets.fetch_testset(spec, pair, *names, max_segments=max_segments)
    assert json.loads(names[3].read_text()) == manifest
    return manifest, read_lines(names[0]), read_lines(names[1])


@pytest.mark.parametrize(("max_segments", "kept"), [(None, 3), (2, 2), (1, 1), (10, 3)])
def test_first_segments_kept_and_recorded(offline_mirror, max_segments, kept):
    manifest, source, reference = fetch_pair(offline_mirror, "eng_Latn-tha_Thai", max_segments)
    assert source == LINES["eng_Latn"][:kept]
    assert reference == LINES["tha_Thai"][:kept]
    assert manifest["segments"] == kept
    assert manifest["segments_total"] == 3
    assert manifest["max_segments"] == max_segments


def test_the_same_sentences_in_every_direction(offline_mirror):
    _, out_source, out_reference = fetch_pair(offline_mirror, "eng_Latn-tha_Thai", 2)
    _, in_source, in_reference = fetch_pair(offline_mirror, "tha_Thai-eng_Latn", 2)
    assert (out_source, out_reference) == (in_reference, in_source)


def test_santali_is_read_from_the_tarballs_sat_beng_files(offline_mirror):
    manifest, source, reference = fetch_pair(offline_mirror, "sat_Olck-eng_Latn", None)
    assert source == LINES["sat_Beng"]
    assert manifest["files"][0]["member"] == "flores200_dataset/devtest/sat_Beng.devtest"


def test_published_outputs_are_checked_whole_then_cut_alike(offline_mirror, tmp_path):
    _, source, _ = fetch_pair(offline_mirror, "eng_Latn-tha_Thai", 2)
    published = tmp_path / "published.txt"
    write_lines(published, ["หนึ่ง", "สอง", "สาม"])  # the whole test set: 3 lines
    meta = import_published(
        published,
        tmp_path / "eng_Latn-tha_Thai.source.txt",
        tmp_path / "hyp.txt",
        tmp_path / "meta.json",
        max_segments=2,
    )
    assert read_lines(tmp_path / "hyp.txt") == ["หนึ่ง", "สอง"]
    assert meta["segments"] == len(source) == 2 and meta["max_segments"] == 2
    with pytest.raises(ValueError, match="segment counts differ"):
        import_published(
            published,
            tmp_path / "eng_Latn-tha_Thai.source.txt",
            *(tmp_path / n for n in ("h2", "m2")),
        )

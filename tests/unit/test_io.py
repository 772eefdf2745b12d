"""JSON Lines reading: blank lines skipped, a bad line named by file and line number."""

import pytest

from bayling_pipeline.io import read_jsonl


def test_reads_objects_in_order_and_skips_blank_lines(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": "a", "texts": {"deu_Latn": "Grüße"}}\n\n{"id": "b"}\n', "utf-8")
    assert list(read_jsonl(path)) == [{"id": "a", "texts": {"deu_Latn": "Grüße"}}, {"id": "b"}]


@pytest.mark.parametrize(
    "bad",
    [b'{"id": "b", }', b'{"id": "\xff\xfe"}'],  # a trailing comma; bytes that are not UTF-8
    ids=["syntax", "utf8"],
)
def test_bad_line_names_file_and_line(tmp_path, bad):
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b'{"id": "a"}\n\n' + bad + b"\n")
    with pytest.raises(ValueError, match=r"corpus\.jsonl:3: not valid JSON"):
        list(read_jsonl(path))

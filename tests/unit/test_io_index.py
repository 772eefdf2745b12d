"""The index of a pooled job (bayling_pipeline.io.write_index / indexed_files): it stands
for its files in the DAG, and readers see the files it lists."""

from bayling_pipeline.io import indexed_files, write_index, write_lines
from bayling_pipeline.synthesize.shard_hygiene import read_forbidden


def test_an_index_reads_as_its_files(tmp_path):
    source, reference = tmp_path / "a.source.txt", tmp_path / "a.reference.txt"
    write_lines(source, ["The password is too short."])
    write_lines(reference, ["Das Passwort ist zu kurz."])
    index = tmp_path / "pooled.json"
    write_index(index, [source, reference])
    other = tmp_path / "b.txt"
    write_lines(other, ["Log out"])
    assert indexed_files([index, other]) == [str(source), str(reference), str(other)]
    # synthesis hygiene keeps out the texts of a pooled fetch through its index
    assert read_forbidden([index, other]) == [
        "Das Passwort ist zu kurz.",
        "Log out",
        "The password is too short.",
    ]

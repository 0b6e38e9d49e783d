"""`make bench-serving` writes its table into reports/, which a fresh clone does not have."""

from __future__ import annotations

from benchmarks.serving import save


def test_the_table_is_written_where_no_folder_exists_yet(tmp_path):
    target = tmp_path / "reports" / "bench-serving.md"
    save("| variant |", target)
    assert target.read_text() == "| variant |"

"""core.jsonl: the rows one stage writes are the rows the next reads."""

from core.jsonl import read_rows, write_rows


def test_rows_round_trip_through_a_new_folder_without_escaping(tmp_path):
    rows = [{"question": "Wie schnell fährt es?", "n": 1}, {"question": "x", "nested": {"a": [1, 2]}}]
    path = write_rows(iter(rows), tmp_path / "new" / "rows.jsonl")
    assert read_rows(path) == rows
    assert "fährt" in path.read_text(encoding="utf-8")


def test_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"a": 2}\n', encoding="utf-8")
    assert read_rows(path) == [{"a": 1}, {"a": 2}]

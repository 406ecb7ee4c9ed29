"""Uploads from the app: untrusted names stay inside the upload folder, and each refused file gets one
line saying why."""

from __future__ import annotations

from rag.uploads import safe_name, save_uploads

MB = 2**20


def test_a_path_like_name_is_saved_under_its_base_name_inside_the_folder(tmp_path):
    folder = tmp_path / "data" / "uploads"
    batch = save_uploads(
        [("../../x.md", b"# escaped?"), ("..\\..\\win.txt", b"text"), ("/etc/abs.md", b"abs")], folder, MB
    )
    assert sorted(p.name for p in batch.saved) == ["abs.md", "win.txt", "x.md"]
    assert all(p.parent == folder for p in batch.saved)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["abs.md", "win.txt", "x.md"]
    assert not batch.refused


def test_names_with_nothing_usable_are_refused():
    assert [safe_name(n) for n in ("..", "../", ".", "", "a/.hidden.md", "ok.md")] == [
        None,
        None,
        None,
        None,
        None,
        "ok.md",
    ]


def test_the_same_name_twice_in_one_batch_keeps_the_first(tmp_path):
    batch = save_uploads([("a.md", b"first"), ("dir/a.md", b"second")], tmp_path, MB)
    assert (tmp_path / "a.md").read_bytes() == b"first"
    assert batch.refused == {"dir/a.md": "a.md was uploaded twice in this batch; the first one is kept"}


def test_uploading_a_name_again_replaces_the_earlier_file(tmp_path):
    save_uploads([("a.md", b"v1")], tmp_path, MB)
    batch = save_uploads([("a.md", b"v2")], tmp_path, MB)
    assert batch.replaced == ["a.md"] and (tmp_path / "a.md").read_bytes() == b"v2"


def test_over_size_empty_and_unsupported_files_are_refused_with_one_line_each(tmp_path):
    batch = save_uploads(
        [("big.pdf", b"x" * (MB + 1)), ("empty.txt", b""), ("sheet.xlsx", b"PK"), ("ok.txt", b"fine")],
        tmp_path,
        MB,
    )
    assert [p.name for p in batch.saved] == ["ok.txt"]
    assert batch.refused == {
        "big.pdf": "big.pdf is 1.0 MB; the upload limit is 1.0 MB",
        "empty.txt": "empty.txt is empty (0 bytes)",
        "sheet.xlsx": "sheet.xlsx: unsupported file type '.xlsx' (use .htm, .html, .markdown, .md, .pdf, "
        ".rst, .text, .txt)",
    }
    assert all("\n" not in reason for reason in batch.refused.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.txt"]

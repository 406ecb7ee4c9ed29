"""Eight writers in two processes at once (2 × 4 threads, the app's worst case on one machine): every
record lands exactly once, and a replay of the same records (the spool after an outage) adds none."""

from __future__ import annotations

import uuid

import pytest

from benchmarks.feedback_store import audit, run


@pytest.mark.parametrize("kind", ["sqlite", "dynamodb"])
def test_two_processes_of_four_writers_lose_and_duplicate_nothing(kind, tmp_path, request, monkeypatch):
    if kind == "sqlite":
        where = str(tmp_path / "feedback.sqlite3")
    else:
        server = request.getfixturevalue("dynamodb_local")
        where = f"{server.endpoint_url}|fb-{uuid.uuid4().hex[:8]}"
        from benchmarks.feedback_store import open_store

        open_store(kind, where).close()
    ids = [f"t-{i}-{uuid.uuid4().hex[:6]}" for i in range(120)]
    _, accepted = run(kind, where, ids, processes=2, threads=4)
    assert accepted == len(ids)
    assert audit(kind, where, ids) == (0, 0)
    _, accepted_again = run(kind, where, ids[:40], processes=2, threads=4)
    assert accepted_again == 40  # same version again: an idempotent update
    assert audit(kind, where, ids) == (0, 0)


def _open_and_write(barrier, path: str, n: int) -> None:
    from feedback.sqlite_store import SQLiteFeedbackStore
    from tests.feedback.conftest import make_record

    barrier.wait(timeout=60)
    store = SQLiteFeedbackStore(path)
    store.put(make_record(session_id=f"p{n}"))
    store.close()


def test_processes_opening_a_new_sqlite_file_at_once_all_get_in(tmp_path):
    """Several app processes starting on a new data dir: the schema is made once, nobody is locked out."""
    from feedback.sqlite_store import SQLiteFeedbackStore
    from tests.at_once import run_at_once

    for attempt in range(3):
        path = str(tmp_path / f"fresh-{attempt}.sqlite3")
        assert run_at_once(_open_and_write, [(path, n) for n in range(6)]) == [0] * 6
        store = SQLiteFeedbackStore(path)
        assert len(list(store.list())) == 6
        store.close()

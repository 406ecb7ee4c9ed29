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

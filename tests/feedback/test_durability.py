"""Nothing the user gives is lost: the spool keeps feedback through a store outage and syncs it back."""

from __future__ import annotations

import os

import pytest

from feedback.dynamo_store import DynamoFeedbackStore
from feedback.errors import StoreUnavailable
from feedback.schema import utc_now
from feedback.spool import DurableFeedbackWriter, SaveStatus, Spool
from feedback.sqlite_store import SQLiteFeedbackStore
from ragloop.dynamodb_local import DynamoDBLocal
from ragloop.processes import wait_for
from tests.feedback.conftest import make_record


def test_spool_survives_a_torn_last_line(tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    first, second = make_record(turn=1), make_record(turn=2)
    spool.append(first)
    spool.append(second)
    with spool.path.open("ab") as fh:
        fh.write(b'{"feedback_id": "torn-by-a-cr')  # crash in the middle of a write
    assert [r.feedback_id for r in spool.read()] == [first.feedback_id, second.feedback_id]
    assert spool.path.with_suffix(".rejected").read_bytes().startswith(b'{"feedback_id": "torn')


def test_writer_stores_directly_when_the_store_is_up(tmp_path):
    store = SQLiteFeedbackStore(tmp_path / "fb.sqlite3")
    writer = DurableFeedbackWriter(store, Spool(tmp_path / "spool.jsonl"))
    record = make_record(rating=5)
    assert writer.save(record) is SaveStatus.STORED
    assert store.get(record.feedback_id) == record
    assert len(writer.spool) == 0


@pytest.mark.timeout(600)
def test_1000_writes_through_a_dynamodb_outage_lose_and_duplicate_nothing(tmp_path):
    server = DynamoDBLocal(db_dir=tmp_path / "ddb").start()  # on disk, so a restart keeps the data
    store = DynamoFeedbackStore(
        "feedback-fault",
        endpoint_url=server.endpoint_url,
        max_attempts=2,
        connect_timeout_s=0.5,
        read_timeout_s=2.0,
    )
    writer = DurableFeedbackWriter(store, Spool(tmp_path / "spool.jsonl"), backoff_s=0.2, max_backoff_s=1.0)
    latest = {}
    statuses = []
    try:
        for i in range(1000):
            if i == 300:
                server.stop()
            if i == 650:
                server.start()
            if i % 10 == 9:  # every tenth save is the user rating an earlier answer: an update
                previous = latest[list(latest)[i // 2]]
                record = previous.model_copy(
                    update={"rating": 1 + i % 5, "note": f"edit {i}", "updated_at": utc_now()}
                )
            else:
                record = make_record(session_id=f"s{i % 37}", turn=i, question=f"question {i}?")
            latest[record.feedback_id] = record
            statuses.append(writer.save(record))
        wait_for(lambda: writer.drain().remaining == 0, "the spool to drain into DynamoDB", timeout_s=120)
        assert SaveStatus.SPOOLED in statuses[300:650] and SaveStatus.STORED in statuses[:300]
        assert len(writer.spool) == 0

        items = list(writer.store._paginate("scan", {"TableName": "feedback-fault"}))
        ids = [item["feedback_id"]["S"] for item in items]
        assert len(ids) == len(set(ids)) == len(latest) == 900  # 0 duplicated
        stored = {r.feedback_id: r for r in store.list()}
        assert stored == latest  # 0 lost, and every record at its newest version
    finally:
        store.close()
        server.stop()


def test_missing_aws_credentials_spool_the_feedback_and_say_so(tmp_path, no_aws_credentials, dynamodb_local):
    store = DynamoFeedbackStore("no-credentials", endpoint_url=dynamodb_local.endpoint_url, max_attempts=1)
    writer = DurableFeedbackWriter(store, Spool(tmp_path / "spool.jsonl"))
    record = make_record(rating=2)
    assert writer.save(record) is SaveStatus.SPOOLED
    assert [r.feedback_id for r in writer.spool.read()] == [record.feedback_id]
    with pytest.raises(StoreUnavailable, match="no AWS credentials for DynamoDB"):
        store.get(record.feedback_id)


SPOOL_WORKER = """
import sys
from feedback.spool import DurableFeedbackWriter, Spool
from feedback.sqlite_store import SQLiteFeedbackStore
from tests.feedback.conftest import make_record

role, spool_path, db_path, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
spool = Spool(spool_path)
if role == "append":  # an app process whose store is down: every save lands in the spool
    for i in range(count):
        spool.append(make_record(session_id=f"{sys.argv[5]}-{i}", question=f"question {i}?"))
else:  # an app process whose store is back: it drains the shared spool while the other appends
    writer = DurableFeedbackWriter(SQLiteFeedbackStore(db_path), spool)
    for _ in range(count):
        writer.drain()
"""


def test_two_processes_on_one_spool_lose_and_duplicate_nothing(tmp_path):
    """Two app processes share one spool: one keeps spooling while the other drains it into the store.
    The file lock makes each drain's read-send-rewrite atomic against appends; without it, a record
    appended between a drain's read and its rewrite is silently dropped."""
    import subprocess
    import sys

    from tests.conftest import REPO

    spool_path, db_path = tmp_path / "spool.jsonl", tmp_path / "fb.sqlite3"

    def start(*args: str) -> subprocess.Popen:
        cmd = [sys.executable, "-c", SPOOL_WORKER, *args]
        return subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})

    procs = [
        start("append", str(spool_path), str(db_path), "400", "a"),
        start("append", str(spool_path), str(db_path), "400", "b"),
        start("drain", str(spool_path), str(db_path), "300"),
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0
    store = SQLiteFeedbackStore(db_path)
    writer = DurableFeedbackWriter(store, Spool(spool_path))
    assert writer.drain().remaining == 0
    sessions = [r.session_id for r in store.list()]
    assert len(sessions) == len(set(sessions)) == 800  # every record once
    assert not spool_path.with_suffix(".rejected").exists()  # no torn or interleaved lines

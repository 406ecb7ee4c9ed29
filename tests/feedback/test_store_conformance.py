"""One conformance suite for every FeedbackStore: SQLite and DynamoDB (real DynamoDB Local)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from feedback.protocols import FeedbackQuery
from feedback.schema import FeedbackRecord, utc_now
from tests.feedback.conftest import make_record


def test_put_then_get_round_trips_every_field(feedback_store):
    record = make_record(rating=4, note="good", user_id="u-7")
    assert feedback_store.put(record) is True
    assert feedback_store.get(record.feedback_id) == record
    assert feedback_store.get("missing") is None


def test_saving_twice_updates_the_same_record(feedback_store):
    record = make_record()
    feedback_store.put(record)
    rated = record.model_copy(
        update={"rating": 2, "note": "wrong", "correction": "5 hours with 2 A", "updated_at": utc_now()}
    )
    feedback_store.put(FeedbackRecord.model_validate(rated.to_row()))
    feedback_store.put(FeedbackRecord.model_validate(rated.to_row()))  # idempotent replay
    stored = list(feedback_store.list())
    assert len(stored) == 1
    assert stored[0].rating == 2 and stored[0].correction == "5 hours with 2 A"
    assert stored[0].review_state == "pending"


def test_a_stale_version_never_overwrites_a_newer_one(feedback_store):
    old = make_record(updated_at="2026-01-01T10:00:00+00:00")
    new = old.model_copy(update={"rating": 5, "updated_at": "2026-01-01T10:05:00+00:00"})
    assert feedback_store.put(new) is True
    assert feedback_store.put(old) is False
    assert feedback_store.get(old.feedback_id).rating == 5


def test_rating_outside_1_to_5_is_rejected_at_the_boundary(feedback_store):
    record = make_record()
    record.__dict__["rating"] = 9  # bypass the model's own validation, as a buggy caller could
    with pytest.raises(ValidationError, match="less than or equal to 5"):
        feedback_store.put(record)
    assert list(feedback_store.list()) == []


def test_list_filters_by_time_adapter_session_and_review(feedback_store):
    records = [
        make_record(session_id="a", turn=0, updated_at="2026-01-15T00:00:00+00:00", rating=5),
        make_record(session_id="a", turn=1, updated_at="2026-02-10T00:00:00+00:00", adapter="sft-v1"),
        make_record(
            session_id="b",
            turn=0,
            updated_at="2026-03-05T00:00:00+00:00",
            adapter="sft-v1",
            rating=1,
            correction="better",
        ),
    ]
    for r in records:
        feedback_store.put(r)

    def ids(**q):
        return [r.feedback_id for r in feedback_store.list(FeedbackQuery(**q))]

    f = [r.feedback_id for r in records]
    assert ids() == f
    assert ids(since="2026-02-01T00:00:00+00:00") == f[1:]
    assert ids(since="2026-01-01T00:00:00+00:00", until="2026-03-01T00:00:00+00:00") == f[:2]
    assert ids(adapter="sft-v1") == f[1:]
    assert ids(adapter="base") == f[:1]
    assert ids(adapter="sft-v1", since="2026-03-01T00:00:00+00:00") == f[2:]
    assert ids(session_id="a") == f[:2]
    assert ids(review_state="pending") == f[2:]
    assert ids(rated_only=True) == [f[0], f[2]]


def test_sessions_and_stats(feedback_store):
    feedback_store.put(
        make_record(
            session_id="a", turn=0, question="first?", rating=5, updated_at="2026-01-01T00:00:00+00:00"
        )
    )
    feedback_store.put(
        make_record(
            session_id="a", turn=1, question="second?", rating=2, updated_at="2026-01-02T00:00:00+00:00"
        )
    )
    feedback_store.put(
        make_record(session_id="b", turn=0, question="other?", updated_at="2026-01-03T00:00:00+00:00")
    )
    sessions = feedback_store.sessions()
    assert [(s.session_id, s.title, s.turns) for s in sessions] == [("b", "other?", 1), ("a", "first?", 2)]
    stats = feedback_store.stats()
    assert (stats.answers, stats.rated) == (3, 2)
    assert stats.distribution == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert stats.negative_share == 0.5


def test_many_records_page_through(feedback_store):
    for i in range(120):
        feedback_store.put(
            make_record(session_id=f"s{i % 7}", turn=i, note="x" * 10_000)
        )  # > 1 MB in all: forces DynamoDB pagination
    assert len(list(feedback_store.list())) == 120
    assert feedback_store.stats().answers == 120


def test_put_if_unchanged_is_a_compare_and_set_on_updated_at(feedback_store):
    record = make_record(rating=3, updated_at="2026-01-01T10:00:00+00:00")
    feedback_store.put(record)
    scored = record.model_copy(update={"ai_score": 4.5, "updated_at": "2026-01-01T10:01:00+00:00"})
    assert feedback_store.put_if_unchanged(scored, record.updated_at) is True
    assert feedback_store.get(record.feedback_id).ai_score == 4.5

    # the user rated again after the scorer read the record: the scorer's stale write is refused
    rerated = scored.model_copy(update={"rating": 1, "updated_at": "2026-01-01T10:02:00+00:00"})
    feedback_store.put(rerated)
    late = record.model_copy(update={"ai_score": 0.5, "updated_at": "2026-01-01T10:03:00+00:00"})
    assert feedback_store.put_if_unchanged(late, scored.updated_at) is False
    stored = feedback_store.get(record.feedback_id)
    assert stored.rating == 1 and stored.ai_score == 4.5
    assert feedback_store.put_if_unchanged(make_record(), utc_now()) is False  # not stored at all


def test_records_are_listed_and_grouped_per_user(feedback_store):
    for user, session, turn, day in [("ann", "s-ann", 0, 1), ("ann", "s-ann", 1, 2), ("bob", "s-bob", 0, 3)]:
        feedback_store.put(
            make_record(
                user_id=user, session_id=session, turn=turn, updated_at=f"2026-01-0{day}T00:00:00+00:00"
            )
        )
    feedback_store.put(make_record(session_id="s-none", updated_at="2026-01-04T00:00:00+00:00"))
    assert {r.session_id for r in feedback_store.list(FeedbackQuery(user_id="ann"))} == {"s-ann"}
    assert [s.session_id for s in feedback_store.sessions(user_id="bob")] == ["s-bob"]
    assert list(feedback_store.list(FeedbackQuery(session_id="s-bob", user_id="ann"))) == []  # not hers
    assert len(feedback_store.sessions()) == 3
    since = FeedbackQuery(user_id="ann", since="2026-01-02T00:00:00+00:00")
    assert [r.turn for r in feedback_store.list(since)] == [1]


def test_records_from_before_sign_in_become_the_local_users(tmp_path, request):
    """A store written by the previous version (no user column / no by_user index) is migrated on open."""
    import sqlite3

    from feedback.sqlite_store import MIGRATIONS, SQLiteFeedbackStore

    old = tmp_path / "old.sqlite3"
    db = sqlite3.connect(old)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    MIGRATIONS[0](db)
    db.execute("INSERT INTO _migrations VALUES ('m001_feedback', datetime('now'))")
    record = make_record(session_id="old", rating=4)
    db.execute(
        "INSERT INTO feedback VALUES (?,?,?,?,?,?,?,?,?)",
        (
            record.feedback_id,
            "old",
            0,
            record.created_at,
            record.updated_at,
            "base",
            4,
            "none",
            record.model_dump_json(),
        ),
    )
    db.commit()
    db.close()
    store = SQLiteFeedbackStore(old)
    assert store.get(record.feedback_id).user_id == "local"
    assert [s.session_id for s in store.sessions(user_id="local")] == ["old"]
    store.close()


def test_a_dynamodb_table_from_before_sign_in_gets_the_user_index(request):
    import uuid

    from feedback.dynamo_store import DynamoFeedbackStore, table_definition

    server = request.getfixturevalue("dynamodb_local")
    name = f"fb-old-{uuid.uuid4().hex[:8]}"
    old = table_definition(name)
    old["GlobalSecondaryIndexes"] = [i for i in old["GlobalSecondaryIndexes"] if i["IndexName"] != "by_user"]
    old["AttributeDefinitions"] = [a for a in old["AttributeDefinitions"] if a["AttributeName"] != "user_id"]
    store = DynamoFeedbackStore(name, endpoint_url=server.endpoint_url)
    store._call("create_table", **old)
    store._ready = True  # write as the previous version did: no by_user index, no user on the record
    record = make_record(session_id="old", rating=4)
    store.put(record)
    store.close()

    reopened = DynamoFeedbackStore(name, endpoint_url=server.endpoint_url)
    assert reopened.get(record.feedback_id).user_id == "local"
    assert [s.session_id for s in reopened.sessions(user_id="local")] == ["old"]
    reopened.close()

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

from __future__ import annotations

import uuid

import pytest

from feedback.dynamo_store import DynamoFeedbackStore
from feedback.schema import FeedbackRecord
from feedback.sqlite_store import SQLiteFeedbackStore


def make_record(**overrides) -> FeedbackRecord:
    fields = {
        "session_id": "s1",
        "turn": 0,
        "question": "How long does charging take?",
        "answer": "About 5 hours [1].",
        "citations": [{"number": 1, "source": "/docs/manual.pdf", "page": 2, "chunk_id": "c1", "score": 0.8}],
        "model": "base",
        "trace": {"prompt_template_version": "rag-v1", "chunk_ids": ["c1"], "timings_ms": {"total": 812.5}},
    }
    fields.update(overrides)
    return FeedbackRecord(**fields)


@pytest.fixture(params=["sqlite", "dynamodb"])
def feedback_store(request, tmp_path):
    if request.param == "sqlite":
        store = SQLiteFeedbackStore(tmp_path / "feedback.sqlite3")
    else:
        server = request.getfixturevalue("dynamodb_local")
        store = DynamoFeedbackStore(f"fb-{uuid.uuid4().hex[:8]}", endpoint_url=server.endpoint_url)
    yield store
    store.close()

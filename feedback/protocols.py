"""The ``FeedbackStore`` contract. Implementations: SQLite (embedded default) and DynamoDB; both pass
tests/feedback/test_store_conformance.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from feedback.schema import FeedbackRecord, ReviewState


@dataclass
class FeedbackQuery:
    """Filters for ``list``; all optional and combined with AND. Times are ISO-8601 UTC on updated_at."""

    since: str | None = None
    until: str | None = None
    adapter: str | None = None  # "base" selects answers of the base model
    session_id: str | None = None
    review_state: ReviewState | None = None
    rated_only: bool = False
    user_id: str | None = None  # only this user's records (the signed-in user's chats and dashboard)


@dataclass
class SessionSummary:
    session_id: str
    title: str  # first question
    turns: int
    updated_at: str


@dataclass
class FeedbackStats:
    answers: int = 0
    rated: int = 0
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    pending_review: int = 0

    @property
    def negative_share(self) -> float | None:
        if not self.rated:
            return None
        return (self.distribution[1] + self.distribution[2]) / self.rated


@runtime_checkable
class FeedbackStore(Protocol):
    def put(self, record: FeedbackRecord) -> bool:
        """Insert or update by feedback_id. A version older than the stored one is ignored (returns
        False), so replays are idempotent and never roll a record back."""

    def put_if_unchanged(self, record: FeedbackRecord, expected_updated_at: str) -> bool:
        """Update the stored record only if its ``updated_at`` is still ``expected_updated_at`` (a
        compare-and-set for background writers, e.g. AI scoring); False when it changed or is missing."""

    def get(self, feedback_id: str) -> FeedbackRecord | None: ...

    def list(self, query: FeedbackQuery | None = None) -> Iterator[FeedbackRecord]:
        """Matching records, oldest updated_at first."""

    def sessions(self, limit: int = 50, user_id: str | None = None) -> list[SessionSummary]:
        """Most recently active chat sessions first (only ``user_id``'s when given)."""

    def stats(self, query: FeedbackQuery | None = None) -> FeedbackStats: ...

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` if the store cannot be reached."""

    def close(self) -> None: ...


def compute_stats(records: Iterator[FeedbackRecord]) -> FeedbackStats:
    stats = FeedbackStats()
    for record in records:
        stats.answers += 1
        if record.rating is not None:
            stats.rated += 1
            stats.distribution[record.rating] += 1
        if record.review_state == "pending":
            stats.pending_review += 1
    return stats


def summarize_sessions(records: Iterator[FeedbackRecord], limit: int) -> list[SessionSummary]:
    """Group records by session: title from the earliest turn, most recently active first."""
    first: dict[str, FeedbackRecord] = {}
    turns: dict[str, int] = {}
    latest: dict[str, str] = {}
    for r in records:
        sid = r.session_id
        if sid not in first or r.turn < first[sid].turn:
            first[sid] = r
        turns[sid] = turns.get(sid, 0) + 1
        latest[sid] = max(latest.get(sid, ""), r.updated_at)
    summaries = [SessionSummary(sid, first[sid].question, turns[sid], latest[sid]) for sid in first]
    return sorted(summaries, key=lambda s: s.updated_at, reverse=True)[:limit]

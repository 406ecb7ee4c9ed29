"""The versioned feedback record: the one row shape shared by the app, every store and the export.

A record is created when an answer is shown (rating still empty) and updated in place when the user
rates it, so "saving twice" is an update of the same ``feedback_id``, never a duplicate. ``updated_at``
orders versions: a store keeps the newest and ignores a stale replay.

Export files carry ``schema_version``; training reads them and nothing else (see docs in README).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1

RATING_LABELS = {
    1: "strongly disagree",
    2: "disagree",
    3: "neutral",
    4: "agree",
    5: "strongly agree",
}
NEGATIVE_MAX = 2  # ratings <= this count as negative
REVIEWED_ANSWER = "reviewed answer (word for word)"  # answered_by of an approved text given as the answer
LOCAL_USER_ID = "local"  # the one user of an app without sign-in; owns records from before sign-in
ReviewState = Literal["none", "pending", "approved", "rejected"]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    return uuid.uuid4().hex


class FeedbackLimits(BaseModel):
    max_note_chars: int = 2000
    max_correction_chars: int = 8000
    max_question_chars: int = 20000
    max_answer_chars: int = 50000


class FeedbackRecord(BaseModel):
    """One answer and what the user said of it. Validated wherever it crosses a boundary."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    feedback_id: str = Field(default_factory=new_id, min_length=1, max_length=128)
    session_id: str = Field(min_length=1, max_length=128)
    turn: int = Field(ge=0)
    user_id: str | None = None
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)

    question: str = Field(min_length=1)
    answer: str
    citations: list[dict[str, Any]] = Field(default_factory=list)  # {number, source, page, chunk_id, score}

    model: str
    adapter: str | None = None  # None: the base model answered
    trace: dict[str, Any] = Field(default_factory=dict)  # rag Trace: prompt version, chunks, timings

    rating: int | None = Field(None, ge=1, le=5)
    note: str | None = None
    correction: str | None = None
    correction_submitted: str | None = None  # the user's text, kept when a reviewer edits it
    review_state: ReviewState = "none"
    reviewer: str | None = None
    reviewed_at: str | None = None

    # AI feedback (feedback/scoring.py): the configured judge's 0-5 score of the answer, scored in the
    # background against the correction (basis "reference") or, without one, the sources ("sources")
    ai_score: float | None = Field(None, ge=0, le=5)
    ai_reason: str | None = None
    ai_judge: dict[str, str] | None = None  # backend, model, prompt_version, basis
    ai_scored_at: str | None = None
    ai_input: str | None = None  # digest of what was scored; a changed correction makes the score stale

    @field_validator("created_at", "updated_at", "reviewed_at", "ai_scored_at")
    @classmethod
    def _iso_timestamp(cls, value: str | None) -> str | None:
        if value is not None:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError("timestamps must carry a time zone (UTC)")
            return parsed.astimezone(UTC).isoformat(timespec="microseconds")
        return value

    @field_validator("note", "correction")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value and value.strip() else None

    @model_validator(mode="after")
    def _correction_needs_review(self) -> FeedbackRecord:
        if self.correction and self.review_state == "none":
            self.review_state = "pending"
        if not self.correction and self.review_state == "pending":
            self.review_state = "none"
        return self

    @property
    def adapter_key(self) -> str:
        return self.adapter or "base"

    @property
    def answered_by(self) -> str:
        """The adapter that answered, or "<model> (base)": the label dashboards and the review group by.
        A reviewed answer given word for word (``rag.reviewed``) is no model's work: its ratings must not
        count for the adapter the session was routed to."""
        if (self.trace or {}).get("reviewed_direct"):
            return REVIEWED_ANSWER
        return self.adapter or f"{self.model} (base)"

    @property
    def negative(self) -> bool:
        return self.rating is not None and self.rating <= NEGATIVE_MAX

    def check_limits(self, limits: FeedbackLimits) -> None:
        """Raise ``FeedbackRejected`` naming the field that is over its configured limit."""
        from feedback.errors import FeedbackRejected

        for name, limit in (
            ("note", limits.max_note_chars),
            ("correction", limits.max_correction_chars),
            ("question", limits.max_question_chars),
            ("answer", limits.max_answer_chars),
        ):
            value = getattr(self, name)
            if value and len(value) > limit:
                raise FeedbackRejected(f"the {name} is {len(value)} characters long; the limit is {limit}")

    def to_row(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

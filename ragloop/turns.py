"""The one path from an answer to a feedback record: logging the answer, the user's rating/correction
and the expert's review decision. The chat and review pages use it, and so do the loop demo's simulated
users, so the training data a simulation produces is shaped exactly like the real thing."""

from __future__ import annotations

from feedback.schema import FeedbackLimits, FeedbackRecord, utc_now
from rag.protocols import Answer


def answer_record(answer: Answer, session_id: str, turn: int, user_id: str | None = None) -> FeedbackRecord:
    """The record logged for a fresh answer (no rating yet), owned by ``user_id`` (the signed-in user);
    check its limits before saving."""
    return FeedbackRecord(
        session_id=session_id,
        turn=turn,
        user_id=user_id,
        question=answer.question,
        answer=answer.text,
        citations=[
            {
                "number": c.number,
                "source": c.source,
                "page": c.page,
                "snippet": c.snippet,
                "chunk_id": c.chunk_id,
                "score": c.score,
                "section": c.section,  # a heading path, or a reviewed answer's provenance
            }
            for c in answer.citations
        ],
        model=answer.trace.model,
        adapter=answer.trace.adapter,
        trace=answer.trace.to_dict(),
    )


def rated_record(
    record: FeedbackRecord, rating: int, *, note: str, correction: str, limits: FeedbackLimits
) -> FeedbackRecord:
    """The record with the user's rating, note and correction. A changed correction goes back to review."""
    updated = FeedbackRecord.model_validate(
        {
            **record.to_row(),
            "rating": rating,
            "note": note,
            "correction": correction,
            "review_state": "none"
            if correction.strip() != (record.correction or "")
            else record.review_state,
            "updated_at": utc_now(),
        }
    )
    updated.check_limits(limits)
    return updated


def reviewed_record(
    record: FeedbackRecord, state: str, reviewer: str, edited: str | None = None
) -> FeedbackRecord:
    """The record after an expert approves or rejects its correction (optionally editing it)."""
    update = {
        **record.to_row(),
        "review_state": state,
        "reviewer": reviewer,
        "reviewed_at": utc_now(),
        "updated_at": utc_now(),
    }
    if edited is not None and edited.strip() != (record.correction or "").strip():
        update["correction_submitted"] = record.correction_submitted or record.correction
        update["correction"] = edited
    return FeedbackRecord.model_validate(update)

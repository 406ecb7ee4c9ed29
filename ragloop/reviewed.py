"""Keeps the reviewed-answers index (``rag.reviewed``) in step with the reviewers' decisions.

The feedback store is the record of what was approved; the index is derived from it. A record is in
the index exactly when a reviewer approved its correction (or, with ``reviewed.include_rated``, approved
an answer its user rated >= 4) and it is not a synthetic draft. ``sync`` applies one record's current
state (approve, edit, reject, a changed correction that went back to review); ``rebuild`` applies all of
them and drops entries whose record is gone (the app does this once at start, ``ragloop reviewed
rebuild`` on demand). ``retract`` is the reviewer's "this reviewed answer is wrong": it rejects the
source record and removes its entry at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from feedback.protocols import FeedbackQuery, FeedbackStore
from feedback.schema import FeedbackRecord
from feedback.spool import DurableFeedbackWriter
from rag.reviewed import ReviewedAnswer, ReviewedAnswers, is_reviewed
from ragloop.turns import reviewed_record
from training.data import GOOD_RATING

log = logging.getLogger(__name__)


def cited_documents(record: FeedbackRecord) -> tuple[str, ...]:
    """The documents the answer cited, as "file, page N" (reviewed answers it used are left out)."""
    out = []
    for c in sorted(record.citations, key=lambda c: c.get("number") or 0):
        source = str(c.get("source") or "")
        if not source or is_reviewed(source):
            continue
        name = PurePosixPath(source.replace("\\", "/")).name
        out.append(name + (f", page {c['page']}" if c.get("page") else ""))
    return tuple(dict.fromkeys(out))


def entry_for(record: FeedbackRecord, include_rated: bool = False) -> ReviewedAnswer | None:
    """The reviewed answer ``record`` stands for now, or None when it must not be used."""
    if record.review_state != "approved" or record.trace.get("synthetic"):
        return None
    text = record.correction or ""
    if not text.strip() and include_rated and (record.rating or 0) >= GOOD_RATING:
        text = record.answer
    if not text.strip():
        return None
    return ReviewedAnswer(
        feedback_id=record.feedback_id,
        question=record.question,
        text=text.strip(),
        approved_by=record.reviewer or "",
        approved_at=record.reviewed_at or record.updated_at,
        cites=cited_documents(record),
    )


def sync(index: ReviewedAnswers, record: FeedbackRecord, include_rated: bool = False) -> str:
    """Apply ``record``'s state to the index: 'added' (or replaced), 'removed' or 'unchanged'."""
    entry = entry_for(record, include_rated)
    if entry is not None:
        index.put(entry)
        return "added"
    return "removed" if index.retract(record.feedback_id) else "unchanged"


@dataclass
class RebuildReport:
    entries: int = 0
    removed: int = 0


def rebuild(
    index: ReviewedAnswers, records: Iterable[FeedbackRecord], include_rated: bool = False
) -> RebuildReport:
    """Make the index hold exactly the approved entries of ``records``."""
    report = RebuildReport()
    keep = set()
    for record in records:
        entry = entry_for(record, include_rated)
        if entry is not None:
            index.put(entry)
            keep.add(entry.feedback_id)
    for stale in index.ids() - keep:
        report.removed += index.retract(stale)
    report.entries = len(keep)
    return report


def approved_records(store: FeedbackStore) -> list[FeedbackRecord]:
    return list(store.list(FeedbackQuery(review_state="approved")))


def retract(
    index: ReviewedAnswers, writer: DurableFeedbackWriter, feedback_id: str, reviewer: str
) -> FeedbackRecord | None:
    """Withdraw a reviewed answer: its entry leaves the index at once and its record is rejected by
    ``reviewer`` (so it leaves the training data too), saved through the durable writer. Returns the
    updated record (None if the store does not know it)."""
    index.retract(feedback_id)
    record = writer.store.get(feedback_id)
    if record is None:
        return None
    note = ((record.note or "") + " [reviewed answer retracted]").strip()
    updated = reviewed_record(record, "rejected", reviewer).model_copy(update={"note": note})
    writer.save(updated)
    log.info("reviewed answer %s retracted by %s", feedback_id, reviewer)
    return updated

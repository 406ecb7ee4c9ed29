"""The review queue's logic, apart from its page: which records a reviewer sees (scope and filters),
how they are grouped (source document, adapter), and which of a group a bulk approval touches.

Approving a record confirms its labels for training: its correction if it has one, otherwise its
rating and AI score as they stand. Training can then be limited to reviewer-approved AI rows
(``ragloop train --ai-scores approved``). Rejected records stay out of training either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from feedback.schema import FeedbackRecord
from feedback.scoring import disagreement

NO_SOURCE = "(no source cited)"

SCOPES: dict[str, Callable[[FeedbackRecord], bool]] = {
    "corrections to review": lambda r: r.review_state == "pending",
    "rated answers not yet reviewed": lambda r: (
        r.review_state in ("none", "pending") and (r.rating is not None or r.correction is not None)
    ),
    "all rated answers": lambda r: r.rating is not None or r.correction is not None,
}


def source_document(record: FeedbackRecord) -> str:
    """The file of the answer's first citation (the best-ranked source it used)."""
    for citation in sorted(record.citations, key=lambda c: c.get("number") or 0):
        if citation.get("source"):
            return PurePosixPath(str(citation["source"]).replace("\\", "/")).name
    return NO_SOURCE


GROUPINGS: dict[str, Callable[[FeedbackRecord], str]] = {
    "no grouping": lambda r: "all shown",
    "source document": source_document,
    "adapter": lambda r: r.answered_by,
}


def _missing_last(value: float | None, descending: bool = False) -> tuple[bool, float]:
    return (value is None, 0.0 if value is None else (-value if descending else value))


SORTS: dict[str, Callable[[FeedbackRecord], object]] = {
    "oldest first": lambda r: r.updated_at,
    "human vs AI disagreement, largest first": lambda r: _missing_last(disagreement(r), descending=True),
    "AI score, lowest first": lambda r: _missing_last(r.ai_score),
    "AI score, highest first": lambda r: _missing_last(r.ai_score, descending=True),
    "human rating, lowest first": lambda r: _missing_last(r.rating),
}


@dataclass(frozen=True)
class ReviewFilter:
    """All conditions must hold. ``None`` leaves a dimension unfiltered."""

    ai_min: float = 0.0
    ai_max: float = 5.0
    include_unscored: bool = True
    ratings: frozenset[int] | None = None
    min_disagreement: float = 0.0  # above 0 only records with both a rating and an AI score can match
    adapters: frozenset[str] | None = None
    sources: frozenset[str] | None = None

    def matches(self, record: FeedbackRecord) -> bool:
        if record.ai_score is None:
            if not self.include_unscored:
                return False
        elif not self.ai_min <= record.ai_score <= self.ai_max:
            return False
        if self.ratings is not None and record.rating not in self.ratings:
            return False
        if self.min_disagreement > 0 and (disagreement(record) or 0.0) < self.min_disagreement:
            return False
        if self.adapters is not None and record.answered_by not in self.adapters:
            return False
        return self.sources is None or source_document(record) in self.sources


def select(
    records: Iterable[FeedbackRecord], scope: str, where: ReviewFilter, sort: str
) -> list[FeedbackRecord]:
    in_scope = SCOPES[scope]
    return sorted((r for r in records if in_scope(r) and where.matches(r)), key=SORTS[sort])


def group(records: list[FeedbackRecord], by: str) -> dict[str, list[FeedbackRecord]]:
    """Groups in order of size (largest first); each keeps the records' order."""
    key = GROUPINGS[by]
    groups: dict[str, list[FeedbackRecord]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return dict(sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def undecided(records: Iterable[FeedbackRecord]) -> list[FeedbackRecord]:
    """The records a bulk approval changes: not yet approved or rejected."""
    return [r for r in records if r.review_state in ("none", "pending")]


def summary(records: list[FeedbackRecord]) -> str:
    """'12 answers · mean rating 2.4 · mean AI score 1.9 (10 scored)'."""
    rated = [r.rating for r in records if r.rating is not None]
    scored = [r.ai_score for r in records if r.ai_score is not None]
    parts = [f"{len(records)} answer{'s' if len(records) != 1 else ''}"]
    if rated:
        parts.append(f"mean rating {sum(rated) / len(rated):.1f}")
    if scored:
        parts.append(f"mean AI score {sum(scored) / len(scored):.1f} ({len(scored)} scored)")
    return " · ".join(parts)

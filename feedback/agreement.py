"""How the AI judge's scores relate to what users said, for the dashboard, ``ragloop feedback
agreement`` and the loop's report: the AI score trend per adapter, and human-vs-AI agreement.

- Trend: per day and answering model/adapter, the scored answers, the share scored > 3, the share < 3
  and the mean AI score (0-5).
- Agreement, over records with both a rating (1-5) and an AI score: a confusion table (rows: the user's
  rating; columns: the AI score rounded to 0-5), Pearson and Spearman correlation, and the share where
  the two differ by 2 or more on the users' 1-5 scale (``feedback.scoring.on_rating_scale``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from feedback.schema import FeedbackRecord
from feedback.scoring import disagreement

AI_BUCKETS = range(0, 6)
RATINGS = range(1, 6)
DIFFER_BY = 2.0


@dataclass
class Agreement:
    pairs: int = 0
    confusion: dict[int, dict[int, int]] = field(
        default_factory=lambda: {r: dict.fromkeys(AI_BUCKETS, 0) for r in RATINGS}
    )
    pearson: float | None = None
    spearman: float | None = None
    differ_share: float | None = None  # share with |rating - AI on 1-5| >= DIFFER_BY

    def to_dict(self) -> dict:
        return {
            "pairs": self.pairs,
            "pearson": self.pearson,
            "spearman": self.spearman,
            "differ_by_2_or_more": self.differ_share,
            "confusion": {str(r): {str(a): n for a, n in row.items()} for r, row in self.confusion.items()},
        }

    def markdown(self) -> str:
        """The confusion table and the three numbers, as Markdown."""
        head = "| user rating \\ AI score | " + " | ".join(str(a) for a in AI_BUCKETS) + " | answers |"
        lines = [head, "|" + "---|" * (len(AI_BUCKETS) + 2)]
        for rating, row in self.confusion.items():
            cells = " | ".join(str(row[a]) for a in AI_BUCKETS)
            lines.append(f"| {rating} | {cells} | {sum(row.values())} |")

        def num(value: float | None, fmt: str) -> str:
            return "—" if value is None else format(value, fmt)

        lines += [
            "",
            f"{self.pairs} answers with both a rating and an AI score; "
            f"Pearson r {num(self.pearson, '.2f')}, Spearman ρ {num(self.spearman, '.2f')}; "
            f"rating and AI score differ by ≥ 2 points (on 1-5) on {num(self.differ_share, '.0%')}.",
        ]
        return "\n".join(lines)


def ai_bucket(score: float) -> int:
    return int(min(5, max(0, np.floor(score + 0.5))))


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as Spearman's rho needs."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def agreement(records: Iterable[FeedbackRecord]) -> Agreement:
    both = [r for r in records if r.rating is not None and r.ai_score is not None]
    result = Agreement(pairs=len(both))
    if not both:
        return result
    for r in both:
        result.confusion[r.rating][ai_bucket(r.ai_score)] += 1  # type: ignore[index,arg-type]
    human = np.array([r.rating for r in both], dtype=float)
    ai = np.array([r.ai_score for r in both], dtype=float)
    result.pearson = _correlation(human, ai)
    result.spearman = _correlation(_ranks(human), _ranks(ai))
    result.differ_share = sum((disagreement(r) or 0.0) >= DIFFER_BY for r in both) / len(both)
    return result


def trend(records: Iterable[FeedbackRecord]) -> list[dict]:
    """One row per (day, answered_by): ``scored``, ``above_3``, ``below_3`` (shares), ``mean``."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in records:
        if r.ai_score is not None:
            key = (r.created_at[:10], r.answered_by)
            groups.setdefault(key, []).append(r.ai_score)
    return [
        {
            "day": day,
            "answered_by": who,
            "scored": len(scores),
            "above_3": sum(s > 3 for s in scores) / len(scores),
            "below_3": sum(s < 3 for s in scores) / len(scores),
            "mean": float(np.mean(scores)),
        }
        for (day, who), scores in sorted(groups.items())
    ]

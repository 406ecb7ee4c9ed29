"""Human-vs-AI agreement and the AI score trend, on hand-made records with known answers."""

from __future__ import annotations

import pytest

from feedback.agreement import agreement, trend
from tests.feedback.conftest import make_record


def scored(rating: int | None, ai: float | None, turn: int, **kw):
    return make_record(turn=turn, rating=rating, ai_score=ai, **kw)


def test_confusion_table_counts_each_pair_once_in_its_cell():
    records = [
        scored(5, 4.6, 0),
        scored(5, 1.0, 1),
        scored(1, 0.2, 2),
        scored(3, None, 3),
        scored(None, 2.0, 4),
    ]
    result = agreement(records)
    assert result.pairs == 3  # only records with both
    assert result.confusion[5][5] == 1 and result.confusion[5][1] == 1 and result.confusion[1][0] == 1
    assert sum(sum(row.values()) for row in result.confusion.values()) == 3
    # 5 vs 1.0 -> 1.8 on the 1-5 scale: differs by 3.2; the other two agree
    assert result.differ_share == pytest.approx(1 / 3)


def test_correlations_follow_the_data():
    agreeing = [scored(r, (r - 1) * 1.25, n) for n, r in enumerate([1, 2, 3, 4, 5, 5, 1])]
    opposed = [scored(r, (5 - r) * 1.25, n) for n, r in enumerate([1, 2, 3, 4, 5, 5, 1])]
    assert agreement(agreeing).pearson == pytest.approx(1.0)
    assert agreement(agreeing).spearman == pytest.approx(1.0)
    assert agreement(agreeing).differ_share == 0
    assert agreement(opposed).pearson == pytest.approx(-1.0) and agreement(opposed).differ_share > 0.5
    assert agreement([scored(4, 4.0, 0)]).pearson is None  # too few to say


def test_markdown_table_has_a_row_per_rating_and_the_numbers():
    text = agreement([scored(5, 4.6, 0), scored(1, 0.2, 1), scored(3, 2.4, 2)]).markdown()
    lines = text.splitlines()
    assert lines[0].startswith("| user rating") and len([ln for ln in lines if ln.startswith("| ")]) == 6
    assert "Pearson r 0.99" in text or "Pearson r 1.00" in text
    assert "3 answers with both" in text


def test_trend_per_day_and_adapter():
    records = [
        scored(None, 4.0, 0, created_at="2026-11-01T10:00:00+00:00"),
        scored(None, 2.0, 1, created_at="2026-11-01T11:00:00+00:00"),
        scored(None, 3.0, 2, created_at="2026-11-02T10:00:00+00:00", adapter="sft-v1"),
        scored(4, None, 3, created_at="2026-11-02T10:00:00+00:00"),
    ]
    rows = trend(records)
    assert [(r["day"], r["answered_by"], r["scored"]) for r in rows] == [
        ("2026-11-01", "base (base)", 2),
        ("2026-11-02", "sft-v1", 1),
    ]
    assert rows[0]["above_3"] == 0.5 and rows[0]["below_3"] == 0.5 and rows[0]["mean"] == 3.0
    assert rows[1]["above_3"] == 0 and rows[1]["below_3"] == 0


def test_a_reviewed_answer_given_word_for_word_counts_for_no_adapter():
    """A session routed to an adapter that got an approved text as its answer (rag.reviewed) must not
    credit or blame the adapter: the trend and the dashboard group it on its own."""
    from feedback.schema import REVIEWED_ANSWER

    direct = scored(None, 5.0, 0, adapter="sft-v1", trace={"reviewed_direct": True})
    assert direct.answered_by == REVIEWED_ANSWER
    assert [r["answered_by"] for r in trend([direct, scored(None, 2.0, 1, adapter="sft-v1")])] == sorted(
        [REVIEWED_ANSWER, "sft-v1"]
    )

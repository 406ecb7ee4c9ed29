"""The gate fails a worse candidate and passes a better one."""

from __future__ import annotations

from eval.gate import GateMargins, check


def result(similarity: float, judge: float | None = None, recall: float = 1.0) -> dict:
    return {
        "similarity": {"mean": similarity},
        "judge": {"mean": judge},
        "retrieval": {"recall_at_4": recall},
    }


def test_better_candidate_passes():
    gate = check(result(0.81, 4.1), result(0.64, 3.7), GateMargins(similarity=0.05, judge_mean=0.1))
    assert gate.passed, gate.reasons


def test_worse_candidate_fails_with_reasons():
    gate = check(result(0.60, 3.9), result(0.64, 3.7), GateMargins(similarity=0.0))
    assert not gate.passed and any("similarity 0.600 < baseline 0.640" in r for r in gate.reasons)
    gate = check(result(0.70, 3.0), result(0.64, 3.7))
    assert not gate.passed and any("judge mean 3.00 < baseline 3.70" in r for r in gate.reasons)


def test_margin_must_be_cleared_and_recall_may_not_fall():
    assert not check(result(0.66), result(0.64), GateMargins(similarity=0.05)).passed
    assert not check(result(0.9, recall=0.5), result(0.64, recall=0.9)).passed

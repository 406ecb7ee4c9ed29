"""Pairwise comparison: order swapping cancels position bias; unusable verdicts are counted, not guessed."""

from __future__ import annotations

from eval.compare import compare, judge_pair, parse_verdict


def test_parse_verdict():
    assert parse_verdict("<thinking>1 is better</thinking><verdict>1</verdict>") == "1"
    assert parse_verdict("<verdict> TIE </verdict>") == "tie"
    assert parse_verdict("<verdict>3</verdict>") is None
    assert parse_verdict("<verdict>1</verdict><verdict>2</verdict>") is None
    assert parse_verdict("<thinking><verdict>1</verdict></thinking>") is None


class PositionBiased:
    """A judge that always prefers whatever it sees first."""

    model_id = "biased"

    def complete(self, prompt: str) -> str:
        return "<verdict>1</verdict>"


class PrefersKeyword:
    """A judge that prefers the answer mentioning '5 hours', wherever it stands."""

    model_id = "keyword"

    def complete(self, prompt: str) -> str:
        first = prompt.split("<answer_1>")[1].split("</answer_1>")[0]
        second = prompt.split("<answer_2>")[1].split("</answer_2>")[0]
        if ("5 hours" in first) == ("5 hours" in second):
            return "<verdict>tie</verdict>"
        return "<verdict>1</verdict>" if "5 hours" in first else "<verdict>2</verdict>"


def test_order_swap_turns_position_bias_into_ties():
    assert judge_pair(PositionBiased(), "q", "ref", "answer a", "answer b") == "tie"


def test_consistent_preference_is_a_win_or_loss():
    assert judge_pair(PrefersKeyword(), "q", "ref", "About 5 hours.", "Two days.") == "a"
    assert judge_pair(PrefersKeyword(), "q", "ref", "Two days.", "About 5 hours.") == "b"


def test_compare_reports_win_rate_with_interval():
    def run(model, answers):
        return {
            "model": model,
            "items": [
                {"id": str(i), "question": "q", "reference": "r", "answer": a} for i, a in enumerate(answers)
            ],
        }

    a = run("sft", ["About 5 hours."] * 8 + ["x", "y"])
    b = run("base", ["Two days."] * 8 + ["x", "y"])
    result = compare(a, b, PrefersKeyword())
    assert (result["wins"], result["ties"], result["losses"]) == (8, 2, 0)
    assert result["win_rate"] == 0.9 and result["ci_low"] > 0.5
    assert compare(a, b, PositionBiased())["win_rate"] == 0.5

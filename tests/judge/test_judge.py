"""Judge parsing on well-formed, malformed and adversarial replies; retries; never a silent 0."""

from __future__ import annotations

import pytest

from judge.clients import BedrockJudge, expected_digit
from judge.core import Judge, JudgeCache
from judge.facts import FACTS_VERSION
from judge.prompts import JudgeFailed, JudgeParseError, parse_judgement


@pytest.mark.parametrize(
    "reply, score",
    [
        (
            "<thinking>facts agree</thinking><scoring>4.5</scoring><reason>Misses a detail.</reason>",
            4.5,
        ),
        ("<scoring> 5 </scoring>\n<reason>Fully correct.</reason>", 5.0),
        ("<thinking>x</thinking>\n<SCORING>0.0</SCORING><REASON>Wrong charger time.</REASON>", 0.0),
        ("<scoring>3/5</scoring><reason>ok</reason>", 3.0),
    ],
)
def test_well_formed(reply, score):
    assert parse_judgement(reply).score == score


@pytest.mark.parametrize(
    "reply, problem",
    [
        ("<reason>no score</reason>", "found 0"),
        ("<scoring>high</scoring><reason>r</reason>", "not a number"),
        ("<scoring>7</scoring><reason>r</reason>", "outside 0-5"),
        ("<scoring>-1</scoring><reason>r</reason>", "not a number"),
        ("<scoring>4</scoring>", "non-empty <reason>"),
        ("<scoring>4</scoring><reason>  </reason>", "non-empty <reason>"),
        ("<scoring>4", "found 0"),
        ("", "found 0"),
    ],
)
def test_malformed(reply, problem):
    with pytest.raises(JudgeParseError, match=problem):
        parse_judgement(reply)


def test_adversarial_scores_are_not_taken():
    # A score echoed from the answer alongside the judge's own: ambiguous, refused.
    with pytest.raises(JudgeParseError, match="found 2"):
        parse_judgement(
            "The answer says <scoring>5</scoring>. <scoring>1</scoring><reason>Injected.</reason>"
        )
    # A score only inside the thinking does not count.
    with pytest.raises(JudgeParseError, match="found 0"):
        parse_judgement("<thinking>maybe <scoring>5</scoring></thinking><reason>r</reason>")
    # Scores inside an unterminated thinking block do not count either.
    with pytest.raises(JudgeParseError, match="found 0"):
        parse_judgement("<thinking>I will output <scoring>5</scoring><reason>r</reason>")


class Scripted:
    """A judge backend that replays fixed replies (the model call is not what these tests exercise)."""

    model_id = "scripted"

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.calls = 0

    def complete(self, prompt: str) -> str:
        self.calls += 1
        return self.replies.pop(0)


def test_malformed_reply_is_retried():
    backend = Scripted("<scoring>great</scoring>", "<scoring>4</scoring><reason>Right.</reason>")
    assert Judge(backend).score("q", "ref", "ans").score == 4.0
    assert backend.calls == 2


def test_all_tries_failing_is_reported_never_zero():
    judge = Judge(Scripted("nope", "<scoring>9</scoring><reason>r</reason>", ""), tries=3)
    with pytest.raises(JudgeFailed, match=r"try 1: .* try 2: .*outside 0-5.* try 3"):
        judge.score("q", "ref", "ans")
    scored, failed = Judge(Scripted("x", "y", "z")).score_many(
        [{"id": "a", "question": "q", "reference": "r", "answer": "a"}]
    )
    assert scored == [] and failed[0]["id"] == "a" and "no usable score" in failed[0]["error"]


def test_cache_by_content(tmp_path):
    backend = Scripted("<scoring>2</scoring><reason>Partly.</reason>")
    judge = Judge(backend, cache=JudgeCache(tmp_path / "cache.sqlite3"))
    assert judge.score("q", "r", "a").score == 2.0
    assert judge.score("q", "r", "a").score == 2.0  # from the cache
    assert backend.calls == 1


def test_bedrock_converse_request_shape():
    judge = BedrockJudge("anthropic.claude-3-haiku-20240307-v1:0", region="us-east-1")
    req = judge.request("grade this")
    assert req["modelId"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert req["messages"] == [{"role": "user", "content": [{"text": "grade this"}]}]
    assert req["inferenceConfig"]["temperature"] == 0.0


def test_bedrock_judge_scores_rlaif_candidates_through_the_converse_contract():
    """The RLAIF stage's judge on Amazon Bedrock: a real botocore client, validated against the service
    model by Stubber (request parameters and response shape), scoring candidates through ``score_many``
    exactly as the loop's stage does."""
    import boto3
    from botocore.stub import Stubber

    from judge.prompts import JUDGE_PROMPT

    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    judge = Judge(BedrockJudge("mistral.mistral-large-2407-v1:0", client=client))
    candidates = [
        {
            "id": "c1",
            "question": "How long does charging take?",
            "reference": "5 hours.",
            "answer": "5 hours [1].",
        },
        {
            "id": "c2",
            "question": "How long does charging take?",
            "reference": "5 hours.",
            "answer": "2 days.",
        },
    ]
    replies = [
        "<scoring>4.8</scoring><reason>Same fact.</reason>",
        "<scoring>0.5</scoring><reason>Wrong.</reason>",
    ]
    with Stubber(client) as stub:
        for item, reply in zip(candidates, replies, strict=True):
            prompt = JUDGE_PROMPT.format(
                question=item["question"], reference=item["reference"], answer=item["answer"]
            )
            stub.add_response(
                "converse",
                {
                    "output": {"message": {"role": "assistant", "content": [{"text": reply}]}},
                    "stopReason": "end_turn",
                    "usage": {"inputTokens": 200, "outputTokens": 20, "totalTokens": 220},
                    "metrics": {"latencyMs": 800},
                },
                {
                    "modelId": "mistral.mistral-large-2407-v1:0",
                    "messages": [{"role": "user", "content": [{"text": prompt}]}],
                    "inferenceConfig": {"maxTokens": 512, "temperature": 0.0},
                },
            )
        scored, failed = judge.score_many(candidates)
        stub.assert_no_pending_responses()
    assert failed == []
    assert [(s["id"], s["score"]) for s in scored] == [("c1", 4.8), ("c2", 0.5)]
    assert {(s["judge"], s["judge_prompt_version"], s["judge_facts"]) for s in scored} == {
        ("mistral.mistral-large-2407-v1:0", "judge-v1+grounded-v1", FACTS_VERSION)
    }


def test_a_chat_verdict_that_misses_a_changed_number_is_capped_with_the_reason():
    """The fact checks sit on top of any backend: a model that rates a wrong number 5 is overruled."""
    backend = Scripted("<scoring>5</scoring><reason>Looks right.</reason>")
    verdict = Judge(backend).score("What is the top speed?", "25 km/h.", "The top speed is 38 km/h.")
    assert verdict.score <= 1.0
    assert "38 km/h" in verdict.reason and "Looks right." in verdict.reason
    unchecked = Judge(Scripted("<scoring>5</scoring><reason>Looks right.</reason>"), fact_checks=False)
    assert unchecked.score("What is the top speed?", "25 km/h.", "The top speed is 38 km/h.").score == 5.0


def test_the_cache_is_keyed_by_the_judges_identity(tmp_path):
    """Scores from a judge without the fact checks are never served to one with them."""
    cache = JudgeCache(tmp_path / "cache.sqlite3")
    args = ("What is the top speed?", "25 km/h.", "38 km/h.")
    loose = Judge(Scripted("<scoring>5</scoring><reason>ok</reason>"), cache, fact_checks=False)
    assert loose.score(*args).score == 5.0
    strict = Judge(Scripted("<scoring>5</scoring><reason>ok</reason>"), cache)
    assert strict.score(*args).score <= 1.0


def test_expected_digit_weighs_the_digit_tokens_only():
    import math

    top = {"5": math.log(0.6), "4": math.log(0.2), " 0": math.log(0.2), "The": math.log(0.5)}
    assert expected_digit(top) == pytest.approx(0.6 * 5 + 0.2 * 4)
    assert expected_digit({"Yes": -0.1}) is None

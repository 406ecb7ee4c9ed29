"""The default judge (reference overlap + fact checks) against the judge benchmark's labelled sets: it
must tell each wrong twin from the right answer and rank the labelled real answers, on both halves.
Asserts quality on fixed data, never time."""

from __future__ import annotations

import pytest

from benchmarks.judge import PAIRS, REAL, judge_pairs, judge_real, read_jsonl
from eval.judge_pairs import WRONG_KINDS
from judge.core import Judge
from judge.overlap import ReferenceOverlapJudge


@pytest.fixture(scope="module")
def results(embedder):
    judge = Judge(ReferenceOverlapJudge(embedder.encode))
    timings: list[float] = []
    return (
        judge_pairs(judge, read_jsonl(PAIRS), "reference", timings),
        judge_real(judge, read_jsonl(REAL), "reference", timings),
    )


@pytest.mark.parametrize("set_name", ["demo", "demo-extra"])
def test_every_wrong_twin_scores_below_the_reference(results, set_name):
    pairs, _ = results
    for kind in WRONG_KINDS:
        assert pairs[set_name][kind]["vs_reference"] >= 0.95, (kind, pairs[set_name][kind])
    # target 0.5; the untuned half measures 0.51 (README), so this guards against regressions only
    assert pairs[set_name]["paraphrase"]["mean_drop"] <= 0.55
    assert pairs[set_name]["padded"]["mean_drop"] <= 0.5


def test_real_answers_labelled_correct_outrank_wrong_ones(results):
    _, real = results
    assert real["all"]["n"]["correct"] + real["all"]["n"]["wrong"] + real["all"]["n"]["partial"] >= 150
    assert real["all"]["auc_correct_vs_wrong"] >= 0.85
    assert real["demo-extra"]["auc_correct_vs_wrong"] >= 0.85


def test_without_the_fact_checks_the_same_judge_misses_negations(embedder):
    """The checks are what catches them (the benchmark's reason to exist): removing them fails."""
    judge = Judge(ReferenceOverlapJudge(embedder.encode), fact_checks=False)
    pairs = [p for p in read_jsonl(PAIRS) if p["kind"] == "negation"]
    result = judge_pairs(judge, pairs, "reference", [])
    assert min(m["negation"]["vs_reference"] for m in result.values()) < 0.8


def test_against_sources_padding_is_not_a_claim_and_a_changed_number_is(embedder):
    """Meta words ("Based on the provided documents", "let me know") are no unsupported claims; a number
    the sources do not state is."""
    judge = Judge(ReferenceOverlapJudge(embedder.encode))
    pairs = [p for p in read_jsonl(PAIRS) if p["set"] == "demo" and p["kind"] in ("padded", "numbers")]
    result = judge_pairs(judge, pairs, "sources", [])["demo"]
    assert result["padded"]["mean_drop"] <= 0.5
    assert result["numbers"]["vs_reference"] >= 0.95

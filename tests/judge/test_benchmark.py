"""The default judge (reference overlap + fact checks) against the judge benchmark's labelled sets: it
must tell each wrong twin from the right answer and rank the labelled real answers, on both halves.
Asserts quality on fixed data, never time."""

from __future__ import annotations

import json

import pytest

from benchmarks.judge import PAIRS, REAL, judge_pairs, judge_real, publish
from core.jsonl import read_rows
from eval.judge_pairs import WRONG_KINDS
from judge.core import Judge
from judge.overlap import ReferenceOverlapJudge


@pytest.fixture(scope="module")
def results(embedder):
    judge = Judge(ReferenceOverlapJudge(embedder.encode))
    timings: list[float] = []
    return (
        judge_pairs(judge, read_rows(PAIRS), "reference", timings),
        judge_real(judge, read_rows(REAL), "reference", timings),
    )


@pytest.mark.parametrize("set_name", ["demo", "demo-extra"])
def test_every_wrong_twin_scores_below_the_reference(results, set_name):
    pairs, _ = results
    for kind in WRONG_KINDS:
        assert pairs[set_name][kind]["vs_reference"] >= 0.95, (kind, pairs[set_name][kind])
    assert pairs[set_name]["paraphrase"]["mean_drop"] <= 0.5  # v3 measures 0.37 / 0.39 (v2: 0.45 / 0.51)
    assert pairs[set_name]["padded"]["mean_drop"] <= 0.5


@pytest.mark.parametrize("set_name", ["realdocs2-a", "realdocs2-b"])
def test_on_technical_docs_swapped_names_and_flips_score_below_the_reference(results, set_name):
    """HTTPX, FastAPI and the Rust book, never tuned on (half b never read): a swapped class or
    identifier ("base_url on the Drop"), a flipped yes/no and a neighbour's answer score below the
    reference; the real answers rank by their labels. (Numbers and qualifiers: 5-6 pairs per half, one
    miss each; see the README.)"""
    pairs, real = results
    for kind in ("entity_unit", "yes_no", "neighbour"):
        assert pairs[set_name][kind]["vs_reference"] >= 0.95, (kind, pairs[set_name][kind])
    assert real[set_name]["auc_correct_vs_wrong"] >= 0.85


def test_real_answers_labelled_correct_outrank_wrong_ones(results):
    _, real = results
    assert real["all"]["n"]["correct"] + real["all"]["n"]["wrong"] + real["all"]["n"]["partial"] >= 150
    assert real["all"]["auc_correct_vs_wrong"] >= 0.85
    assert real["demo-extra"]["auc_correct_vs_wrong"] >= 0.85


def test_without_the_fact_checks_the_same_judge_misses_negations(embedder):
    """The checks are what catches them (the benchmark's reason to exist): removing them fails."""
    judge = Judge(ReferenceOverlapJudge(embedder.encode), fact_checks=False)
    pairs = [p for p in read_rows(PAIRS) if p["kind"] == "negation"]
    result = judge_pairs(judge, pairs, "reference", [])
    assert min(m["negation"]["vs_reference"] for m in result.values()) < 0.8


def test_against_sources_padding_is_not_a_claim_and_a_changed_number_is(embedder):
    """Meta words ("Based on the provided documents", "let me know") are no unsupported claims; a number
    the sources do not state is."""
    judge = Judge(ReferenceOverlapJudge(embedder.encode))
    pairs = [p for p in read_rows(PAIRS) if p["set"] == "demo" and p["kind"] in ("padded", "numbers")]
    result = judge_pairs(judge, pairs, "sources", [])["demo"]
    assert result["padded"]["mean_drop"] <= 0.5
    assert result["numbers"]["vs_reference"] >= 0.95


def test_a_terse_reference_and_a_full_sentence_with_its_facts_agree(embedder):
    """v3 also reads the reference and the answer as answers to the question: a full sentence with a
    terse reference's facts scores >= 4 (v2, comparing the bare texts, gave it 3.6), while a short
    sentence about something else, with the same number, stays low."""
    judge = Judge(ReferenceOverlapJudge(embedder.encode), fact_checks=False)
    question = "How long does charging with the travel charger take?"
    right = "The travel charger takes about 7 hours to charge the battery fully."
    assert judge.score(question, "About 7 hours.", right).score >= 4
    assert judge.score(question, "About 7 hours.", "Clean the chain every 7 days.").score < 3


def test_publishing_one_judge_keeps_the_figures_of_the_others(tmp_path):
    path = tmp_path / "benchmark.json"
    path.write_text('{"date": "2026-01-01", "judges": {"other-judge": {"real_answers": 1}}}')
    run = {"reference": {"pairs": {"demo": {k: {"vs_reference": 1.0} for k in WRONG_KINDS}}}}
    run["reference"] |= {
        "real": {"all": {"auc_correct_vs_wrong": 0.9, "n": {"correct": 2}}},
        "seconds_p50": 0.1,
    }
    publish({"overlap+facts": {"identity": {"model": "m", "facts": "facts-v3"}, **run}}, path)
    judges = json.loads(path.read_text())["judges"]
    assert set(judges) == {"other-judge", "m+facts"} and judges["m+facts"]["reference"]["auc"] == 0.9


def test_publishing_one_basis_keeps_the_judges_figures_on_the_other(tmp_path):
    path = tmp_path / "benchmark.json"
    sources = {"pairwise_min": 0.4, "auc": 0.7, "seconds_p50": 0.9}
    path.write_text(json.dumps({"judges": {"m+facts": {"real_answers": 3, "sources": sources}}}))
    run = {"reference": {"pairs": {"demo": {k: {"vs_reference": 1.0} for k in WRONG_KINDS}}}}
    run["reference"] |= {
        "real": {"all": {"auc_correct_vs_wrong": 0.9, "n": {"correct": 3}}},
        "seconds_p50": 0.1,
    }
    publish({"overlap+facts": {"identity": {"model": "m", "facts": "facts-v4"}, **run}}, path)
    entry = json.loads(path.read_text())["judges"]["m+facts"]
    assert entry["sources"] == sources
    assert entry["reference"]["auc"] == 0.9 and entry["reference"]["facts"] == "facts-v4"


def test_against_sources_an_answer_that_only_restates_its_question_is_capped(embedder):
    """Every word of a restated question is in the sources because it is in the question (realdocs2's
    wrong answers were mostly such echoes, scored 4.7-5.0 by v3); v4 caps them at 2 and still scores an
    answer that adds the sources' facts above them, citation marks included. Checked without the fact
    checks: they catch this echo's flipped polarity, not an echo that flips nothing."""
    judge = Judge(ReferenceOverlapJudge(embedder.encode), fact_checks=False)
    question = "Do cookies set by a server persist across calls when I use httpx.get repeatedly?"
    sources = (
        '<source id="1" file="httpx-clients.md">\nClients › Why use a Client?\n\nIf you do anything more '
        "than experimentation, one-off scripts, or prototypes, then you should use a Client instance. "
        "Cookie persistence across requests is a feature of a Client. The top-level API, such as "
        "httpx.get(), opens a new connection for every request and does not persist cookies set by a "
        "server across calls.\n</source>"
    )
    echo = "Cookies set by a server persist across calls when you use `httpx.get` repeatedly. [1]"
    right = "No: the top-level API does not persist them; use a Client instance for cookie persistence. [1]"
    echoed = judge.score(question, sources, echo, "sources")
    assert echoed.score <= 2.0 and "restates the question" in echoed.reason
    assert judge.score(question, sources, right, "sources").score >= 3.0


def test_against_a_reference_an_answer_that_only_restates_its_question_is_capped(embedder):
    """A simulated user rated "The chain lube should be used in winter." 4 against "A wet lube in winter
    (dry lube in summer)." (v4: 3.50, so it became an SFT row): it shares the reference's words only
    because the question has them. v5 caps such an echo at 2 against a reference too ("used" is the
    question's "use"), and leaves a terse right answer and a reference that itself restates alone."""
    judge = Judge(ReferenceOverlapJudge(embedder.encode), fact_checks=False)
    question = "Which chain lube should I use in winter?"
    reference = "A wet lube in winter (dry lube in summer)."
    echoed = judge.score(question, reference, "The chain lube should be used in winter. [2]")
    assert echoed.score <= 2.0 and "restates the question" in echoed.reason
    assert judge.score(question, reference, "Use a wet lube in winter. [1]").score >= 3.5
    echo_reference = "You should use chain lube in winter."
    assert judge.score(question, echo_reference, "Chain lube should be used in winter.").score > 2.0

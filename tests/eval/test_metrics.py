"""Metrics on hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from eval.metrics import (
    cosine,
    recall_at_k,
    reciprocal_rank,
    score_distribution,
    source_matches,
    wilson_interval,
    win_rate,
)
from tests.conftest import REPO


def test_recall_and_mrr():
    hits = [False, False, True, False]
    assert recall_at_k(hits, 2) == 0.0 and recall_at_k(hits, 3) == 1.0
    assert reciprocal_rank(hits) == pytest.approx(1 / 3)
    assert reciprocal_rank([False, False]) == 0.0
    assert reciprocal_rank([True]) == 1.0


def test_source_matching_uses_file_name_and_page():
    assert source_matches("/x/docs/manual.pdf", 4, "manual.pdf", 4)
    assert not source_matches("/x/docs/manual.pdf", 3, "manual.pdf", 4)
    assert source_matches("/x/faq.html", None, "faq.html", None)


def test_cosine():
    assert cosine(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 0.0
    assert cosine(np.array([1.0, 1.0]), np.array([2.0, 2.0])) == pytest.approx(1.0)
    assert cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(1 / math.sqrt(2))
    assert cosine(np.zeros(2), np.ones(2)) == 0.0


def test_score_distribution():
    d = score_distribution([5, 4, 3, 1])
    assert d == {"mean": 3.25, "share_above_3": 0.5, "share_below_3": 0.25, "n": 4}


def test_wilson_interval_hand_computed():
    # p = 0.5, n = 100, z = 1.96: centre 0.5, half-width 1.96*sqrt(0.0025+0.000096)/1.038416 = 0.0962
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-4)


def test_win_rate_counts_ties_as_half():
    r = win_rate(6, 2, 2)
    assert r["win_rate"] == 0.7 and r["ci_low"] < 0.7 < r["ci_high"]


def test_demo_eval_set_has_50_items_with_sources_and_some_the_documents_do_not_answer():
    items = [json.loads(line) for line in (REPO / "eval" / "sets" / "demo.jsonl").read_text().splitlines()]
    answered = [i for i in items if i.get("answerable", True)]
    assert len(answered) >= 50 and len(items) - len(answered) >= 10
    corpus = {p.name for p in (REPO / "demo" / "corpus").iterdir()}
    for item in answered:
        assert item["question"].endswith("?") and item["reference"] and item["source"] in corpus
    for item in items:
        assert item["question"].endswith("?") and len(item["paraphrases"]) == 2


def test_citation_only_answers_are_markers_and_nothing_else():
    from eval.metrics import citation_only

    assert (
        citation_only("[1]")
        and citation_only("[1] [2] [3]")
        and citation_only(" [2]. ")
        and citation_only("")
    )
    assert not citation_only("About 5 hours [1].")


def test_pasting_a_source_is_a_copied_header_or_a_long_verbatim_run():
    from eval.metrics import PASTE_WORDS, pastes_source

    sources = "[1] (manual.pdf, page 2)\n" + " ".join(f"w{i}" for i in range(60))
    run = PASTE_WORDS
    assert pastes_source("[1] (manual.pdf, page 2) w0 w1", sources)  # the header, copied
    assert pastes_source("Here: " + " ".join(f"W{i}" for i in range(5, 5 + run)) + ".", sources)
    assert not pastes_source("It is " + " ".join(f"w{i}" for i in range(5, 4 + run)) + " [1].", sources)
    assert not pastes_source("About 5 hours [1].", sources)


def test_a_valid_citation_names_only_sources_that_were_given():
    from eval.metrics import valid_citation

    assert valid_citation("5 hours [1][2].", 4) and not valid_citation("5 hours.", 4)
    assert not valid_citation("5 hours [5].", 4) and not valid_citation("5 hours [0].", 4)


def test_citation_markers_are_not_sentences_of_their_own():
    from eval.metrics import answer_sentences

    assert answer_sentences("It takes 5 hours. [1]") == ["It takes 5 hours."]
    assert answer_sentences("About 5 hours [1]. With the fast charger 2.5 hours. [2] [3]") == [
        "About 5 hours.",
        "With the fast charger 2.5 hours.",
    ]
    assert answer_sentences("[1] [2]") == [] and answer_sentences("") == []


def test_grounding_cosine_is_the_share_of_sentences_near_a_chunk():
    from eval.metrics import grounding_cosine

    chunks = np.array([[1.0, 0.0], [0.0, 1.0]])
    sentences = np.array([[1.0, 0.0], [0.6, 0.8], [-1.0, 0.0]])  # cosines 1.0, 0.8, -1.0 at best
    assert grounding_cosine(sentences, chunks) == pytest.approx(2 / 3)
    assert grounding_cosine(np.zeros((0, 2)), chunks) == 0.0


def test_k_precision_is_the_share_of_answer_tokens_the_sources_hold():
    from eval.metrics import k_precision

    sources = ["The battery charges in 5 hours.", "Use the 4 A fast charger."]
    # "The" and "a" are articles, "[1]" is a citation: 4 tokens, all in the sources
    assert k_precision("The battery charges in 5 hours. [1]", sources) == 1.0
    # "takes 9 hours" are not in the sources: 2 of 5 tokens ("battery", "takes", "9", "hours" + "it")
    assert k_precision("It takes 9 hours, battery", sources) == pytest.approx(2 / 5)
    # counted with multiplicity: the sources hold "hours" once
    assert k_precision("hours hours", sources) == pytest.approx(1 / 2)
    # case and punctuation do not matter; code is split at its punctuation
    assert k_precision("FAST-charger!", sources) == 1.0
    assert k_precision("[1]", sources) == 0.0 and k_precision("5 hours", []) == 0.0


def test_source_bodies_reads_back_what_build_prompt_wrote():
    from rag.chain import build_prompt, source_bodies
    from rag.protocols import Chunk, SearchHit

    body = "Charge for 5 hours.\nNot below 0 °C."
    tyres = Chunk.compose("FAQ › Tyres", "Tyres are not covered.")
    hits = [
        SearchHit(Chunk("c1", body, "manual.pdf", 3, 0, 1, "h1", "f"), 0.9),
        SearchHit(Chunk("c2", tyres, "faq.md", None, 0, 1, "h2", "f", "FAQ › Tyres"), 0.5),
    ]
    assert source_bodies(build_prompt("How long?", hits)) == [
        "Charge for 5 hours.\nNot below 0 °C.",
        "Tyres are not covered.",
    ]


def test_grounding_reads_ragloop_source_blocks_or_another_prompt_less_its_question():
    from eval.langchain_baseline import RAG_PROMPT
    from eval.metrics import k_precision
    from eval.run import sources_read
    from rag.protocols import Trace

    question = "How long does a full charge take?"
    context = "A full charge takes about 5 hours with the supplied charger."
    lc_prompt = RAG_PROMPT.format(context=context, question=question)
    trace = Trace(question, "langchain", [], [], [], "m", None, 4, 0.0, 0, prompt=lc_prompt)
    (read,) = sources_read(trace)
    assert context in read and question not in read
    assert k_precision("About 5 hours with the supplied charger.", sources_read(trace)) == 1.0
    assert k_precision("How long does a full charge take?", sources_read(trace)) < 1.0

"""Synthetic bootstrap: drafts are parsed strictly and queued for expert review."""

from __future__ import annotations

import pytest

from feedback.protocols import FeedbackQuery
from feedback.service import build_writer
from rag.chain import SYSTEM_PROMPT
from ragloop.synth import parse_draft, synthesize


def test_parse_draft():
    assert parse_draft("Question: How long does charging take?\nAnswer: About 5 hours.") == (
        "How long does charging take?",
        "About 5 hours.",
    )
    assert parse_draft("question: What is E07?\n\nanswer: Overheating.") == ("What is E07?", "Overheating.")
    assert parse_draft("How long? About 5 hours.") is None
    assert parse_draft("Question: charging\nAnswer: 5 h") is None  # not a question
    assert parse_draft("") is None


class DraftingLLM:
    """Stands in for the drafting model's replies; the store, writer and parsing are real."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def model_id(self, adapter=None) -> str:
        return "drafter"

    def stream_chat(self, messages, **_):
        yield self.reply


def test_drafts_land_in_the_review_queue(settings, corpus):
    from rag.service import build_ingestor

    ingestor = build_ingestor(settings)
    ingestor.ingest([corpus], progress=False)
    writer = build_writer(settings)
    llm = DraftingLLM("Question: What does error code E07 mean?\nAnswer: The motor overheated.")
    report = synthesize(ingestor.store, ingestor.embedder.dim, llm, writer, count=3)
    assert (report.drafted, report.unusable) == (3, 0)
    pending = list(writer.store.list(FeedbackQuery(review_state="pending")))
    assert len(pending) == 3
    assert pending[0].correction == "The motor overheated." and pending[0].answer == ""
    trace = pending[0].trace
    assert trace["system"] == SYSTEM_PROMPT and trace["synthetic"]
    assert trace["prompt"].startswith('<source id="1"')


@pytest.mark.slow
def test_unusable_drafts_from_a_real_model_are_counted_not_queued(settings, corpus, vllm_server):
    from rag.backends.openai_llm import OpenAICompatibleLLM
    from rag.service import build_ingestor

    ingestor = build_ingestor(settings)
    ingestor.ingest([corpus], progress=False)
    writer = build_writer(settings)
    report = synthesize(
        ingestor.store,
        ingestor.embedder.dim,
        OpenAICompatibleLLM(vllm_server.base_url),
        writer,
        count=2,
        max_tokens=16,
    )
    assert report.unusable == 2 and report.drafted == 0
    assert list(writer.store.list()) == []

"""Synthetic bootstrap: drafts are parsed strictly and queued for expert review."""

from __future__ import annotations

import time

import pytest

from drafting.drafts import answer_sentences, drafts, parse_draft, parse_question, passages
from feedback.protocols import FeedbackQuery
from feedback.service import build_writer
from rag.chain import SYSTEM_PROMPT
from ragloop.synth import synthesize


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
    # the chunk is source [1] of the training prompt: the drafted answer cites it as served answers do
    assert pending[0].correction == "The motor overheated. [1]" and pending[0].answer == ""
    trace = pending[0].trace
    assert trace["system"] == SYSTEM_PROMPT and trace["synthetic"]
    assert trace["prompt"].startswith('<source id="1"')


class SlowDraftingLLM(DraftingLLM):
    """A drafting model that takes 0.2 s per reply: longer than the test's drafting budget."""

    def stream_chat(self, messages, **_):
        time.sleep(0.2)
        yield self.reply


def test_a_corpus_with_chunks_enough_gets_one_draft_per_whole_chunk(settings, corpus):
    from rag.service import build_ingestor

    ingestor = build_ingestor(settings)
    ingestor.ingest([corpus], progress=False)
    store, dim = ingestor.store, ingestor.embedder.dim
    llm = DraftingLLM("Question: What does error code E07 mean?\nAnswer: The motor overheated.")
    many = list(drafts(store, dim, llm, store.count() + 1, per_chunk=3))  # fewer chunks than asked: passages
    few = list(drafts(store, dim, llm, 2, per_chunk=3))  # chunks enough: one per whole chunk
    assert len(many) > store.count() + 1 and len({d.index for d in many}) == store.count()
    assert len(few) == 2


def test_drafting_stops_starting_drafts_once_its_budget_is_spent(settings, corpus):
    from rag.service import build_ingestor

    ingestor = build_ingestor(settings)
    ingestor.ingest([corpus], progress=False)
    llm = SlowDraftingLLM("Question: What does error code E07 mean?\nAnswer: The motor overheated.")
    store, dim = ingestor.store, ingestor.embedder.dim
    # a 60 ms budget: the first draft starts inside it and ends after it, so no second one starts
    budgeted = synthesize(store, dim, llm, build_writer(settings), count=3, max_minutes=0.001)
    unbudgeted = synthesize(store, dim, llm, build_writer(settings), count=3)
    assert (budgeted.drafted, unbudgeted.drafted) == (1, 3)


def test_passages_split_a_chunk_into_runs_of_whole_sentences():
    text = "The pack holds 500 Wh. It charges in 5 hours.\n| E07 | overheated |\nKeep it dry! Store it cool."
    assert passages(text, 2) == [
        "The pack holds 500 Wh. It charges in 5 hours. | E07 | overheated |",
        "Keep it dry! Store it cool.",
    ]
    assert passages(text, 1) == [text.replace("\n", " ")]
    assert passages("One sentence.", 3) == ["One sentence."]


class PassageLLM(DraftingLLM):
    """Asks about the first word of the passage it was shown, so each passage gives its own question."""

    def __init__(self) -> None:
        super().__init__("")

    def stream_chat(self, messages, **_):
        passage = messages[0].content.split("):\n", 1)[1]
        word = passage.split()[0].strip("#|*").lower() or "it"
        yield f"Question: What does the manual say about {word}?\nAnswer: It says {passage[:60]}"


def test_verified_drafts_are_approved_and_the_rest_rejected_with_the_reason(settings, corpus):
    """The loop's simulated expert: the real default judge against the draft's chunk, and the drafted
    question must retrieve its chunk. A copied sentence passes; an invented answer does not."""
    from judge.factory import build_judge
    from rag.service import build_chain, build_ingestor

    build_ingestor(settings).ingest([corpus], progress=False)
    chain = build_chain(settings)
    judge = build_judge(settings, embedder=chain.embedder)
    writer = build_writer(settings)
    report = synthesize(
        chain.store,
        chain.embedder.dim,
        PassageLLM(),
        writer,
        count=100,  # more than the corpus has chunks: passages of each chunk
        per_chunk=2,
        workers=3,
        verify=judge,
        retrieve=chain.retrieve,
        reviewer="simulated expert",
    )
    writer.drain()
    records = list(writer.store.list())
    chunks = {r.citations[0]["chunk_id"] for r in records}
    assert report.drafted == len(records) > len(chunks)  # two passages per chunk: more drafts than chunks
    assert len({(r.citations[0]["chunk_id"], r.question) for r in records}) == len(records)
    approved = [r for r in records if r.review_state == "approved"]
    rejected = [r for r in records if r.review_state == "rejected"]
    assert len(approved) == report.verified >= 1 and len(rejected) == report.refused
    assert all(r.reviewer == "simulated expert" and "judged" in r.note for r in approved + rejected)

    invented = DraftingLLM(
        "Question: What colour is the moon over Utrecht?\nAnswer: Bright purple, on Tuesdays."
    )
    bad = synthesize(
        chain.store, chain.embedder.dim, invented, writer, count=2, verify=judge, retrieve=chain.retrieve
    )
    assert (bad.verified, bad.refused) == (0, 2)


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


def test_answer_sentences_are_prose_that_stands_alone():
    body = (
        "## Clients { #clients }\n\n"
        "The recommended way to use a `Client` is as a context manager.\nIt closes the\n"
        "connections when the block exits.\n\n"
        "```python\nwith httpx.Client() as client:\n    client.get(url)  # This is code, not prose.\n```\n\n"
        "| Option | Meaning of the option here |\n|---|---|\n\n"
        "In this example, we send the same request twice to the server.\n\n"
        "Timeouts default to five seconds of network inactivity. Short.\n\n"
        "- **HTTPX** raises `ReadTimeout` when no data arrives in time.\n\n"
        "Let's call a function that returns a `Result` value now.\n\n"
        "would be valid to use as a dependency, cut from its sentence.\n\n"
        "Battery and charging\nThe battery is a 36 V lithium-ion pack of\n500 Wh in all.\n\n"
        "For instance:"
    )
    assert answer_sentences(body) == [
        "The recommended way to use a `Client` is as a context manager.",
        "Timeouts default to five seconds of network inactivity.",
        "**HTTPX** raises `ReadTimeout` when no data arrives in time.",
        "The battery is a 36 V lithium-ion pack of 500 Wh in all.",  # a PDF heading line dropped, wrap joined
    ]  # "It closes", "In this example", "Let's" lean on their context; code, table, heading, "Short." and a
    # fragment that starts lower-case are out; a list item's bold name stays


def test_parse_question_keeps_a_question_mark_in_code_and_refuses_meta_questions():
    assert (
        parse_question("Question: What does the `?` operator return?") == "What does the `?` operator return?"
    )
    assert parse_question("**Question:** How do I set a timeout?**") == "How do I set a timeout?"
    assert parse_question("Question: What does the passage say about timeouts?") is None
    assert parse_question("Question: timeouts") is None
    assert parse_question("Timeouts default to five seconds.") is None
    assert parse_question("What is the default timeout?\n") == "What is the default timeout?"  # no label


class RecordingLLM(DraftingLLM):
    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.prompts: list[str] = []

    def stream_chat(self, messages, **_):
        self.prompts.append(messages[-1].content)
        yield self.reply


def test_an_extractive_draft_answers_with_a_sentence_of_its_chunk(settings, corpus):
    """The model writes only the question; the answer is one of the chunk's own sentences, so a draft
    cannot state what its chunk does not."""
    from rag.service import build_ingestor

    ingestor = build_ingestor(settings)
    ingestor.ingest([corpus], progress=False)
    llm = RecordingLLM("Question: What does the manual say here?")
    writer = build_writer(settings)
    report = synthesize(ingestor.store, ingestor.embedder.dim, llm, writer, count=3, style="extractive")
    assert report.drafted == len(llm.prompts) >= 1
    for record in writer.store.list(FeedbackQuery(review_state="pending")):
        answer = record.correction.removesuffix(" [1]")
        assert record.question == "What does the manual say here?"
        assert " ".join(answer.split()) in " ".join(record.trace["prompt"].split())  # its chunk's words
        assert any(answer in prompt for prompt in llm.prompts)  # the model was shown the sentence
    free = RecordingLLM("Question: What does error code E07 mean?\nAnswer: The motor overheated.")
    synthesize(ingestor.store, ingestor.embedder.dim, free, build_writer(settings), count=1, style="free")
    assert "Sentence that answers" not in free.prompts[0]
    with pytest.raises(ValueError, match="extractive"):
        list(drafts(ingestor.store, ingestor.embedder.dim, llm, 1, style="abstractive"))

"""The RAG chain end to end with real parts: packaged embedding model, embedded store, and a real vLLM
(CPU build) serving a tiny random Mistral. Bad inputs get clear, typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.backends.embedded_store import EmbeddedVectorStore
from rag.backends.openai_llm import OpenAICompatibleLLM
from rag.chain import PROMPT_TEMPLATE_VERSION, SYSTEM_PROMPT, ChainConfig, RagChain, build_prompt
from rag.errors import BackendUnavailable, EmptyCorpus, IndexVersionMismatch, InvalidQuestion
from rag.ingest import Ingestor
from tests.rag.conftest import unreachable_llm


def make_chain(store, embedder, llm, **config) -> RagChain:
    return RagChain(store, embedder, llm, ChainConfig(**config))


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_rejected(indexed_store, embedder, question):
    with pytest.raises(InvalidQuestion, match="the question is empty"):
        make_chain(indexed_store, embedder, unreachable_llm()).stream(question)


def test_question_longer_than_the_context_is_rejected(indexed_store, embedder):
    chain = make_chain(
        indexed_store,
        embedder,
        unreachable_llm(),
        context_window=512,
        max_tokens=128,
        max_question_chars=100_000,
    )
    with pytest.raises(InvalidQuestion, match="longer than the model's context window"):
        chain.stream("why " * 2000)


def test_question_over_the_character_limit_is_rejected(indexed_store, embedder):
    chain = make_chain(indexed_store, embedder, unreachable_llm(), max_question_chars=50)
    with pytest.raises(InvalidQuestion, match="the limit is 50"):
        chain.stream("x" * 51)


def test_empty_corpus_is_reported(tmp_path, embedder):
    store = EmbeddedVectorStore(tmp_path / "empty.sqlite3", dim=embedder.dim)
    with pytest.raises(EmptyCorpus, match="no documents are indexed"):
        make_chain(store, embedder, unreachable_llm()).stream("How long does charging take?")


def test_unreachable_llm_is_reported(indexed_store, embedder):
    stream = make_chain(indexed_store, embedder, unreachable_llm()).stream("How long does charging take?")
    with pytest.raises(BackendUnavailable, match=r"LLM server at http://127\.0\.0\.1:\d+/v1 is unreachable"):
        stream.result()


def test_an_index_embedded_by_another_model_is_refused_at_question_time(tmp_path, embedder, chunker):
    from tests.conftest import DEMO_CORPUS

    store = EmbeddedVectorStore(tmp_path / "other.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    chain = make_chain(store, embedder, unreachable_llm())
    assert chain.retrieve("How big is the battery?")  # same model: fine
    store.set_index_version({**store.index_version(), "embedding_model": "bge-small-en-v1.5"})
    chain = make_chain(store, embedder, unreachable_llm())
    with pytest.raises(IndexVersionMismatch, match=r"embedded with 'bge-small-en-v1.5'.*--reindex"):
        chain.retrieve("How big is the battery?")
    store.close()


def test_retrieval_finds_the_page_that_answers(indexed_store, embedder):
    chain = make_chain(indexed_store, embedder, unreachable_llm())
    hits = chain.retrieve("What does error code E07 mean?")
    assert Path(hits[0].chunk.source).name == "voltbike-manual.pdf" and hits[0].chunk.page == 4
    hits = chain.retrieve("How many days do I have to return a bike?")
    assert Path(hits[0].chunk.source).name == "returns-and-shipping.md"


def test_prompt_numbers_sources_with_file_and_page(indexed_store, embedder):
    hits = make_chain(indexed_store, embedder, unreachable_llm()).retrieve("error code E07")
    prompt = build_prompt("What is E07?", hits)
    assert prompt.startswith('<source id="1" file="voltbike-manual.pdf, page 4">\n')
    assert prompt.count("<source id=") == len(hits) and prompt.endswith("</source>\n\nQuestion: What is E07?")


def test_uncited_sentences_are_attributed_to_the_source_they_come_from(embedder):
    from rag.attribution import missing_citations

    texts = [
        "Returns: you can return a bike within 30 days of delivery if ridden less than 50 km.",
        "Charging: a full charge takes about 5 hours with the supplied 2 A charger.",
    ]
    vectors = embedder.encode(texts)

    def cite(answer: str, question: str = "") -> list[int]:
        return missing_citations(answer, texts, vectors, embedder, question)

    assert cite("A full charge takes about 5 hours with the 2 A charger.") == [2]
    assert cite("Charging takes 5 hours [2].") == []  # already cited
    question = "How many days do I have to return a bike bought online?"
    assert cite("The answer is 30 days.", question) == [1]  # terse: its figure is in source 1
    assert cite("I cannot find that in the documents.", question) == []
    assert cite("It is 45 days.", question) == []  # a figure no source contains


def test_prompt_is_trimmed_to_fit_the_context(indexed_store, embedder):
    chain = make_chain(
        indexed_store, embedder, unreachable_llm(), top_k=8, context_window=400, max_tokens=100
    )
    prompt, hits = chain._fit_to_context("q", chain.retrieve("battery", k=8))
    assert 1 <= len(hits) < 8 and len(prompt) <= 300 * 3


@pytest.mark.slow
def test_answer_streams_from_real_vllm_with_citations_and_trace(indexed_store, embedder, vllm_server):
    llm = OpenAICompatibleLLM(vllm_server.base_url, max_tokens=24)
    chain = make_chain(indexed_store, embedder, llm, max_tokens=24)
    stream = chain.stream("  How long does a full charge take?  ")
    tokens = list(stream)
    answer = stream.result()
    assert len(tokens) > 1 and answer.text == "".join(tokens).strip()
    assert answer.question == "How long does a full charge take?"
    top = answer.citations[0]
    assert top.number == 1 and Path(top.source).name == "voltbike-manual.pdf" and top.page == 2
    assert "5 hours" in top.snippet
    trace = answer.trace
    assert trace.model == "base" and trace.adapter is None
    assert trace.prompt_template_version == PROMPT_TEMPLATE_VERSION
    assert trace.system == SYSTEM_PROMPT and trace.prompt.startswith('<source id="1"')
    assert trace.prompt.endswith("Question: How long does a full charge take?")
    assert trace.chunk_ids == [c.chunk_id for c in answer.citations]
    assert len(trace.chunk_scores) == len(answer.citations) == 4
    assert trace.timings_ms["total"] >= trace.timings_ms["first_token"] >= trace.timings_ms["retrieve"] > 0


@pytest.mark.slow
def test_unknown_adapter_is_a_clear_error(indexed_store, embedder, vllm_server):
    chain = make_chain(indexed_store, embedder, OpenAICompatibleLLM(vllm_server.base_url))
    with pytest.raises(BackendUnavailable, match="does not serve model 'no-such-adapter'"):
        chain.answer("What is E07?", adapter="no-such-adapter")


@pytest.mark.slow
def test_server_side_context_overflow_is_a_clear_error(indexed_store, embedder, vllm_server):
    # The pre-flight estimate is generous here; vLLM's own length check must still surface cleanly.
    chain = make_chain(
        indexed_store,
        embedder,
        OpenAICompatibleLLM(vllm_server.base_url),
        context_window=1_000_000,
        max_question_chars=1_000_000,
        max_tokens=16,
        silence_min_similarity=None,  # "battery battery …" is close to no sentence: the gate would answer
    )
    with pytest.raises(InvalidQuestion, match="do not fit the model's context window"):
        chain.answer("battery " * 5000)

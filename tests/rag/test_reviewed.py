"""Reviewed answers: one contract for the index on every vector-store backend (the embedded store always,
OpenSearch against a real cluster when OPENSEARCH_URL is set), and the chain putting a close reviewed
answer before the document chunks — labelled, traced, and gone the moment it is retracted."""

from __future__ import annotations

import os
import uuid

import pytest

from rag.backends.embedded_store import EmbeddedVectorStore
from rag.reviewed import ReviewedAnswer, ReviewedAnswers, is_reviewed, source_label

OPENSEARCH_URL = os.environ.get("OPENSEARCH_URL")
THRESHOLD = 0.65  # the configured default (benchmarks/reviewed_answers.py)

KEYS = ReviewedAnswer(
    feedback_id="fb-keys",
    question="Can the frame lock and battery lock use the same key?",
    text="Yes. A dealer can key the frame lock and the battery lock alike for 15 euros [1].",
    approved_by="rita",
    approved_at="2026-11-24T10:00:00+00:00",
    cites=("accessories-and-parts.md",),
)
CHARGE = ReviewedAnswer(
    feedback_id="fb-charge",
    question="How long does a full charge take with the supplied charger?",
    text="About 5 hours with the supplied 2 A charger [1].",
    approved_by="sam",
    approved_at="2026-11-20T09:00:00+00:00",
)


@pytest.fixture(params=["embedded", pytest.param("opensearch", marks=pytest.mark.opensearch)])
def index(request, tmp_path, embedder) -> ReviewedAnswers:
    if request.param == "embedded":
        store = EmbeddedVectorStore(tmp_path / "reviewed-answers.sqlite3", dim=embedder.dim)
        yield ReviewedAnswers(store, embedder, min_similarity=THRESHOLD)
        store.close()
        return
    if not OPENSEARCH_URL:
        pytest.skip("set OPENSEARCH_URL to run the contract against a real OpenSearch cluster")
    from core.settings import OpenSearchSettings
    from rag.backends.opensearch_store import OpenSearchVectorStore, make_client

    client = make_client(OpenSearchSettings(url=OPENSEARCH_URL, verify_certs=False))
    name = f"ragloop-test-reviewed-{uuid.uuid4().hex[:8]}"
    store = OpenSearchVectorStore(client, index=name, dim=embedder.dim, pipeline=f"{name}-p", refresh=True)
    yield ReviewedAnswers(store, embedder, min_similarity=THRESHOLD)
    client.indices.delete(index=name, ignore_unavailable=True)
    client.transport.perform_request("DELETE", f"/_search/pipeline/{name}-p")
    store.close()


def test_a_paraphrase_finds_the_reviewed_answer_with_its_provenance(index, embedder):
    index.put(KEYS)
    index.put(CHARGE)
    found = index.match(embedder.encode_one("can both locks be keyed alike"))
    assert [m.answer for m in found] == [KEYS]  # provenance survives the round trip through the store
    assert found[0].similarity >= THRESHOLD and is_reviewed(found[0].hit.chunk.source)
    assert found[0].answer.label() == "reviewed answer · approved by rita · 2026-11-24"
    assert source_label(found[0].hit.chunk.source, found[0].hit.chunk.section) == found[0].answer.label()
    assert index.ids() == {"fb-keys", "fb-charge"}


def test_an_unrelated_question_finds_nothing(index, embedder):
    index.put(KEYS)
    assert index.match(embedder.encode_one("What tyre pressure should I use off-road?")) == []
    assert index.match(embedder.encode_one("Which certification does the frame lock have?")) == []


E12 = ReviewedAnswer(
    feedback_id="fb-e12",
    question="What does error code E12 mean?",
    text="The display lost contact with the motor controller; check the connector under the top tube.",
    approved_by="rita",
    approved_at="2026-11-24T10:00:00+00:00",
)
KIDS = ReviewedAnswer(
    feedback_id="fb-kids",
    question="Can a 12-year-old ride the Trail 500?",
    text="No, children under 14 must not ride it [1].",
    approved_by="rita",
    approved_at="2026-11-24T10:00:00+00:00",
)


def test_a_question_about_another_code_does_not_get_its_reviewed_answer(index, embedder):
    """E03 is 0.82 close to E12 in embedding, above the threshold: a swapped code (or number, or name)
    keeps E12's answer away; a paraphrase that keeps the specifics, or only words them otherwise, finds
    its entry."""
    from rag.reviewed import conflicting

    index.put(E12)
    index.put(KIDS)
    e03 = "What does error code E03 mean?"
    assert index.match(embedder.encode_one(e03), e03) == []
    assert conflicting(e03, E12.question) and not conflicting("what is error E12", E12.question)
    kids = "Is the Trail 500 suitable for a 12 year old child?"
    for same, entry in [("what is error E12", E12), (kids, KIDS)]:
        assert [m.answer for m in index.match(embedder.encode_one(same), same)] == [entry]
    index.specifics = "off"  # embeddings alone: E12's answer would go to the model for E03
    assert [m.answer for m in index.match(embedder.encode_one(e03), e03)] == [E12]


def test_an_edit_replaces_and_a_retraction_removes_at_once(index, embedder):
    index.put(KEYS)
    edited = ReviewedAnswer(**{**KEYS.__dict__, "text": "Yes, for 15 euros at a dealer [1]."})
    index.put(edited)
    vector = embedder.encode_one(KEYS.question)
    assert [m.answer.text for m in index.match(vector)] == [edited.text]
    assert index.retract("fb-keys") and index.match(vector) == [] and index.ids() == set()
    assert not index.retract("fb-keys")


def test_an_empty_index_costs_no_search(index, embedder):
    assert index.count() == 0 and index.match(embedder.encode_one(KEYS.question)) == []


def test_the_reviewed_index_is_its_own_namespace_on_both_backends(tmp_path):
    from core.settings import Settings
    from rag.backends import get_vector_store

    settings = Settings(data_dir=tmp_path, vector_store={"kind": "opensearch"})
    assert (
        get_vector_store(settings, 8, namespace="reviewed-answers").index == "ragloop-chunks-reviewed-answers"
    )
    assert get_vector_store(settings, 8).index == "ragloop-chunks"
    embedded = get_vector_store(Settings(data_dir=tmp_path), 8, namespace="reviewed-answers")
    assert embedded.path.name == "reviewed-answers.sqlite3"
    embedded.close()


@pytest.mark.slow
def test_the_chain_puts_a_close_reviewed_answer_first_labelled_and_traced(
    tmp_path, embedder, chunker, vllm_server
):
    from rag.backends.openai_llm import OpenAICompatibleLLM
    from rag.chain import ChainConfig, RagChain
    from rag.ingest import Ingestor
    from tests.conftest import DEMO_CORPUS

    store = EmbeddedVectorStore(tmp_path / "chunks.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    reviewed = ReviewedAnswers(
        EmbeddedVectorStore(tmp_path / "reviewed-answers.sqlite3", dim=embedder.dim),
        embedder,
        min_similarity=THRESHOLD,
    )
    reviewed.put(CHARGE)
    llm = OpenAICompatibleLLM(vllm_server.base_url, max_tokens=8)
    chain = RagChain(store, embedder, llm, ChainConfig(max_tokens=8, top_k=2), reviewed=reviewed)

    answer = chain.answer("how many hours to fully charge using the standard charger")
    first = answer.citations[0]
    assert first.source == "reviewed-answer/fb-charge" and first.snippet == CHARGE.text
    assert source_label(first.source, first.section) == "reviewed answer · approved by sam · 2026-11-20"
    assert len(answer.citations) == 3  # the reviewed answer, then the top 2 document chunks
    assert answer.trace.reviewed_answers == ["fb-charge"]
    assert answer.trace.prompt.startswith(
        '<source id="1" file="reviewed answer, approved by an expert">\nQuestion: ' + CHARGE.question
    )

    unrelated = chain.answer("What does error code E07 mean?")
    assert unrelated.trace.reviewed_answers == [] and not any(
        is_reviewed(c.source) for c in unrelated.citations
    )

    reviewed.retract("fb-charge")
    again = chain.answer("how many hours to fully charge using the standard charger")
    assert again.trace.reviewed_answers == [] and len(again.citations) == 2


def test_the_same_question_again_gets_the_approved_text_itself_without_the_model(
    tmp_path, embedder, indexed_store
):
    """At or above ``direct_similarity`` the reviewer's words are the answer, citing the reviewed answer;
    the model (here unreachable) is not asked. A paraphrase below it still goes to the model."""
    from rag.chain import ChainConfig, RagChain
    from rag.errors import BackendUnavailable
    from tests.rag.conftest import unreachable_llm

    reviewed = ReviewedAnswers(
        EmbeddedVectorStore(tmp_path / "reviewed-answers.sqlite3", dim=embedder.dim),
        embedder,
        min_similarity=THRESHOLD,
        direct_similarity=0.90,  # the configured default
    )
    reviewed.put(KEYS)
    chain = RagChain(indexed_store, embedder, unreachable_llm(), ChainConfig(top_k=2), reviewed=reviewed)

    answer = chain.answer("Can the frame lock and the battery lock use the same key?")
    assert answer.text == "Yes. A dealer can key the frame lock and the battery lock alike for 15 euros [1]."
    assert [c.source for c in answer.cited] == ["reviewed-answer/fb-keys"]
    assert source_label(answer.cited[0].source, answer.cited[0].section).startswith(
        "reviewed answer · approved by rita"
    )
    assert answer.trace.reviewed_direct and answer.trace.reviewed_answers == ["fb-keys"]
    assert answer.trace.prompt.startswith('<source id="1" file="reviewed answer')  # what it would have got

    with pytest.raises(BackendUnavailable):  # close enough to be a source, not to be the answer itself
        chain.answer("can both locks be keyed alike")

    reviewed.retract("fb-keys")  # this corpus lacks the accessories page: the documents don't say
    again = chain.answer("Can the frame lock and the battery lock use the same key?")
    assert not again.trace.reviewed_direct and again.trace.reviewed_answers == [] and again.trace.silent
    reviewed.close()


def test_the_chain_gives_no_reviewed_answer_of_another_code(tmp_path, embedder, indexed_store):
    """The chain asks the index with the question's words: E12's approved text is neither the answer nor
    a source for E03 (the model, here unreachable, is asked instead), and still E12's own answer."""
    from rag.chain import ChainConfig, RagChain
    from rag.errors import BackendUnavailable
    from tests.rag.conftest import unreachable_llm

    reviewed = ReviewedAnswers(
        EmbeddedVectorStore(tmp_path / "reviewed-answers.sqlite3", dim=embedder.dim),
        embedder,
        min_similarity=THRESHOLD,
        direct_similarity=0.80,  # low enough that E03 (0.82) would get E12's text word for word
    )
    reviewed.put(E12)
    chain = RagChain(indexed_store, embedder, unreachable_llm(), ChainConfig(top_k=2), reviewed=reviewed)
    assert chain.reviewed_for("What does error code E03 mean?") == []
    with pytest.raises(BackendUnavailable):
        chain.answer("What does error code E03 mean?")
    assert chain.answer("What does error code E12 mean?").text.startswith(E12.text.rstrip("."))
    reviewed.close()

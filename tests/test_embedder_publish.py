"""Retrieval that learns: pairs from users' ratings, and publishing a fine-tuned embedder with a
re-index (real packaged MiniLM, real embedded store, demo corpus)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings, default_embedding_model
from drafting.drafts import all_chunks
from feedback.schema import FeedbackRecord
from rag.chain import RagChain
from rag.errors import IndexVersionMismatch
from rag.service import build_embedder, build_ingestor, build_store
from ragloop.embedder import feedback_pairs, next_output, publish
from tests.conftest import DEMO_CORPUS


def record(rating: int | None, answer: str, chunk_id: str) -> FeedbackRecord:
    citation = {"number": 1, "source": "voltbike-manual.pdf", "page": 2, "chunk_id": chunk_id, "score": 1.0}
    return FeedbackRecord(
        session_id="s", turn=0, question="How long does charging take?", answer=answer, model="base",
        citations=[citation], rating=rating,
    )  # fmt: skip


def test_well_rated_answers_pair_their_question_with_the_chunks_they_cite(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    build_ingestor(settings).ingest([DEMO_CORPUS], progress=False)
    embedder = build_embedder(settings)
    store = build_store(settings, embedder)
    chunk = all_chunks(store, embedder.dim)[0].chunk
    records = [
        record(5, "About 5 hours [1].", chunk.chunk_id),
        record(3, "About 5 hours [1].", chunk.chunk_id),  # not rated well
        record(4, "About 5 hours.", chunk.chunk_id),  # cites nothing
        record(4, "About 5 hours [1].", "gone"),  # its chunk is no longer indexed
        record(None, "About 5 hours [1].", chunk.chunk_id),
    ]
    pair = {"question": "How long does charging take?", "passage": chunk.text, "source": "feedback"}
    assert feedback_pairs(records, store, embedder.dim) == [{**pair, "chunk_id": chunk.chunk_id}]
    store.close()


def test_publishing_an_embedder_reindexes_and_makes_it_the_default(tmp_path):
    from sentence_transformers import SentenceTransformer

    settings = Settings(data_dir=tmp_path / "data")
    build_ingestor(settings).ingest([DEMO_CORPUS], progress=False)
    out = next_output(settings)
    assert out.name == "embedder-v1"
    SentenceTransformer(default_embedding_model(), device="cpu").save(str(out))  # stands in for a trained one
    old = build_embedder(settings)
    report = publish(settings, out)
    assert report.reindexed and "0 failed" in report.summary()
    assert next_output(settings).name == "embedder-v2"
    live = build_embedder(settings)
    assert live.model_id == "embedder-v1" and Path(live.model_name) == out
    store = build_store(settings, live)
    assert store.index_version()["embedding_model"] == "embedder-v1" and store.count() > 0
    # a process still holding the stock model refuses to mix models; an explicit setting wins
    with pytest.raises(IndexVersionMismatch, match="embedder-v1"):
        RagChain(store, old, None, None).retrieve("How long does charging take?")  # type: ignore[arg-type]
    explicit = Settings(data_dir=tmp_path / "data", embedding={"model": default_embedding_model()})
    assert build_embedder(explicit).model_id == old.model_id
    store.close()


def test_a_running_chain_switches_to_the_published_embedder_and_reviewed_answers_follow(tmp_path):
    """The app's chain was built before the publish: at its next check it embeds questions with the
    model that re-embedded the index, instead of searching new vectors with the old model's questions;
    the reviewed answers were re-embedded too and are still found. An explicit model refuses instead."""
    from sentence_transformers import SentenceTransformer

    from rag.reviewed import ReviewedAnswer
    from rag.service import build_chain, build_reviewed

    settings = Settings(data_dir=tmp_path / "data")
    build_ingestor(settings).ingest([DEMO_CORPUS], progress=False)
    question = "How long does a full charge take?"
    reviewed = build_reviewed(settings, build_embedder(settings))
    reviewed.put(ReviewedAnswer("fb-1", question, "About 5 hours.", "rita", "2026-11-26T05:00:00+00:00"))
    reviewed.close()
    chain = build_chain(settings, llm=None)  # type: ignore[arg-type]
    chain.recheck_s = 0.0  # check the index's model at every question (the app: every 30 s)
    before = [h.chunk.chunk_id for h in chain.retrieve(question)]
    assert chain.embedder.model_id == Path(default_embedding_model()).name

    out = next_output(settings)
    SentenceTransformer(default_embedding_model(), device="cpu").save(str(out))  # stands in for a trained one
    publish(settings, out)

    after = [h.chunk.chunk_id for h in chain.retrieve(question)]
    assert chain.embedder.model_id == "embedder-v1" and chain.reviewed.embedder is chain.embedder
    assert after == before  # the same weights under a new name: the same chunks, found again
    matches = chain.reviewed.match(chain.embedder.encode_query_one("How long does a full charge take?"))
    assert [m.answer.feedback_id for m in matches] == ["fb-1"]

    explicit = Settings(data_dir=tmp_path / "data", embedding={"model": default_embedding_model()})
    pinned = build_chain(explicit, llm=None)  # type: ignore[arg-type]
    with pytest.raises(IndexVersionMismatch, match="embedder-v1"):
        pinned.retrieve(question)

"""The loop's reviewed-answers stage asks again only the held-out questions a reviewed answer comes near:
``RagChain.reviewed_for`` says which (no match means the very prompt the base was given), and
``evaluate(reuse=...)`` takes the earlier row for the others (real embedding model, embedded stores,
demo corpus; a scripted model that counts its calls)."""

from __future__ import annotations

from collections.abc import Iterator

from eval.run import evaluate, read_set
from rag.backends.embedded_store import EmbeddedVectorStore
from rag.chain import ChainConfig, RagChain
from rag.ingest import Ingestor
from rag.reviewed import ReviewedAnswers
from tests.conftest import DEMO_CORPUS, REPO
from tests.rag.test_reviewed import CHARGE, THRESHOLD


class CountingModel:
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def model_id(self, adapter: str | None = None) -> str:
        return "base"

    def stream_chat(self, messages, **kwargs) -> Iterator[str]:
        self.prompts.append(messages[-1].content)
        yield "About 5 hours with the supplied charger [1]."


def test_evaluate_takes_a_reused_row_as_it_is_and_asks_only_the_others(tmp_path, embedder, chunker):
    store = EmbeddedVectorStore(tmp_path / "s.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    picked = [i for i in read_set(REPO / "eval/sets/demo.jsonl") if i["id"] in ("demo-009", "demo-040")]
    model = CountingModel()
    earlier = evaluate(RagChain(store, embedder, model, ChainConfig()), picked, safety=None)
    assert len(model.prompts) == 2
    kept = {r["id"]: r for r in earlier["items"] if r["id"] == "demo-009"}

    again = evaluate(
        RagChain(store, embedder, model, ChainConfig()),
        picked,
        safety=None,
        reuse=lambda i: kept.get(i["id"]),
    )
    assert len(model.prompts) == 3  # only demo-040 was asked again
    assert again["items"][0] == {**kept["demo-009"], "reused": True}
    assert "reused" not in again["items"][1] and again["n"] == 2
    store.close()


def test_a_question_no_reviewed_answer_comes_near_gets_the_prompt_it_got_without_them(
    tmp_path, embedder, chunker
):
    store = EmbeddedVectorStore(tmp_path / "chunks.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    index = ReviewedAnswers(
        EmbeddedVectorStore(tmp_path / "reviewed.sqlite3", dim=embedder.dim),
        embedder,
        min_similarity=THRESHOLD,
    )
    index.put(CHARGE)
    model = CountingModel()
    plain = RagChain(store, embedder, model, ChainConfig(top_k=2))
    with_reviewed = RagChain(store, embedder, model, ChainConfig(top_k=2), reviewed=index)

    unrelated = "What does error code E07 mean?"
    assert with_reviewed.reviewed_for(unrelated) == [] and plain.reviewed_for(unrelated) == []
    assert with_reviewed.answer(unrelated).trace.prompt == plain.answer(unrelated).trace.prompt

    close = "how many hours to fully charge using the standard charger"
    assert [m.answer.feedback_id for m in with_reviewed.reviewed_for(close)] == ["fb-charge"]
    assert plain.reviewed_for(close) == []
    store.close()

"""The eval report counts designed "the documents don't say" answers: correct ones on unanswerable items,
false ones on answerable items (real embedding model, embedded store, demo corpus; a scripted model)."""

from __future__ import annotations

from collections.abc import Iterator

from eval.report import summary_row
from eval.run import evaluate, read_set
from rag.backends.embedded_store import EmbeddedVectorStore
from rag.chain import ChainConfig, RagChain
from rag.ingest import Ingestor
from tests.conftest import DEMO_CORPUS, REPO


class AlwaysAnswers:
    def model_id(self, adapter: str | None = None) -> str:
        return "base"

    def stream_chat(self, messages, **kwargs) -> Iterator[str]:
        yield "About 5 hours with the supplied charger [1]."


class AlwaysRefuses(AlwaysAnswers):
    def stream_chat(self, messages, **kwargs) -> Iterator[str]:
        yield "I cannot find that in the documents."


def test_retrieval_is_measured_when_the_model_says_the_documents_are_silent(tmp_path, embedder, chunker):
    """A "not found" answer shows no sources; its retrieval still counts (else an adapter that refuses
    less would seem to retrieve better)."""
    store = EmbeddedVectorStore(tmp_path / "s.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    picked = [i for i in read_set(REPO / "eval/sets/demo.jsonl") if i["id"] in ("demo-009", "demo-040")]
    answered = evaluate(RagChain(store, embedder, AlwaysAnswers(), ChainConfig()), picked, safety=None)
    refused = evaluate(RagChain(store, embedder, AlwaysRefuses(), ChainConfig()), picked, safety=None)
    assert refused["refusals"]["false"] == 2  # both answers were the designed "not found"
    assert refused["retrieval"] == answered["retrieval"] and answered["retrieval"]["mrr"] > 0
    store.close()


def test_the_report_counts_correct_and_false_refusals(tmp_path, embedder, chunker):
    store = EmbeddedVectorStore(tmp_path / "s.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    items = read_set(REPO / "eval/sets/demo.jsonl", unanswerable=True)
    assert not any(i.get("answerable") is False for i in read_set(REPO / "eval/sets/demo.jsonl"))
    rain = next(i for i in items if i["question"].startswith("Can I ride the bike in heavy rain"))
    picked = [i for i in items if i["id"] in ("demo-009", "demo-040")] + [rain]
    chain = RagChain(store, embedder, AlwaysAnswers(), ChainConfig())
    result = evaluate(chain, picked, safety=None)
    assert result["n"] == 2 and [r["id"] for r in result["items"]] == ["demo-009", "demo-040"]
    assert result["refusals"] == {"unanswerable": 1, "correct": 1, "answerable": 2, "false": 0}
    assert result["unanswerable_items"][0]["silent"] == "no-evidence"
    row = summary_row(result)
    assert row["correct_refusals"] == 1.0 and row["false_refusals"] == 0.0 and row["heading_only"] == 0.0
    store.close()


def test_a_limited_run_keeps_the_sets_unanswerable_questions_in_proportion():
    """``eval run --limit N``: unanswerable questions come last in a set, so a plain slice would drop
    them all and the refusal columns with them."""
    from eval.run import answerable, first

    items = read_set(REPO / "eval/sets/demo.jsonl", unanswerable=True)  # 54 answerable, 14 not
    picked = first(items, 10)
    assert sum(map(answerable, picked)) == 10 and sum(not answerable(i) for i in picked) == 3
    assert first(items, None) == items
    assert len(first(read_set(REPO / "eval/sets/demo.jsonl"), 10)) == 10  # none to keep

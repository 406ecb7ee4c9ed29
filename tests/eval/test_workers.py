"""``evaluate(workers=N)`` asks N questions of the model at once (vLLM batches them) and still scores and
reports every item in the set's order, as one at a time does (real embedding model, embedded store,
demo corpus; a scripted model that answers with its question and waits until two calls are in flight)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from eval.run import evaluate, read_set
from rag.backends.embedded_store import EmbeddedVectorStore
from rag.chain import ChainConfig, RagChain
from rag.ingest import Ingestor
from tests.conftest import DEMO_CORPUS, REPO


class PairedModel:
    """Each call waits (up to 10 s) for a second call to be running with it, then answers."""

    def __init__(self, together: int) -> None:
        self.together = threading.Barrier(together, timeout=10) if together > 1 else None

    def model_id(self, adapter: str | None = None) -> str:
        return "base"

    def stream_chat(self, messages, **kwargs) -> Iterator[str]:
        if self.together is not None:
            self.together.wait()
        question = messages[-1].content.rsplit("\n", 1)[-1]
        yield f"The answer to: {question} [1]"


def test_workers_ask_at_once_and_keep_the_rows_of_one_at_a_time(tmp_path, embedder, chunker):
    store = EmbeddedVectorStore(tmp_path / "s.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    items = read_set(REPO / "eval/sets/demo.jsonl")[:4]

    alone = evaluate(RagChain(store, embedder, PairedModel(1), ChainConfig()), items, safety=None)
    paired = evaluate(RagChain(store, embedder, PairedModel(2), ChainConfig()), items, safety=None, workers=2)

    assert [r["id"] for r in paired["items"]] == [i["id"] for i in items]
    keys = ("answer", "similarity", "grounding", "recall_at_k")
    assert [[r[k] for k in keys] for r in paired["items"]] == [[r[k] for k in keys] for r in alone["items"]]
    assert paired["latency_ms"]["workers"] == 2
    store.close()

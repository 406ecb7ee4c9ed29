"""Shared by the RAG tests: the demo corpus indexed once per module (packaged MiniLM, embedded store),
and an LLM client pointed at a port nobody listens on (asking it raises BackendUnavailable)."""

from __future__ import annotations

import pytest

from rag.backends.embedded_store import EmbeddedVectorStore
from rag.backends.openai_llm import OpenAICompatibleLLM
from rag.ingest import Ingestor
from ragloop.serve import free_port


@pytest.fixture(scope="module")
def indexed_store(tmp_path_factory, embedder, chunker):
    from tests.conftest import DEMO_CORPUS

    store = EmbeddedVectorStore(tmp_path_factory.mktemp("idx") / "s.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    yield store
    store.close()


def unreachable_llm() -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(f"http://127.0.0.1:{free_port()}/v1", model="base", timeout_s=5)

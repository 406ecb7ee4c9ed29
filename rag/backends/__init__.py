"""Backends registered by name; settings pick one. Callers import the protocols, not these modules."""

from __future__ import annotations

from collections.abc import Callable

from rag.protocols import LLM, VectorStore


def _embedded_store(settings, dim: int, namespace: str = "chunks") -> VectorStore:
    from rag.backends.dense_index import AnnParams
    from rag.backends.embedded_store import EmbeddedVectorStore

    cfg = settings.vector_store.embedded
    ann = AnnParams(
        kind=cfg.ann,
        threshold=cfg.ann_threshold,
        m=cfg.hnsw_m,
        ef_construction=cfg.hnsw_ef_construction,
        ef_search=cfg.hnsw_ef_search,
    )
    return EmbeddedVectorStore(
        settings.index_dir / f"{namespace}.sqlite3",
        dim=dim,
        hybrid_weight=settings.retrieval.hybrid_weight,
        ann=ann,
    )


def _opensearch_store(settings, dim: int, namespace: str = "chunks") -> VectorStore:
    from rag.backends.opensearch_store import OpenSearchVectorStore

    index = settings.vector_store.opensearch.index
    return OpenSearchVectorStore.from_settings(
        settings, dim, index=index if namespace == "chunks" else f"{index}-{namespace}"
    )


def _openai_llm(settings) -> LLM:
    from rag.backends.openai_llm import OpenAICompatibleLLM

    return OpenAICompatibleLLM.from_settings(settings)


VECTOR_STORES: dict[str, Callable[..., VectorStore]] = {
    "embedded": _embedded_store,
    "opensearch": _opensearch_store,
}
LLMS: dict[str, Callable[..., LLM]] = {"openai": _openai_llm}


def get_vector_store(settings, dim: int, namespace: str = "chunks") -> VectorStore:
    """The configured store of ``namespace``: the documents' chunks, or another index beside them (e.g.
    ``reviewed-answers``: a second embedded store file, or a second OpenSearch index)."""
    return VECTOR_STORES[settings.vector_store.kind](settings, dim, namespace)


def get_llm(settings) -> LLM:
    return LLMS["openai"](settings)

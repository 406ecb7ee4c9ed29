"""Wire the RAG stage from settings: one place that turns configuration into a chain or an ingestor.

The CLI and the app call these; tests build the parts directly.
"""

from __future__ import annotations

from core.settings import Settings
from rag.backends import get_llm, get_vector_store
from rag.chain import ChainConfig, RagChain
from rag.chunking import make_chunker
from rag.embeddings import Embedder, get_embedder, live_embedder
from rag.ingest import Ingestor
from rag.protocols import LLM, VectorStore
from rag.rerank import QueryLikelihoodReranker
from rag.reviewed import ReviewedAnswers


def build_embedder(settings: Settings) -> Embedder:
    """The configured embedder; a published fine-tuned one (``ragloop train embedder --publish``) when
    ``embedding.model`` is not set explicitly."""
    cfg = settings.embedding
    models = settings.data_dir / "models"
    model = cfg.model
    if "model" not in cfg.model_fields_set and cfg.backend == "torch" and (live := live_embedder(models)):
        model = str(live)
    return get_embedder(model, cfg.device, cfg.batch_size, cfg.backend, models)


def build_store(settings: Settings, embedder: Embedder) -> VectorStore:
    return get_vector_store(settings, embedder.dim)


def build_ingestor(settings: Settings) -> Ingestor:
    embedder = build_embedder(settings)
    return Ingestor(build_store(settings, embedder), embedder, build_chunker(settings, embedder))


def build_chunker(settings: Settings, embedder: Embedder):
    cfg = settings.chunking
    return make_chunker(cfg.strategy, embedder.tokenizer, cfg.chunk_tokens, cfg.overlap_tokens)


def chain_config(settings: Settings) -> ChainConfig:
    return ChainConfig(
        top_k=settings.retrieval.top_k,
        max_tokens=settings.llm.max_tokens,
        temperature=settings.llm.temperature,
        context_window=settings.llm.context_window,
        max_question_chars=settings.retrieval.max_question_chars,
    )


def build_reviewed(settings: Settings, embedder: Embedder) -> ReviewedAnswers:
    """The reviewed-answers index beside the documents' (same backend, its own namespace)."""
    cfg = settings.reviewed
    store = get_vector_store(settings, embedder.dim, namespace="reviewed-answers")
    return ReviewedAnswers(
        store,
        embedder,
        min_similarity=cfg.min_similarity,
        k=cfg.k,
        direct_similarity=cfg.direct_similarity,
        specifics=cfg.specifics,
    )


def build_chain(
    settings: Settings, llm: LLM | None = None, *, reviewed: ReviewedAnswers | None = None
) -> RagChain:
    """The chain; with ``reviewed.enabled`` it uses the reviewed-answers index (``reviewed``, or the
    configured one)."""
    embedder = build_embedder(settings)
    if reviewed is None and settings.reviewed.enabled:
        reviewed = build_reviewed(settings, embedder)
    llm = llm or get_llm(settings)
    return RagChain(
        build_store(settings, embedder),
        embedder,
        llm,
        chain_config(settings),
        reviewed=reviewed if settings.reviewed.enabled else None,
        embedder_for=lambda model_id: published_embedder(settings, model_id),
        reranker=build_reranker(settings, llm),
    )


def build_reranker(settings: Settings, llm: LLM) -> QueryLikelihoodReranker | None:
    """The configured second retrieval pass (``retrieval.rerank``); the served model scores it."""
    cfg = settings.retrieval
    if cfg.rerank == "none":
        return None
    if not hasattr(llm, "continuation_logprobs"):
        raise ValueError(
            f"retrieval.rerank = {cfg.rerank!r} needs a model server that returns prompt log-probabilities "
            "(an OpenAI-compatible completions endpoint such as vLLM's)"
        )
    return QueryLikelihoodReranker(llm, depth=cfg.rerank_depth, weight=cfg.rerank_weight)


def published_embedder(settings: Settings, model_id: str) -> Embedder | None:
    """The published fine-tuned embedder when it is ``model_id`` (the model that re-embedded the index
    under a running chain), else None; never when ``embedding.model`` is set explicitly."""
    if "model" in settings.embedding.model_fields_set:
        return None
    live = live_embedder(settings.data_dir / "models")
    if live is None or live.name != model_id:
        return None
    return build_embedder(settings)

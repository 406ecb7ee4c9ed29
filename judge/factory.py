"""The one place a judge is built from settings (``settings.judge``), with per-call overrides from the CLI.

Backends: ``overlap`` (reference overlap on the retrieval embedder; no model, works offline),
``served`` (the served LLM's digit log-probabilities), ``openai`` (a chat judge on any OpenAI-compatible
endpoint), ``bedrock`` (Amazon Bedrock). The fact checks sit on top of each unless
``judge.fact_checks`` is off. Every judge is cached in ``<data_dir>/judge-cache.sqlite3``.
"""

from __future__ import annotations

from typing import Any

from core.errors import RagloopError
from core.settings import Settings
from judge.core import Judge, JudgeCache


def build_judge(
    settings: Settings,
    *,
    backend: str | None = None,
    url: str | None = None,
    model: str | None = None,
    bedrock_model: str | None = None,
    embedder: Any = None,
) -> Judge:
    """The configured judge. An explicit ``bedrock_model`` or ``url`` picks that backend (CLI options);
    ``embedder`` is reused by the overlap backend (else the configured retrieval embedder is built)."""
    cfg = settings.judge
    if backend is None:
        backend = "bedrock" if bedrock_model else "openai" if url else cfg.backend
    bedrock_model = bedrock_model or cfg.bedrock_model
    api_key = settings.llm.api_key.get_secret_value()
    if backend == "bedrock":
        from judge.clients import BedrockJudge

        if not bedrock_model:
            raise RagloopError("judge backend 'bedrock' needs judge.bedrock_model")
        engine: Any = BedrockJudge(bedrock_model)
    elif backend == "openai":
        from judge.clients import OpenAIJudge

        if not (url or cfg.url):
            raise RagloopError("judge backend 'openai' needs judge.url")
        engine = OpenAIJudge(url or cfg.url, model or cfg.model, api_key)
    elif backend == "served":
        from judge.clients import LogprobJudge

        engine = LogprobJudge(url or cfg.url or settings.llm.base_url, model or cfg.model, api_key)
    else:
        from judge.overlap import ReferenceOverlapJudge

        if embedder is None:
            from rag.service import build_embedder

            embedder = build_embedder(settings)
        engine = ReferenceOverlapJudge(embedder.encode)
    return Judge(engine, JudgeCache(settings.judge_cache), fact_checks=cfg.fact_checks)

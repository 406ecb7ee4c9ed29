"""Retrieval that learns the user's corpus: (question, passage) pairs from the corpus and from users,
a fine-tuned embedding model (``training.embedder``), and publishing it with a re-index.

- synthetic pairs: the served model drafts a question per chunk (``drafting.drafts``, the same
  drafting as the loop's synthetic SFT rows); the pair is (question, that chunk's text). Drafts come
  from chunks only, never from eval questions;
- feedback pairs: every answer users rated >= 4, paired with the chunks its text cites.

Publishing writes the model's folder name to ``models/embedders/LIVE`` and re-indexes every indexed file
with it; ``rag.service.build_embedder`` then uses it unless ``embedding.model`` is set explicitly. The
index records which model embedded it, so a process still holding the old model refuses to answer with
a clear message until it restarts, instead of mixing two models' vectors.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.settings import Settings
from drafting.drafts import all_chunks, drafts
from feedback.schema import FeedbackRecord
from rag.embeddings import EMBEDDERS, LIVE
from rag.protocols import LLM, VectorStore
from training.data import GOOD_RATING

log = logging.getLogger(__name__)


def synthetic_pairs(
    store: VectorStore,
    dim: int,
    llm: LLM,
    chunks: int,
    *,
    workers: int = 4,
    seed: int = 0,
    style: str = "free",
) -> list[dict[str, Any]]:
    """A drafted question for each of up to ``chunks`` sampled chunks, paired with the chunk's text
    (``style``: how it is drafted, ``drafting.drafts``; extractive skips chunks without a prose
    sentence)."""
    pairs = []
    for draft in drafts(
        store, dim, llm, chunks, seed=seed, workers=workers, max_tokens=96, desc="questions", style=style
    ):
        if draft.qa is not None:
            chunk = draft.hit.chunk
            row = {"question": draft.qa[0], "passage": chunk.text, "source": "synthetic"}
            pairs.append({**row, "chunk_id": chunk.chunk_id})
    return pairs


def feedback_pairs(records: list[FeedbackRecord], store: VectorStore, dim: int) -> list[dict[str, Any]]:
    """(question, cited chunk) for answers rated >= 4 whose cited chunks are still indexed."""
    texts = {h.chunk.chunk_id: h.chunk.text for h in all_chunks(store, dim)}
    pairs = []
    for record in records:
        if record.rating is None or record.rating < GOOD_RATING:
            continue
        for citation in record.citations:
            cited = f"[{citation.get('number')}]" in record.answer
            if cited and citation.get("chunk_id") in texts:
                pairs.append(
                    {
                        "question": record.question,
                        "passage": texts[citation["chunk_id"]],
                        "source": "feedback",
                        "chunk_id": citation["chunk_id"],
                    }
                )
    return pairs


def embedders_dir(settings: Settings) -> Path:
    return settings.data_dir / "models" / EMBEDDERS


def next_output(settings: Settings, name: str = "embedder") -> Path:
    """``models/embedders/<name>-v<N>``, the next unused version."""
    root = embedders_dir(settings)
    taken = {p.name for p in root.iterdir()} if root.is_dir() else set()
    n = 1
    while f"{name}-v{n}" in taken:
        n += 1
    return root / f"{name}-v{n}"


def reembed_reviewed(settings: Settings, embedder) -> int:
    """Every reviewed answer's question embedded again with ``embedder`` (the reviewed-answers index
    finds its candidates by those vectors); the number of entries."""
    from rag.reviewed import ReviewedAnswer
    from rag.service import build_reviewed

    index = build_reviewed(settings, embedder)
    entries = [ReviewedAnswer.from_chunk(h.chunk) for h in all_chunks(index.store, embedder.dim)]
    entries = [e for e in entries if e is not None]
    for entry in entries:
        index.put(entry)
    index.close()
    return len(entries)


def publish(settings: Settings, model_dir: Path):
    """Make ``model_dir`` the live embedder and re-index every indexed file — and re-embed every reviewed
    answer's question — with it (one commit point: the pointer is written after both succeeded). A
    running chain switches to it at its next embedding-model check (``RagChain.recheck_s``)."""
    from rag.service import build_ingestor

    chosen = settings.embedding.model_copy(update={"model": str(model_dir)})  # explicit: not the LIVE one
    ingestor = build_ingestor(settings.model_copy(update={"embedding": chosen}))
    files = [Path(source) for source in ingestor.store.sources()]
    report = ingestor.ingest(files, reindex=True)
    if settings.reviewed.enabled:
        reembed_reviewed(settings, ingestor.embedder)
    pointer = embedders_dir(settings) / LIVE
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(Path(model_dir).name + "\n")
    ingestor.store.close()
    return report

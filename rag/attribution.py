"""Citations the model left out, added from the evidence: each answer sentence without a ``[n]`` is
matched to the retrieved source it is closest to (embedding cosine); sources at or above a threshold
are cited at the end of the answer. A small model answers better when it is not also asked to place
citations (measured on the demo set), so the chain asks lightly and attributes what is missing; an
answer that matches no source ("I cannot find it in the documents") gets no citation.
"""

from __future__ import annotations

import re

import numpy as np

from rag.embeddings import Embedder

CITATION = re.compile(r"\[(\d+)\]")
SENTENCE = re.compile(r"(?<=[.!?])\s+")
MIN_COSINE = 0.4  # a sentence must be this close to a source to be attributed to it


def missing_citations(answer: str, source_vectors: np.ndarray, embedder: Embedder) -> list[int]:
    """Source numbers (1-based, ascending) that support the answer's uncited sentences and are not
    cited yet. ``source_vectors`` are the sources' normalised embeddings, in prompt order (the chain
    computes them while the model is still answering)."""
    uncited = [s for s in SENTENCE.split(answer.strip()) if s.strip() and not CITATION.search(s)]
    if not uncited or len(source_vectors) == 0:
        return []
    sims = np.asarray(embedder.encode(uncited)) @ np.asarray(source_vectors).T
    already = {int(n) for n in CITATION.findall(answer)}
    best = {int(i) + 1 for i, row in zip(sims.argmax(axis=1), sims, strict=True) if row.max() >= MIN_COSINE}
    return sorted(best - already)

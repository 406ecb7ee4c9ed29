"""Re-ranking the retrieved chunks by the served model's query likelihood — the retrieval stage's
optional second pass (``retrieval.rerank = "query-likelihood"``).

No cross-encoder ships inside a package this project can install, but the served chat model can rank:
UPR (Sachan et al. 2022, "Improving Passage Retrieval with Zero-Shot Question Generation") scores a
passage by how likely the model finds the *question* after it — the mean log-probability of the
question's tokens under "Passage: … Please write a question based on this passage. Question: …". A
passage that answers the question makes the question likely; one that only shares its words does not.

The hybrid search gives ``depth`` candidates; each candidate's hybrid score and its question likelihood
are standardised over the candidates and blended (``weight``: 0 keeps the hybrid order, 1 ranks by
likelihood alone), and the top ``k`` are returned. One request scores every candidate (the server
batches them); it costs the prefill of ``depth`` passages — 6 s for 10 on 2 CPU cores (measured),
expected tens of milliseconds on a GPU (not measured). When the server cannot score, the hybrid order
stands (logged), so an answer never fails for it.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.errors import BackendUnavailable
from rag.protocols import SearchHit

log = logging.getLogger(__name__)

PASSAGE_PROMPT = "Passage: {passage}\nPlease write a question based on this passage.\nQuestion:"


class LikelihoodScorer(Protocol):
    """A model that reads a continuation after each of several prefixes (``OpenAICompatibleLLM``)."""

    def continuation_logprobs(self, prefixes: Sequence[str], continuation: str) -> list[float]:
        """The mean log-probability of ``continuation``'s tokens after each prefix."""
        ...


def standardised(values: Sequence[float]) -> list[float]:
    """Each value as standard deviations from the mean (all 0.0 when they are equal)."""
    mean = statistics.fmean(values)
    spread = statistics.pstdev(values)
    return [(v - mean) / spread if spread > 0 else 0.0 for v in values]


def blended_order(hybrid: Sequence[float], likelihood: Sequence[float], weight: float) -> list[int]:
    """Candidate indices, best first, by ``(1 - weight) * z(hybrid) + weight * z(likelihood)``; ties keep
    the hybrid order."""
    scores = [
        (1 - weight) * h + weight * q
        for h, q in zip(standardised(hybrid), standardised(likelihood), strict=True)
    ]
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


@dataclass
class QueryLikelihoodReranker:
    """Re-orders hybrid candidates by blending their scores with the question's likelihood."""

    scorer: LikelihoodScorer
    depth: int = 10  # candidates fetched from the store and scored
    weight: float = 0.25  # share of the question likelihood in the blend

    @property
    def identity(self) -> str:
        """What the answer's trace records of this pass."""
        return f"query-likelihood depth={self.depth} weight={self.weight}"

    def rerank(self, question: str, hits: Sequence[SearchHit], k: int) -> list[SearchHit]:
        """The best ``k`` of ``hits`` (the store's top ``depth``, best first), re-ordered, each hit as the
        store gave it; the first ``k`` when the model cannot score."""
        if len(hits) <= 1:
            return list(hits[:k])
        prefixes = [PASSAGE_PROMPT.format(passage=hit.chunk.text) for hit in hits]
        try:
            likelihood = self.scorer.continuation_logprobs(prefixes, " " + question)
        except BackendUnavailable as err:
            log.warning("re-ranking skipped, the hybrid order stands: %s", err)
            return list(hits[:k])
        order = blended_order([h.score for h in hits], likelihood, self.weight)
        return [hits[i] for i in order[:k]]

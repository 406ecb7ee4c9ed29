"""Citations the model left out, added from the evidence: each answer sentence without a ``[n]`` is
matched to the retrieved source it is closest to (embedding cosine); sources at or above a threshold
are cited at the end of the answer. A small model answers better when it is not also asked to place
citations (measured on the demo set), so the chain asks lightly and attributes what is missing; an
answer that matches no source ("I cannot find it in the documents") gets no citation.
"""

from __future__ import annotations

import re

import numpy as np

from core.citations import cited_numbers, has_citation
from rag.embeddings import Embedder

SENTENCE = re.compile(r"(?<=[.!?])\s+")
WORD = re.compile(r"\w+")
STOP = frozenset(
    {
        "the",
        "and",
        "for",
        "are",
        "was",
        "were",
        "that",
        "this",
        "with",
        "from",
        "your",
        "you",
        "not",
        "can",
        "cannot",
        "could",
        "find",
        "found",
        "answer",
        "documents",
        "document",
        "sources",
        "source",
        "information",
        "about",
        "there",
        "their",
        "what",
        "which",
        "when",
        "where",
        "how",
        "does",
        "have",
        "has",
        "had",
        "will",
        "would",
        "should",
        "may",
        "might",
        "yes",
        "its",
        "it's",
    }
)
MIN_COSINE = 0.4  # a sentence must be this close to a source to be attributed to it


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry content: numbers, and words of 3+ letters outside a stop list."""
    return {
        w for w in (m.lower() for m in WORD.findall(text)) if w.isdigit() or (len(w) > 2 and w not in STOP)
    }


def citation_suffix(numbers: list[int]) -> str:
    """What the chain appends to an answer for the citations it attributed: " [1][3]" ("" for none)."""
    return " " + "".join(f"[{n}]" for n in numbers) if numbers else ""


def missing_citations(
    answer: str, sources: list[str], source_vectors: np.ndarray, embedder: Embedder, question: str = ""
) -> list[int]:
    """Source numbers (1-based, ascending) that support the answer's uncited sentences and are not
    cited yet. ``source_vectors`` are the sources' normalised embeddings, in prompt order (the chain
    computes them while the model is still answering). A sentence is attributed to the source its
    embedding is closest to (cosine >= MIN_COSINE); a terse one ("The answer is 30 days.") that
    matches no source that way is attributed to the best-ranked source containing every content word
    it adds to the question ("30"). A refusal adds words no source contains, so it cites nothing."""
    uncited = [s for s in SENTENCE.split(answer.strip()) if s.strip() and not has_citation(s)]
    if not uncited or len(source_vectors) == 0:
        return []
    sims = np.asarray(embedder.encode(uncited)) @ np.asarray(source_vectors).T
    source_words = [content_words(text) for text in sources]
    asked = content_words(question)
    best = set()
    for sentence, row in zip(uncited, sims, strict=True):
        i = int(row.argmax())
        if row[i] >= MIN_COSINE:
            best.add(i + 1)
            continue
        added = content_words(sentence) - asked
        supporting = [n for n, words in enumerate(source_words, start=1) if added and added <= words]
        if supporting:
            best.add(supporting[0])
    return sorted(best - set(cited_numbers(answer)))

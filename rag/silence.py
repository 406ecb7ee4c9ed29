"""When the documents are silent: one designed "the documents don't say" answer.

An answer becomes this designed answer in two ways:

- **before generation**, when no sentence of the retrieved sources comes close to the question
  (the best question–sentence cosine is below ``MIN_EVIDENCE_SIMILARITY``). The model is not
  asked, so it cannot invent an answer from loosely related chunks — a small model does (measured on the
  demo sets: the 0.5B default answered 21 of 24 unanswerable questions with made-up facts);
- **after generation**, when the model itself says it cannot find the answer (``is_refusal``), however it
  words it ("Based on the information provided, you cannot find it in the documents.").

Either way the text is ``silent_answer``: clear words, then the closest topics the documents do cover
(the retrieved chunks' sections, or their first line, with file and page), and no citations — nothing
pretends to support a claim the documents do not make.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from rag.protocols import SearchHit

NOT_IN_DOCUMENTS = "Your documents don't say."
TOPICS_INTRO = "The closest topics they do cover:"

# How a model says it found nothing. Kept to phrasings about the documents or about finding, so that an
# answer like "No, the warranty does not cover tyres" is never taken for a refusal.
_REFUSAL = re.compile(
    r"\b(?:can ?not|can't|could not|couldn't|unable to|did not|didn't) (?:find|locate|determine)\b"
    r"|\b(?:documents?|sources?|context|information provided|texts?) (?:do|does|did) not "
    r"(?:say|mention|contain|specify|state|provide|include|cover|answer|address)\b"
    r"|\b(?:documents?|sources?|context|texts?) (?:don't|doesn't|didn't) "
    r"(?:say|mention|contain|specify|state|provide|include|cover|answer|address)\b"
    r"|\bno (?:information|mention|details?) (?:about|on|of|regarding)\b"
    r"|\bnot (?:mentioned|stated|specified|provided|covered|included|given) in the (?:documents?|sources?)\b"
    r"|\bnot in the (?:documents?|sources?|provided)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def is_refusal(text: str) -> bool:
    """Whether the answer says the documents do not hold the answer (in its first two sentences, so a
    long answer that mentions a gap at its end still counts as an answer)."""
    head = " ".join(_SENTENCE.split(text.strip())[:2])
    return bool(_REFUSAL.search(head))


def topic(hit: SearchHit) -> str:
    """A retrieved chunk as a topic: its heading path (or its first line), file and page."""
    chunk = hit.chunk
    title = (chunk.section or "").strip()
    if not title:
        first = next((line.strip() for line in chunk.body.splitlines() if line.strip()), "")
        title = first if len(first) <= 80 else first[:79].rstrip() + "…"
    where = Path(chunk.source).name + (f", page {chunk.page}" if chunk.page else "")
    return f"{title} ({where})" if title else where


def silent_answer(hits: list[SearchHit], *, topics: int = 3) -> str:
    """The designed answer: clear words, then up to ``topics`` distinct closest topics, no citations."""
    seen: list[str] = []
    for hit in hits:
        line = topic(hit)
        if line not in seen:
            seen.append(line)
    if not seen:
        return NOT_IN_DOCUMENTS
    listed = "\n".join(f"- {line}" for line in seen[:topics])
    return f"{NOT_IN_DOCUMENTS} {TOPICS_INTRO}\n{listed}"


def is_silent_answer(text: str) -> bool:
    return text.startswith(NOT_IN_DOCUMENTS)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 3]


# The evidence gate's threshold (all-MiniLM-L6-v2 cosine): the highest with at most 1 % false refusals on
# the tuning set (`demo`: 14 unanswerable and 54 answerable questions, each with two paraphrases);
# `python -m benchmarks.silence` prints the table and the confirmation on `demo-extra`. Set to refuse
# rarely: a false "the documents don't say" hides an answer the user needed. The value is in
# all-MiniLM-L6-v2 cosine units: another embedder (nomic-gguf, a fine-tuned one) needs its own measurement
# (`benchmarks.silence` runs with whatever embedder is configured).
MIN_EVIDENCE_SIMILARITY = 0.38


def best_similarity(question_vector: np.ndarray, sentence_vectors: np.ndarray) -> float:
    """The evidence: the best cosine between the question and one source sentence (-1: no sentence)."""
    if len(sentence_vectors) == 0:
        return -1.0
    return float(np.max(sentence_vectors @ question_vector))

"""Reviewed answers: answers an expert approved, used at answer time — a correction sticks at once, not
after the next adapter is trained ("verified answers" in customer-service assistants).

Each entry is an approved text with its question and provenance (the feedback record it came from, who
approved it and when, the documents it cited). Entries live in their own vector index, keyed by the
*question's* embedding, in whichever vector-store backend the documents use (a second embedded store
file, or a second OpenSearch index): ``ReviewedAnswers`` needs only the ``VectorStore`` protocol.

At answer time ``match`` finds the entries whose question is close enough to the new one (cosine
similarity of the question embeddings at least ``min_similarity``, recomputed here so that the
threshold means the same on every backend) and that names no other specifics (``conflicting``: "What
does error code E03 mean?" is close to "What does error code E12 mean?" in embedding, but E12's answer
is not E03's); the chain puts them before the document chunks as sources labelled "reviewed answer".
A match at least ``direct_similarity`` close is the same question asked again (measured: no unrelated
question of the tuning set comes that close): then the approved text *is*
the answer, given without asking the model, as customer-service "custom answers" do — the reviewer's
words stick exactly, instead of a small model blending them with a document chunk. ``retract`` removes
an entry at once. What is approved, edited, rejected or retracted is decided on the Review page;
``ragloop.reviewed`` keeps this index in step with it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass

import numpy as np

from core.citations import strip_citations
from rag.embeddings import Embedder
from rag.protocols import Chunk, SearchHit, VectorStore

log = logging.getLogger(__name__)

SOURCE_PREFIX = "reviewed-answer/"


@dataclass(frozen=True)
class ReviewedAnswer:
    feedback_id: str  # the feedback record whose approved text this is
    question: str
    text: str
    approved_by: str
    approved_at: str  # ISO 8601
    cites: tuple[str, ...] = ()  # the documents the corrected answer cited ("manual.pdf, page 3")

    def label(self) -> str:
        """How the app names this source: 'reviewed answer · approved by rita · 2026-11-24'."""
        return f"reviewed answer · approved by {self.approved_by or 'a reviewer'} · {self.approved_at[:10]}"

    def to_chunk(self) -> Chunk:
        """The entry as a chunk of the reviewed-answers index; the provenance rides in ``section``."""
        meta = json.dumps({**asdict(self), "cites": list(self.cites)}, ensure_ascii=False, sort_keys=True)
        digest = hashlib.sha256(self.text.encode()).hexdigest()
        return Chunk(
            chunk_id=f"reviewed-{self.feedback_id}",
            text=self.text,
            source=SOURCE_PREFIX + self.feedback_id,
            page=None,
            start=0,
            end=len(self.text),
            content_hash=digest,
            file_hash=hashlib.sha256(meta.encode()).hexdigest(),
            section=meta,
        )

    @classmethod
    def from_section(cls, source: str, section: str) -> ReviewedAnswer | None:
        """The entry a chunk's or citation's source and section stand for; None for a document or
        unreadable provenance."""
        if not is_reviewed(source):
            return None
        try:
            meta = json.loads(section)
            return cls(**{**meta, "cites": tuple(meta.get("cites", ()))})
        except (ValueError, TypeError):
            log.warning("reviewed answer %s has unreadable provenance", source)
            return None

    @classmethod
    def from_chunk(cls, chunk: Chunk) -> ReviewedAnswer | None:
        return cls.from_section(chunk.source, chunk.section)


def is_reviewed(source: str) -> bool:
    """Whether a chunk or citation source is a reviewed answer rather than a document."""
    return source.startswith(SOURCE_PREFIX)


def source_label(source: str, section: str = "") -> str:
    """The label of a reviewed-answer source (from its chunk's or citation's section), else ''."""
    if not is_reviewed(source):
        return ""
    entry = ReviewedAnswer.from_section(source, section)
    return entry.label() if entry else "reviewed answer"


_TOKEN = re.compile(r"`[^`]+`|[\w][\w./:()-]*[\w)]|\w")
_CODE = re.compile(r"\d|_|\w[.:]+\w|\(\)|^`")


def specifics(question: str, *, capitalised: bool = False) -> set[str]:
    """What a question names that a paraphrase keeps and another question changes: tokens with a digit
    (E03, 2.4, HTTP/2), code identifiers (snake_case, dotted and ``::`` paths, calls, backticked spans),
    words with a capital after their first letter (RefCell, VoltBike, JSON); with ``capitalised`` also
    capitalised words that do not start the question (Mutex). Lower-cased, a plural's "s" dropped, a
    hyphenated phrase reduced to its parts with a digit ("12-year-old": "12")."""
    found = set()
    for n, token in enumerate(_TOKEN.findall(question)):
        word = token.strip("`").rstrip(".:-").removesuffix("()")
        if not word:
            continue
        inner_capital = any(c.isupper() for c in word[1:])
        named = capitalised and n > 0 and len(word) > 1 and word[0].isupper()  # not the first word, not "I"
        if not (_CODE.search(token) or inner_capital or named):
            continue
        word = word.lower()
        # "12-year-old" is "12 year old": a hyphenated phrase's specific is its part with a digit
        parts = [p for p in word.split("-") if any(c.isdigit() for c in p)] if "-" in word else [word]
        for part in parts or [word]:
            plural = len(part) > 3 and part.endswith("s") and not part.endswith("ss")
            found.add(part[:-1] if plural else part)
    return found


def conflicting(a: str, b: str, *, capitalised: bool = False) -> bool:
    """Whether two questions ask about different specifics: each names one the other does not (a swap,
    E03 for E12); one that only drops or adds a name ("the VoltBike frame" / "the frame") does not."""
    x, y = specifics(a, capitalised=capitalised), specifics(b, capitalised=capitalised)
    return bool(x - y) and bool(y - x)


@dataclass(frozen=True)
class Match:
    answer: ReviewedAnswer
    similarity: float  # cosine similarity of the two questions' embeddings
    hit: SearchHit


class ReviewedAnswers:
    """The reviewed-answers index over any ``VectorStore``."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        min_similarity: float,
        k: int = 2,
        direct_similarity: float | None = None,
        specifics: str = "capitalised",
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.min_similarity = min_similarity
        self.k = k
        self.direct_similarity = direct_similarity  # None: always through the model
        # "off": embeddings alone decide; "names": no entry whose question names other specifics;
        # "capitalised": capitalised words count as specifics too (``specifics``)
        self.specifics = specifics

    def direct(self, matches: list[Match]) -> Match | None:
        """The match whose approved text is the answer itself (the closest, when it is at least
        ``direct_similarity`` close), else None."""
        if self.direct_similarity is None or not matches:
            return None
        best = max(matches, key=lambda m: m.similarity)
        return best if best.similarity >= self.direct_similarity else None

    def put(self, entry: ReviewedAnswer) -> None:
        """Add or replace the entry of ``entry.feedback_id`` (an edit replaces the text)."""
        vector = self.embedder.encode_query([entry.question])
        self.store.delete_source(SOURCE_PREFIX + entry.feedback_id)
        self.store.add([entry.to_chunk()], vector)

    def retract(self, feedback_id: str) -> bool:
        """Remove the entry of ``feedback_id``; whether there was one."""
        return self.store.delete_source(SOURCE_PREFIX + feedback_id) > 0

    def ids(self) -> set[str]:
        return {s.removeprefix(SOURCE_PREFIX) for s in self.store.sources() if is_reviewed(s)}

    def count(self) -> int:
        return self.store.count()

    def match(self, question_vector: np.ndarray, question: str | None = None) -> list[Match]:
        """Entries whose question is at least ``min_similarity`` close to the new question, best first,
        less those whose question names other specifics than ``question`` (when given). An empty index
        costs one count; otherwise one dense search plus the candidates' questions."""
        if self.store.count() == 0:
            return []
        hits = self.store.search(question_vector, text=None, k=self.k)
        entries = [(ReviewedAnswer.from_chunk(h.chunk), h) for h in hits]
        entries = [(e, h) for e, h in entries if e is not None]
        if not entries:
            return []
        vectors = self.embedder.encode_query([e.question for e, _ in entries])
        sims = vectors @ np.asarray(question_vector, dtype=np.float32)
        found = [Match(e, float(s), h) for (e, h), s in zip(entries, sims, strict=True)]
        if question is not None and self.specifics != "off":
            caps = self.specifics == "capitalised"
            found = [m for m in found if not conflicting(question, m.answer.question, capitalised=caps)]
        return sorted((m for m in found if m.similarity >= self.min_similarity), key=lambda m: -m.similarity)

    def close(self) -> None:
        self.store.close()


def direct_text(entry: ReviewedAnswer) -> str:
    """The approved text as an answer that cites the reviewed answer itself as source [1]; its own [n]
    marks pointed at the sources of the answer it corrected, so they go."""
    text = strip_citations(entry.text).strip()
    if text[-1:] in ".!?":
        return f"{text[:-1]} [1]{text[-1]}"
    return f"{text} [1]"


def used_ids(hits: list[SearchHit]) -> list[str]:
    """The feedback ids of the reviewed answers among ``hits`` (what a trace records)."""
    return [e.feedback_id for e in (ReviewedAnswer.from_chunk(h.chunk) for h in hits) if e]

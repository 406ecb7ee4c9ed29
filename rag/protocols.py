"""Contracts of the retrieval-and-answer stage: the records it passes around and the two backend protocols.

``VectorStore`` (embedded default or OpenSearch) and ``LLM`` (any OpenAI-compatible server, vLLM in
production) are what callers depend on; concrete backends live in ``rag/backends`` and are chosen by
settings through ``rag.backends.get_vector_store`` / ``get_llm``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Chunk:
    """A piece of a source document, the unit that is embedded, retrieved and cited."""

    chunk_id: str
    text: str
    source: str  # path of the file it came from, as given to ingest
    page: int | None  # 1-based page for paged formats (PDF), None otherwise
    start: int  # character offsets in the page (or whole-file) text
    end: int
    content_hash: str  # sha256 of the chunk text
    file_hash: str  # sha256 of the source file's bytes at ingest time
    section: str = ""  # heading path, "Title › Section › Subsection"; "" when the file has none

    @staticmethod
    def compose(section: str, body: str) -> str:
        """A chunk's text: its section path, a blank line, then the passage itself."""
        return f"{section}\n\n{body}" if section else body

    @property
    def body(self) -> str:
        """The passage without its section path: ``text[start:end]`` of its page."""
        return self.text.removeprefix(self.compose(self.section, "")) if self.section else self.text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchHit:
    chunk: Chunk
    score: float  # higher is better; comparable within one search only


# Metadata filters: equality on a chunk field, or membership in a list of values.
Filters = Mapping[str, Any]
FILTERABLE_FIELDS = frozenset({"source", "page", "file_hash"})


@runtime_checkable
class VectorStore(Protocol):
    """Where chunks and their embeddings live. Implementations must pass tests/rag/test_store_conformance."""

    dim: int

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Insert or replace chunks (by chunk_id) with their L2-normalised vectors."""

    def delete_source(self, source: str) -> int:
        """Remove every chunk of one source file; returns how many were removed."""

    def search(
        self, vector: np.ndarray, text: str | None = None, k: int = 4, filters: Filters | None = None
    ) -> list[SearchHit]:
        """Top-k chunks by dense similarity, blended with BM25 on ``text`` when given."""

    def sources(self) -> dict[str, str]:
        """Every indexed source path with the file hash it was indexed at."""

    def count(self) -> int: ...

    def index_version(self) -> dict[str, str] | None:
        """What built the chunks in this index (chunker, embedding model), as ingest recorded it."""

    def set_index_version(self, version: dict[str, str]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@runtime_checkable
class LLM(Protocol):
    """A chat model. ``adapter`` selects a LoRA adapter served beside the base model (None: base)."""

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        adapter: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Iterator[str]: ...

    def sample_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        n: int,
        adapter: str | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.8,
        seed: int | None = None,
    ) -> list[str]:
        """``n`` sampled completions of one prompt, in one request."""
        ...

    def model_id(self, adapter: str | None = None) -> str: ...


@dataclass(frozen=True)
class Citation:
    number: int  # the [n] the answer uses
    source: str
    page: int | None
    snippet: str
    chunk_id: str
    score: float
    section: str = ""  # the passage's heading path, "" when its file has no headings


@dataclass
class Trace:
    """Everything needed to reproduce an answer; the feedback log stores it beside the rating."""

    question: str
    prompt_template_version: str
    chunk_ids: list[str]
    chunk_sources: list[str]
    chunk_scores: list[float]
    model: str
    adapter: str | None
    top_k: int
    temperature: float
    max_tokens: int
    prompt: str = ""  # the exact user message sent to the model
    system: str = ""  # the exact system message sent before it ("" when none was sent)
    attributed_citations: list[int] = field(default_factory=list)  # [n] added from the evidence
    timings_ms: dict[str, float] = field(default_factory=dict)
    reviewed_answers: list[str] = field(
        default_factory=list
    )  # feedback ids of reviewed answers used as sources
    # The answer is a reviewed answer's approved text itself (rag.reviewed), the model was not asked.
    reviewed_direct: bool = False
    # Why the answer is the designed "the documents don't say" (rag/silence.py): "no-evidence" (decided
    # before generation, the model was not asked) or "model" (the model said so); None: a normal answer.
    silent: str | None = None
    evidence_similarity: float | None = None  # best question-sentence cosine over the sources
    repaired_heading: bool = False  # the first answer was only a heading path; the model was re-asked
    reranker: str = ""  # the second pass that ordered the chunks (rag.rerank), "" when none

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    trace: Trace

    @property
    def cited(self) -> list[Citation]:
        """The citations the answer text actually refers to with [n]."""
        return [c for c in self.citations if f"[{c.number}]" in self.text]

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "text": self.text,
            "citations": [asdict(c) for c in self.citations],
            "trace": self.trace.to_dict(),
        }

"""User-facing errors of the RAG stage: each names the problem in words a user can act on.

The CLI and the app show ``str(err)`` and never a stack trace for these.
"""

from __future__ import annotations

from core.errors import RagloopError

__all__ = [
    "BackendUnavailable",
    "DocumentError",
    "EmptyCorpus",
    "IndexVersionMismatch",
    "InvalidQuestion",
    "RagloopError",
]


class InvalidQuestion(RagloopError):
    """Empty, whitespace-only or over-long question."""


class EmptyCorpus(RagloopError):
    """Nothing has been ingested yet."""


class DocumentError(RagloopError):
    """A file could not be read (corrupt, encrypted, not UTF-8, unsupported)."""


class IndexVersionMismatch(RagloopError):
    """The index was built by another chunker or embedding model than the configuration names."""


class BackendUnavailable(RagloopError):
    """A server the configuration points at (LLM, vector store) cannot be reached."""

"""Feedback errors with messages meant for the user."""

from __future__ import annotations

from core.errors import RagloopError


class FeedbackRejected(RagloopError, ValueError):
    """The feedback is invalid (rating out of 1-5, text over a limit, unknown record)."""


class StoreUnavailable(RagloopError):
    """The feedback store cannot be reached; the caller spools the record locally."""

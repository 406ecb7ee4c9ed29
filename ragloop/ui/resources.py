"""Process-wide resources for the Streamlit pages, built once from settings and cached.

The chain (embedder, store, LLM client) is built only when the chat page needs it, so the dashboard and
review pages work even while the LLM server is down.
"""

from __future__ import annotations

import logging

import streamlit as st

from core.errors import RagloopError
from core.settings import Settings, get_settings
from feedback.schema import FeedbackRecord
from feedback.scoring import AIScorer
from feedback.service import build_writer, limits
from feedback.spool import DurableFeedbackWriter
from rag.chain import RagChain
from rag.ingest import Ingestor
from rag.reviewed import ReviewedAnswers

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner="Loading the retrieval model…")
def chain() -> RagChain:
    from rag.service import build_chain

    return build_chain(settings())


@st.cache_resource(show_spinner=False)
def reviewed_answers() -> ReviewedAnswers | None:
    """The chain's reviewed-answers index, rebuilt from the approved records once per app server
    (None when ``reviewed.enabled`` is off)."""
    index = chain().reviewed
    if index is None:
        return None
    from ragloop.reviewed import approved_records, rebuild

    try:
        report = rebuild(
            index, approved_records(feedback_writer().store), include_rated=settings().reviewed.include_rated
        )
        log.info("reviewed answers: %d in use, %d stale removed", report.entries, report.removed)
    except RagloopError as err:  # the feedback store is down: keep what the index holds
        log.warning("reviewed answers not rebuilt: %s", err)
    return index


def sync_reviewed(record: FeedbackRecord) -> None:
    """Apply a record's new state to the reviewed-answers index at once (approve, edit, reject)."""
    index = reviewed_answers()
    if index is not None:
        from ragloop.reviewed import sync

        sync(index, record, include_rated=settings().reviewed.include_rated)


@st.cache_resource(show_spinner=False)
def ingestor() -> Ingestor:
    from rag.ingest import Ingestor
    from rag.service import build_chunker

    c = chain()
    return Ingestor(c.store, c.embedder, build_chunker(settings(), c.embedder))


@st.cache_resource(show_spinner=False)
def feedback_writer() -> DurableFeedbackWriter:
    return build_writer(settings())


@st.cache_resource(show_spinner=False)
def ai_scorer() -> AIScorer | None:
    """The background AI scorer, started once per app server; None when ``feedback.ai_scoring`` is off."""
    if not settings().feedback.ai_scoring:
        return None
    from ragloop.ai_feedback import build_ai_scorer

    return build_ai_scorer(settings(), feedback_writer().store).start()


def feedback_limits():
    return limits(settings())


def adapter_for(session_id: str) -> str | None:
    """The adapter this chat session is routed to (sticky), or None for the base model."""
    from serving.routing import choose_adapter

    return choose_adapter(session_id, routing_state().get())


@st.cache_resource(show_spinner=False)
def routing_state():
    """The serving state, re-read every few seconds; an unreadable registry keeps the last one."""
    from serving.routing import RoutingState

    return RoutingState(adapter_registry())


@st.cache_resource(show_spinner=False)
def adapter_registry():
    """The configured adapter registry (local directory or S3), opened once per app process."""
    from serving.registry import open_registry

    return open_registry(settings())

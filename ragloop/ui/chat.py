"""Chat page: sessions in the sidebar, streamed cited answers, and feedback under every answer.

Each signed-in user sees and reopens only their own chats, and every record carries their user id (the
local user, without sign-in, sees all). Uploads into the shared index need the admin role.
Each answer is logged as a feedback record the moment it is shown (rating still empty); the form below
it updates that same record, so saving twice never duplicates it.
"""

from __future__ import annotations

import logging
import uuid

import streamlit as st

from core.errors import RagloopError
from feedback.errors import FeedbackRejected
from feedback.protocols import FeedbackQuery
from feedback.schema import RATING_LABELS, FeedbackRecord
from feedback.spool import SaveStatus
from ragloop.access import Identity
from ragloop.turns import answer_record, rated_record
from ragloop.ui import identity, render, resources

log = logging.getLogger(__name__)


def _init_state() -> None:
    if "session_id" not in st.session_state:
        st.session_state.session_id = uuid.uuid4().hex
        st.session_state.turns = []  # list[FeedbackRecord]


def _owner(me: Identity) -> str | None:
    """Whose chats this identity sees: its own when signed in; the local user's, all."""
    return me.user_id if me.signed_in else None


def _load_session(session_id: str, me: Identity) -> None:
    store = resources.feedback_writer().store
    query = FeedbackQuery(session_id=session_id, user_id=_owner(me))  # another user's chat: nothing
    st.session_state.session_id = session_id
    st.session_state.turns = sorted(store.list(query), key=lambda r: r.turn)


def _sidebar(me: Identity) -> None:
    identity.sidebar(me)
    with st.sidebar:
        if st.button("New chat", icon=":material/add:", width="stretch"):
            st.session_state.session_id = uuid.uuid4().hex
            st.session_state.turns = []
        try:
            sessions = resources.feedback_writer().store.sessions(limit=20, user_id=_owner(me))
        except RagloopError as err:
            st.caption(f"Past chats unavailable: {err}")
            sessions = []
        if sessions:
            st.caption("Recent chats")
        for s in sessions:
            title = s.title if len(s.title) <= 40 else s.title[:39] + "…"
            current = s.session_id == st.session_state.session_id
            if st.button(
                title,
                key=f"session_{s.session_id}",
                width="stretch",
                type="primary" if current else "secondary",
            ):
                _load_session(s.session_id, me)
        if me.has("admin"):
            _upload(me)


def _upload(me: Identity) -> None:
    from rag.uploads import save_uploads

    files = st.file_uploader(
        "Add documents", type=["pdf", "md", "txt", "html", "htm"], accept_multiple_files=True
    )
    if not files or not st.button("Index uploaded files", width="stretch"):
        return
    identity.guard(me, "admin", "adding documents to the shared index")
    settings = resources.settings()
    batch = save_uploads(
        ((f.name, f.getvalue()) for f in files),
        settings.data_dir / "uploads",
        int(settings.uploads.max_file_mb * 2**20),
    )
    for reason in batch.refused.values():
        st.warning(f"Skipped: {reason}")
    indexed = 0
    bar = st.progress(0.0, text="Indexing…")
    for n, path in enumerate(batch.saved, start=1):
        try:
            report = resources.ingestor().ingest([path], progress=False)
        except RagloopError as err:  # e.g. the index was built with another chunker: say how to fix it
            st.error(str(err))
            break
        for reason in report.failed.values():
            st.warning(f"Skipped: {reason}")
        indexed += not report.failed
        bar.progress(n / len(batch.saved), text=f"Indexed {n}/{len(batch.saved)}: {path.name}")
    if batch.replaced:
        st.info("Replaced earlier uploads: " + ", ".join(batch.replaced))
    if indexed:
        st.success(f"Indexed {indexed} file(s).")


def _feedback_form(record: FeedbackRecord, me: Identity) -> None:
    options = list(RATING_LABELS)
    with st.form(key=f"feedback_{record.feedback_id}", border=False):
        rating = st.radio(
            "Is this answer correct and helpful?",
            options,
            index=None if record.rating is None else options.index(record.rating),
            format_func=render.rating_label,
            horizontal=True,
            key=f"rating_{record.feedback_id}",
        )
        note = st.text_input("Note (optional)", value=record.note or "", key=f"note_{record.feedback_id}")
        correction = st.text_area(
            "Corrected answer (optional)",
            value=record.correction or "",
            key=f"correction_{record.feedback_id}",
            height=80,
        )
        if st.form_submit_button("Save feedback"):
            _save_feedback(record, me, rating, note, correction)


def _save_feedback(
    record: FeedbackRecord, me: Identity, rating: int | None, note: str, correction: str
) -> None:
    if record.user_id != me.user_id and me.signed_in:
        st.error("This answer belongs to another user's chat.")
        return
    if rating is None:
        st.error("Pick a rating from 1 (strongly disagree) to 5 (strongly agree) first.")
        return
    try:
        updated = rated_record(
            record, rating, note=note, correction=correction, limits=resources.feedback_limits()
        )
    except FeedbackRejected as err:
        st.error(str(err))
        return
    status = resources.feedback_writer().save(updated)
    resources.sync_reviewed(updated)  # a changed correction goes back to review: its reviewed answer is out
    if scorer := resources.ai_scorer():
        scorer.submit(updated.feedback_id)  # judged in the background; the chat does not wait
    turns = st.session_state.turns
    turns[:] = [updated if t.feedback_id == record.feedback_id else t for t in turns]
    if status is SaveStatus.STORED:
        st.success("Thanks — feedback saved.")
    else:
        st.warning("Saved locally, will sync when the feedback store is back.")


def _show_turn(record: FeedbackRecord, me: Identity) -> None:
    st.chat_message("user").markdown(record.question)
    with st.chat_message("assistant"):
        if (record.trace or {}).get("silent"):  # "the documents don't say" (rag/silence.py): no sources
            st.info(record.answer, icon=":material/search_off:")
        else:
            st.markdown(record.answer)
        render.citations(record.citations, record.answer)
        if (record.trace or {}).get("reviewed_direct"):  # the approved text itself (rag.reviewed)
            st.caption("answered with a reviewed answer, word for word; the model was not asked")
        else:
            st.caption(f"answered by {record.adapter or record.model}")
        _feedback_form(record, me)


def _ask(question: str, me: Identity) -> None:
    st.chat_message("user").markdown(question)
    with st.chat_message("assistant"):
        try:
            resources.reviewed_answers()  # once per server: the index matches the approved records
            stream = resources.chain().stream(
                question, adapter=resources.adapter_for(st.session_state.session_id)
            )
            st.write_stream(stream)
            answer = stream.result()
        except RagloopError as err:
            st.error(str(err))
            return
    record = answer_record(answer, st.session_state.session_id, len(st.session_state.turns), me.user_id)
    try:
        record.check_limits(resources.feedback_limits())
        resources.feedback_writer().save(record)
    except RagloopError as err:  # the answer is still shown; logging it must not break the chat
        log.warning("answer not logged: %s", err)
    st.session_state.turns.append(record)
    st.rerun()


def page() -> None:
    me = identity.current()
    _init_state()
    _sidebar(me)
    st.title("Ask your documents")
    for record in st.session_state.turns:
        _show_turn(record, me)
    if question := st.chat_input("Ask a question about your documents"):
        _ask(question, me)


page()

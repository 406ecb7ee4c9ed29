"""Review page: a subject-matter expert approves, edits or rejects user corrections. Only approved
corrections become training data; the decision and the reviewer are part of the record."""

from __future__ import annotations

import streamlit as st

from feedback.protocols import FeedbackQuery
from feedback.schema import FeedbackRecord
from feedback.spool import SaveStatus
from ragloop.errors import RagloopError
from ragloop.turns import reviewed_record
from ragloop.ui import resources


def decide(record: FeedbackRecord, state: str, reviewer: str, edited: str | None = None) -> SaveStatus:
    return resources.feedback_writer().save(reviewed_record(record, state, reviewer, edited))


def page() -> None:
    st.title("Review corrections")
    reviewer = st.sidebar.text_input("Reviewer", value=st.session_state.get("reviewer", ""), key="reviewer")
    try:
        pending = list(resources.feedback_writer().store.list(FeedbackQuery(review_state="pending")))
    except RagloopError as err:
        st.error(str(err))
        return
    if not pending:
        st.success("No corrections waiting for review.")
        return
    st.caption(f"{len(pending)} correction(s) waiting. Approved corrections become training data.")
    for record in pending:
        with st.container(border=True):
            st.markdown(f"**Question:** {record.question}")
            st.markdown("**Model answer:**")
            st.markdown(record.answer)
            st.caption(
                f"rated {record.rating} · note: {record.note or '—'} · by {record.adapter or record.model}"
            )
            edited = st.text_area(
                "Correction", value=record.correction or "", key=f"edit_{record.feedback_id}"
            )
            approve, reject = st.columns(2)
            if approve.button(
                "Approve", key=f"approve_{record.feedback_id}", type="primary", use_container_width=True
            ):
                if not reviewer.strip():
                    st.error("Enter your name as reviewer in the sidebar first.")
                else:
                    decide(record, "approved", reviewer.strip(), edited)
                    st.rerun()
            if reject.button("Reject", key=f"reject_{record.feedback_id}", use_container_width=True):
                if not reviewer.strip():
                    st.error("Enter your name as reviewer in the sidebar first.")
                else:
                    decide(record, "rejected", reviewer.strip())
                    st.rerun()


page()

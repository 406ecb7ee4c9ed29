"""Review page: a subject-matter expert approves, edits or rejects user corrections. Only approved
corrections become training data; the decision and the reviewer are part of the record."""

from __future__ import annotations

import streamlit as st

from feedback.protocols import FeedbackQuery
from feedback.schema import FeedbackRecord
from feedback.scoring import disagreement
from feedback.spool import SaveStatus
from ragloop.errors import RagloopError
from ragloop.turns import reviewed_record
from ragloop.ui import resources


def decide(record: FeedbackRecord, state: str, reviewer: str, edited: str | None = None) -> SaveStatus:
    return resources.feedback_writer().save(reviewed_record(record, state, reviewer, edited))


def _missing_last(value: float | None, descending: bool = False) -> tuple[bool, float]:
    return (value is None, 0.0 if value is None else (-value if descending else value))


SORTS = {
    "oldest first": lambda r: r.updated_at,
    "human vs AI disagreement, largest first": lambda r: _missing_last(disagreement(r), descending=True),
    "AI score, lowest first": lambda r: _missing_last(r.ai_score),
    "human rating, lowest first": lambda r: _missing_last(r.rating),
}


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
    order = st.selectbox("Sort by", list(SORTS), key="review_sort")
    for record in sorted(pending, key=SORTS[order]):
        with st.container(border=True):
            st.markdown(f"**Question:** {record.question}")
            st.markdown("**Model answer:**")
            st.markdown(record.answer)
            st.caption(
                f"rated {record.rating} · note: {record.note or '—'} · by {record.adapter or record.model}"
            )
            if record.ai_score is not None:
                judge = record.ai_judge or {}
                st.caption(
                    f"AI score {record.ai_score:.1f} / 5 against the {judge.get('basis', '?')} "
                    f"({judge.get('model', '?')}): {record.ai_reason}"
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

"""Review page: a subject-matter expert works through rated answers from their AI scores: filters and
sorts by AI score, human rating and their disagreement, groups by source document or adapter, reads the
judge's reason beside each answer, and approves, edits or rejects — one at a time or a whole filtered
group after a confirmation. Only approved corrections (and, when training asks for it, approved AI-scored
rows) become training data; the decision and the reviewer are part of the record. The queue's logic lives
in ``feedback.review_queue``.

Only reviewers reach the page; the reviewer recorded is the signed-in identity (never a typed name), and
with ``auth.four_eyes`` nobody approves a correction they wrote themselves. Both are checked where the
approval happens, not only by what the page shows."""

from __future__ import annotations

import streamlit as st

from core.errors import RagloopError
from feedback.review_queue import (
    GROUPINGS,
    SCOPES,
    SORTS,
    ReviewFilter,
    group,
    select,
    source_document,
    summary,
    undecided,
)
from feedback.schema import FeedbackRecord
from feedback.spool import SaveStatus
from ragloop.access import Forbidden, Identity, check_approval
from ragloop.turns import reviewed_record
from ragloop.ui import identity, resources

SHOWN_PER_GROUP = 25


def decide(record: FeedbackRecord, state: str, me: Identity, edited: str | None = None) -> SaveStatus:
    """Record a reviewer's decision; raises ``Forbidden`` when ``me`` may not make it."""
    if state == "approved":
        check_approval(me, record.user_id, resources.settings().auth)
    else:
        identity.guard(me, "reviewer", "rejecting corrections")
    updated = reviewed_record(record, state, me.user_id, edited)
    status = resources.feedback_writer().save(updated)
    resources.sync_reviewed(updated)  # the reviewed-answers index follows at once
    return status


def retract_reviewed(feedback_id: str, me: Identity) -> None:
    """A reviewer withdraws a reviewed answer an answer was built from (``ragloop.reviewed.retract``)."""
    identity.guard(me, "reviewer", "retracting reviewed answers")
    index = resources.reviewed_answers()
    if index is not None:
        from ragloop.reviewed import retract

        retract(index, resources.feedback_writer(), feedback_id, me.user_id)


def own(record: FeedbackRecord, me: Identity) -> bool:
    """Whether the four-eyes rule keeps ``me`` from approving ``record``."""
    try:
        check_approval(me, record.user_id, resources.settings().auth)
    except Forbidden:
        return True
    return False


def filters(records: list[FeedbackRecord]) -> ReviewFilter:
    """The filter widgets (in an expander) and the ``ReviewFilter`` they describe."""
    with st.expander("Filter", expanded=False):
        left, right = st.columns(2)
        ai_min, ai_max = left.slider("AI score", 0.0, 5.0, (0.0, 5.0), step=0.5, key="f_ai")
        unscored = left.checkbox("include answers without an AI score", value=True, key="f_unscored")
        gap = left.slider("human vs AI differ by at least", 0.0, 4.0, 0.0, step=0.5, key="f_gap")
        ratings = right.multiselect("human rating", [1, 2, 3, 4, 5], key="f_ratings")
        adapters = right.multiselect(
            "answered by", sorted({r.answered_by for r in records}), key="f_adapters"
        )
        sources = right.multiselect(
            "source document", sorted({source_document(r) for r in records}), key="f_sources"
        )
    return ReviewFilter(
        ai_min=ai_min,
        ai_max=ai_max,
        include_unscored=unscored,
        ratings=frozenset(ratings) or None,
        min_disagreement=gap,
        adapters=frozenset(adapters) or None,
        sources=frozenset(sources) or None,
    )


def bulk_approve(name: str, records: list[FeedbackRecord], me: Identity) -> None:
    """'Approve all N' asks first; the confirmation approves exactly the records shown when it was asked
    (less the reviewer's own, under the four-eyes rule)."""
    undecided_here = undecided(records)
    todo = [r for r in undecided_here if not own(r, me)]
    if skipped := len(undecided_here) - len(todo):
        st.caption(f"{skipped} of your own correction(s) here wait for another reviewer (four-eyes rule).")
    pending = st.session_state.get("bulk")
    if pending and pending["group"] == name:
        st.warning(
            f"Approve {len(pending['ids'])} answer(s) in '{name}' as training data, as {me.name}? "
            "Approving confirms each one's correction, rating and AI score."
        )
        yes, no = st.columns(2)
        if yes.button(f"Yes, approve {len(pending['ids'])}", key=f"bulk_yes_{name}", type="primary"):
            by_id = {r.feedback_id: r for r in records}
            statuses = [decide(by_id[i], "approved", me) for i in pending["ids"] if i in by_id]
            st.session_state.pop("bulk")
            spooled = sum(s == SaveStatus.SPOOLED for s in statuses)
            st.session_state["bulk_done"] = f"Approved {len(statuses)} answer(s) in '{name}'." + (
                f" {spooled} wait in the local spool (store unreachable)." if spooled else ""
            )
            st.rerun()
        if no.button("Cancel", key=f"bulk_no_{name}"):
            st.session_state.pop("bulk")
            st.rerun()
    elif todo and st.button(f"Approve all {len(todo)}", key=f"bulk_{name}"):
        st.session_state["bulk"] = {"group": name, "ids": [r.feedback_id for r in todo]}
        st.rerun()


def approve_now(record: FeedbackRecord, me: Identity, edited: str) -> None:
    """A card's approve action (first approval or a saved edit): refused with the reason, else rerun."""
    try:
        decide(record, "approved", me, edited)
    except Forbidden as err:
        st.error(str(err))
    else:
        st.rerun()


def reject_now(record: FeedbackRecord, me: Identity) -> None:
    """A card's reject action (a rejection or a withdrawn approval)."""
    decide(record, "rejected", me)
    st.rerun()


def show(record: FeedbackRecord, me: Identity) -> None:
    with st.container(border=True):
        st.markdown(f"**Question:** {record.question}")
        answer, judged = st.columns([3, 2])
        with answer:
            st.markdown("**Model answer:**")
            st.markdown(record.answer)
        with judged:
            if record.ai_score is not None:
                judge = record.ai_judge or {}
                st.markdown(f"**AI score {record.ai_score:.1f} / 5** against the {judge.get('basis', '?')}")
                st.caption(f"{record.ai_reason or ''} ({judge.get('model', '?')})")
            else:
                st.caption("no AI score yet")
            st.caption(
                f"user rating {record.rating or '—'} · note: {record.note or '—'} · "
                f"by {record.answered_by} · source {source_document(record)} · {record.review_state}"
            )
        used = record.trace.get("reviewed_answers") or []
        for n, source_id in enumerate(used):
            left, right = st.columns([3, 1])
            left.caption(f"built from reviewed answer {source_id[:8]}")
            if right.button("Retract it", key=f"retract_{record.feedback_id}_{n}", width="stretch"):
                retract_reviewed(source_id, me)
                st.rerun()
        edited = st.text_area("Correction", value=record.correction or "", key=f"edit_{record.feedback_id}")
        if record.review_state == "approved" and record.correction:
            save, withdraw = st.columns(2)
            if save.button("Save edit", key=f"reedit_{record.feedback_id}", width="stretch"):
                approve_now(record, me, edited)
            if withdraw.button("Withdraw approval", key=f"withdraw_{record.feedback_id}", width="stretch"):
                reject_now(record, me)
            return
        if record.review_state not in ("none", "pending"):
            return
        approve, reject = st.columns(2)
        if approve.button("Approve", key=f"approve_{record.feedback_id}", type="primary", width="stretch"):
            approve_now(record, me, edited)
        if reject.button("Reject", key=f"reject_{record.feedback_id}", width="stretch"):
            reject_now(record, me)


def page() -> None:
    me = identity.current()
    identity.sidebar(me)
    st.title("Review")
    identity.guard(me, "reviewer", "the review queue")
    if done := st.session_state.pop("bulk_done", None):
        st.success(done)
    try:
        records = list(resources.feedback_writer().store.list())
    except RagloopError as err:
        st.error(str(err))
        return
    scope = st.radio("Show", list(SCOPES), horizontal=True, key="review_scope")
    in_scope = [r for r in records if SCOPES[scope](r)]
    if not in_scope:
        st.success(
            "No corrections waiting for review." if scope == "corrections to review" else "Nothing here."
        )
        return
    where = filters(in_scope)
    order_col, group_col = st.columns(2)
    order = order_col.selectbox("Sort by", list(SORTS), key="review_sort")
    by = group_col.selectbox("Group by", list(GROUPINGS), key="review_group")
    shown = select(in_scope, scope, where, order)
    st.caption(
        f"{len(shown)} of {len(in_scope)} shown. Approved corrections become training data; so do approved "
        "AI-scored answers when training asks for reviewed rows only."
    )
    for name, members in group(shown, by).items():
        if by != "no grouping":
            st.subheader(name)
        st.caption(summary(members))
        bulk_approve(name, members, me)
        for record in members[:SHOWN_PER_GROUP]:
            show(record, me)
        if len(members) > SHOWN_PER_GROUP:
            st.caption(f"… and {len(members) - SHOWN_PER_GROUP} more (the bulk approval covers them all).")


page()

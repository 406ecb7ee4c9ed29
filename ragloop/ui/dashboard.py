"""Dashboard page: how answers are rated, over time and per model/adapter, and what went wrong; the AI
judge's scores over time per adapter and how far they agree with the users (``feedback.agreement``).
Admins see everyone's answers; every other user their own."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.errors import RagloopError
from feedback.agreement import agreement, trend
from feedback.protocols import FeedbackQuery
from feedback.schema import NEGATIVE_MAX, RATING_LABELS, FeedbackRecord
from ragloop.ui import identity, resources


def frame(records: list[FeedbackRecord]) -> pd.DataFrame:
    rows = [
        {
            "feedback_id": r.feedback_id,
            "updated_at": pd.Timestamp(r.updated_at),
            "question": r.question,
            "answer": r.answer,
            "rating": r.rating,
            "note": r.note,
            "correction": r.correction,
            "review": r.review_state,
            "answered_by": r.answered_by,
        }
        for r in records
    ]
    return pd.DataFrame(rows)


def page() -> None:
    st.title("Feedback dashboard")
    me = identity.current()
    identity.sidebar(me)
    everyone = me.has("admin")
    try:
        records = list(
            resources.feedback_writer().store.list(FeedbackQuery(user_id=None if everyone else me.user_id))
        )
    except RagloopError as err:
        st.error(str(err))
        return
    if not everyone:
        st.caption("Your own answers and ratings (everyone's: admin role).")
    df = frame(records)
    if df.empty:
        st.info("No answers yet. Ask something on the Chat page and rate the answer.")
        return
    rated = df.dropna(subset=["rating"]).astype({"rating": int})
    negative = (rated["rating"] <= NEGATIVE_MAX).mean() if len(rated) else None
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Answers", len(df))
    c2.metric("Rated", len(rated))
    c3.metric("Negative (≤ 2)", "—" if negative is None else f"{negative:.0%}")
    c4.metric("Corrections to review", int((df["review"] == "pending").sum()))
    if rated.empty:
        st.info("No ratings yet.")
        return

    counts = rated["rating"].value_counts().reindex(range(1, 6), fill_value=0).reset_index()
    counts.columns = ["rating", "answers"]
    counts["label"] = counts["rating"].map(lambda r: f"{r} {RATING_LABELS[r]}")
    st.subheader("Rating distribution")
    st.altair_chart(
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("label:N", sort=None, title=None),
            y=alt.Y("answers:Q"),
            color=alt.Color("rating:O", scale=alt.Scale(scheme="redyellowgreen"), legend=None),
        ),
        width="stretch",
    )

    rated = rated.assign(day=rated["updated_at"].dt.floor("D"), negative=rated["rating"] <= NEGATIVE_MAX)
    left, right = st.columns(2)
    with left:
        st.subheader("Negative share over time")
        daily = rated.groupby(["day", "answered_by"], as_index=False)["negative"].mean()
        st.altair_chart(
            alt.Chart(daily)
            .mark_line(point=True)
            .encode(
                x=alt.X("day:T", title=None),
                y=alt.Y("negative:Q", title="share ≤ 2", axis=alt.Axis(format="%")),
                color=alt.Color("answered_by:N", title="answered by"),
            ),
            width="stretch",
        )
    with right:
        st.subheader("Per model / adapter")
        per = rated.groupby("answered_by", as_index=False).agg(
            answers=("rating", "size"), mean_rating=("rating", "mean"), negative=("negative", "mean")
        )
        st.altair_chart(
            alt.Chart(per)
            .mark_bar()
            .encode(
                x=alt.X("negative:Q", title="share ≤ 2", axis=alt.Axis(format="%")),
                y=alt.Y("answered_by:N", title=None),
                tooltip=["answers", "mean_rating", "negative"],
            ),
            width="stretch",
        )

    st.subheader("Low-rated answers")
    low = rated[rated["negative"]].sort_values("updated_at", ascending=False)
    st.dataframe(
        low[["updated_at", "rating", "question", "answer", "note", "correction", "answered_by"]],
        hide_index=True,
        width="stretch",
    )
    ai_feedback(records)


def ai_feedback(records: list[FeedbackRecord]) -> None:
    """AI scores over time per adapter, and human vs AI agreement."""
    st.header("AI feedback")
    rows = trend(records)
    if not rows:
        st.info(
            "No AI scores yet: answers are scored in the background once rated (`ragloop feedback score`)."
        )
        return
    scores = [r.ai_score for r in records if r.ai_score is not None]
    c1, c2, c3 = st.columns(3)
    c1.metric("AI-scored answers", len(scores))
    c2.metric("Mean AI score (0-5)", f"{sum(scores) / len(scores):.2f}")
    c3.metric("AI score > 3", f"{sum(s > 3 for s in scores) / len(scores):.0%}")
    st.subheader("AI score over time, per model / adapter")
    daily = pd.DataFrame(rows).assign(day=lambda d: pd.to_datetime(d["day"]))
    shares = daily.melt(
        id_vars=["day", "answered_by"],
        value_vars=["above_3", "below_3"],
        var_name="share",
        value_name="value",
    ).replace({"share": {"above_3": "score > 3", "below_3": "score < 3"}})
    st.altair_chart(
        alt.Chart(shares)
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("value:Q", title="share of answers", axis=alt.Axis(format="%")),
            color=alt.Color("answered_by:N", title="answered by"),
            strokeDash=alt.StrokeDash("share:N", title=None),
            tooltip=["day:T", "answered_by", "share", alt.Tooltip("value:Q", format=".0%")],
        ),
        width="stretch",
    )
    st.dataframe(
        daily.rename(columns={"above_3": "share > 3", "below_3": "share < 3", "mean": "mean AI score"}),
        hide_index=True,
        width="stretch",
        column_config={
            "day": st.column_config.DateColumn("day"),
            "share > 3": st.column_config.NumberColumn(format="percent"),
            "share < 3": st.column_config.NumberColumn(format="percent"),
            "mean AI score": st.column_config.NumberColumn(format="%.2f"),
        },
    )

    st.subheader("Human rating vs AI score")
    agree = agreement(records)
    if not agree.pairs:
        st.info("No answer has both a user rating and an AI score yet.")
        return
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Answers with both", agree.pairs)
    c2.metric("Pearson r", "—" if agree.pearson is None else f"{agree.pearson:.2f}")
    c3.metric("Spearman ρ", "—" if agree.spearman is None else f"{agree.spearman:.2f}")
    c4.metric("Differ by ≥ 2", f"{agree.differ_share:.0%}")
    table = pd.DataFrame(
        [
            {"user rating": f"{r} {RATING_LABELS[r]}", **{f"AI {a}": n for a, n in row.items()}}
            for r, row in agree.confusion.items()
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        "Rows: the user's rating; columns: the AI score rounded. 'Differ by ≥ 2' compares both on the 1-5 "
        "scale (AI 0-5 maps to 1 + 0.8 × score). Sort the Review page by disagreement to read those answers."
    )


page()

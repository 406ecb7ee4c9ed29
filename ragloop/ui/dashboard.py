"""Dashboard page: how answers are rated, over time and per model/adapter, and what went wrong."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from feedback.schema import NEGATIVE_MAX, RATING_LABELS
from ragloop.errors import RagloopError
from ragloop.ui import resources


def frame() -> pd.DataFrame:
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
            "answered_by": r.adapter or f"{r.model} (base)",
        }
        for r in resources.feedback_writer().store.list()
    ]
    return pd.DataFrame(rows)


def page() -> None:
    st.title("Feedback dashboard")
    try:
        df = frame()
    except RagloopError as err:
        st.error(str(err))
        return
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
        use_container_width=True,
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
            use_container_width=True,
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
            use_container_width=True,
        )

    st.subheader("Low-rated answers")
    low = rated[rated["negative"]].sort_values("updated_at", ascending=False)
    st.dataframe(
        low[["updated_at", "rating", "question", "answer", "note", "correction", "answered_by"]],
        hide_index=True,
        use_container_width=True,
    )


page()

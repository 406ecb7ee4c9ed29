"""Rendering helpers shared by the pages. Model output and retrieved text are untrusted: they are shown
as Markdown with HTML disabled (Streamlit's default), never with ``unsafe_allow_html``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from feedback.schema import RATING_LABELS
from rag.reviewed import source_label as reviewed_label


def source_label(citation: dict[str, Any]) -> str:
    """Where a passage is: file › section path › page (each part only when known), or for a reviewed
    answer 'reviewed answer · approved by rita · 2026-11-24'."""
    reviewed = reviewed_label(citation["source"], citation.get("section") or "")
    if reviewed:
        return reviewed
    parts = [Path(citation["source"]).name]
    if citation.get("section"):
        parts.append(citation["section"])
    if citation.get("page"):
        parts.append(f"page {citation['page']}")
    return " › ".join(parts)


def citations(items: list[dict[str, Any]], answer_text: str) -> None:
    if not items:
        return
    cited = [c for c in items if f"[{c['number']}]" in answer_text] or items
    st.caption("Sources: " + " · ".join(f"[{c['number']}] {source_label(c)}" for c in cited))
    with st.expander("Show source passages"):
        for c in items:
            st.markdown(f"**[{c['number']}] {source_label(c)}**")
            st.markdown(c.get("snippet", ""))


def rating_label(value: int) -> str:
    return f"{value} — {RATING_LABELS[value]}"

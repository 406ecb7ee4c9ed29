"""ragloop's Streamlit app: chat with your documents, rate answers, review corrections, see the dashboard
and the models (adapters, evaluation reports).

Run with ``ragloop ui`` (or ``streamlit run app.py``). The pages live in ``ragloop/ui/``.
"""

from pathlib import Path

import streamlit as st

UI = Path(__file__).parent / "ragloop" / "ui"

st.set_page_config(page_title="ragloop", page_icon=":material/forum:", layout="wide")
st.navigation(
    [
        st.Page(UI / "chat.py", title="Chat", icon=":material/chat:", default=True),
        st.Page(UI / "dashboard.py", title="Dashboard", icon=":material/monitoring:"),
        st.Page(UI / "review.py", title="Review", icon=":material/rate_review:"),
        st.Page(UI / "models.py", title="Models", icon=":material/model_training:"),
    ]
).run()

"""ragloop's Streamlit app: chat with your documents, rate answers, review corrections, see the dashboard
and the models (adapters, evaluation reports).

Run with ``ragloop ui`` (or ``streamlit run app.py``). The pages live in ``ragloop/ui/``; who may see
which is ``ragloop/access.py`` (sign-in: ``.streamlit/secrets.toml`` ``[auth]``).
"""

from pathlib import Path

import streamlit as st

from ragloop.ui import identity

UI = Path(__file__).parent / "ragloop" / "ui"

st.set_page_config(page_title="ragloop", page_icon=":material/forum:", layout="wide")
me = identity.current()  # asks to sign in first, when sign-in is configured
pages = [
    st.Page(UI / "chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page(UI / "dashboard.py", title="Dashboard", icon=":material/monitoring:"),
    st.Page(UI / "models.py", title="Models", icon=":material/model_training:"),
]
if me.has("reviewer"):  # shown to reviewers only; the page itself refuses everyone else too
    pages.insert(2, st.Page(UI / "review.py", title="Review", icon=":material/rate_review:"))
st.navigation(pages).run()

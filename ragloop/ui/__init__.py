"""The Streamlit pages. Each page module is a script (``st.navigation`` runs it); they hold no backend
logic and call ``rag`` and ``feedback`` through ``ragloop.ui.resources``."""

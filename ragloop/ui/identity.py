"""The signed-in identity for the Streamlit pages: Streamlit's OIDC sign-in (``st.login`` / ``st.user``,
configured in ``.streamlit/secrets.toml`` ``[auth]``) turned into a ``ragloop.access.Identity``, or the
one local user when sign-in is not configured. Each page calls ``current()`` first and ``guard()`` where
an action needs a role, so the checks run on the server whatever the browser shows."""

from __future__ import annotations

import logging

import streamlit as st

from ragloop.access import LOCAL, Forbidden, Identity, identity_from_claims, require
from ragloop.ui import resources

log = logging.getLogger(__name__)


def sign_in_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises its own not-found error
        return False


def current() -> Identity:
    """Who is using this session; asks to sign in (and stops the page) when sign-in is configured."""
    if not sign_in_configured():
        return LOCAL
    cfg = resources.settings().auth
    if not st.user.is_logged_in:
        st.title("ragloop")
        st.write("Sign in to chat with your documents.")
        if st.button("Sign in", type="primary"):
            st.login(cfg.provider) if cfg.provider else st.login()
        st.stop()
    try:
        return identity_from_claims(st.user.to_dict(), cfg)
    except Forbidden as err:
        st.error(str(err))
        st.stop()
        raise  # not reached: st.stop() ends the run


def sidebar(identity: Identity) -> None:
    """Who is signed in, and the sign-out button."""
    with st.sidebar:
        if identity.signed_in:
            st.caption(f"Signed in as **{identity.name}** · {', '.join(sorted(identity.roles))}")
            if st.button("Sign out", key="sign_out"):
                st.logout()
        else:
            st.caption("Local user, no sign-in: this app listens on 127.0.0.1 only.")


def guard(identity: Identity, role: str, action: str) -> None:
    """Stop the page with a clear message unless ``identity`` has ``role``."""
    try:
        require(identity, role, action)
    except Forbidden as err:
        log.info("refused %s to %s", action, identity.user_id)
        st.error(str(err))
        st.stop()

"""Who may do what in the app: the signed-in identity, its roles, and the checks every action runs.

- Roles: ``user`` (chat, rate, correct; sees only their own chats and feedback), ``reviewer`` (the review
  queue: approve, edit, reject), ``admin`` (uploads into the shared index, everyone's dashboard, and
  everything a reviewer may do).
- A signed-in identity comes from the OIDC ID token's claims (Streamlit's ``st.user``): the user id is
  the ``sub`` claim (stable, unlike an email), roles come from a groups claim mapped in settings
  (``auth.roles_claim`` / ``auth.group_roles``) or from email allow-lists.
- Without sign-in configured the app is one local user with every role, bound to 127.0.0.1 (``LOCAL``).
- The four-eyes rule: a reviewer may not approve a correction they wrote (``auth.four_eyes``).

Pages call ``require`` / ``check_approval`` where the action happens, so a hidden button is never the
only guard. This module is pure; ``ragloop/ui/identity.py`` reads ``st.user`` and applies it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import RagloopError
from core.settings import AuthSettings
from feedback.schema import LOCAL_USER_ID

ROLES = ("user", "reviewer", "admin")


class Forbidden(RagloopError):
    """The signed-in identity lacks the role (or the rule) an action needs."""


@dataclass(frozen=True)
class Identity:
    user_id: str
    name: str
    email: str | None
    roles: frozenset[str]
    signed_in: bool

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def label(self) -> str:
        roles = ", ".join(r for r in ROLES if r in self.roles)
        return f"{self.name} ({roles})"


LOCAL = Identity(LOCAL_USER_ID, "local user, no sign-in", None, frozenset(ROLES), signed_in=False)


def _groups(value: Any) -> set[str]:
    """A groups claim: a list, or one string of names separated by commas or spaces."""
    if value is None:
        return set()
    if isinstance(value, str):
        return {g for g in value.replace(",", " ").split() if g}
    return {str(g) for g in value}


def roles_from_claims(claims: Mapping[str, Any], cfg: AuthSettings) -> frozenset[str]:
    roles = {"user"}
    for group in _groups(claims.get(cfg.roles_claim)):
        if group in cfg.group_roles:
            roles.add(cfg.group_roles[group])
    email = str(claims.get("email") or "").lower()
    if email and email in {e.lower() for e in cfg.reviewer_emails}:
        roles.add("reviewer")
    if email and email in {e.lower() for e in cfg.admin_emails}:
        roles.add("admin")
    if "admin" in roles:
        roles.add("reviewer")
    return frozenset(roles)


def identity_from_claims(claims: Mapping[str, Any], cfg: AuthSettings) -> Identity:
    sub = claims.get("sub")
    if not sub:
        raise Forbidden("the identity provider's token carries no subject ('sub'); cannot tell who you are")
    email = claims.get("email")
    name = str(claims.get("name") or claims.get("preferred_username") or email or sub)
    return Identity(str(sub), name, str(email) if email else None, roles_from_claims(claims, cfg), True)


def require(identity: Identity, role: str, action: str) -> None:
    """Raise ``Forbidden`` unless ``identity`` has ``role``."""
    if not identity.has(role):
        raise Forbidden(f"{action} needs the {role} role; you are signed in as {identity.label}")


def check_approval(identity: Identity, author_id: str | None, cfg: AuthSettings) -> None:
    """A reviewer approving a record: the role, and (four eyes) not their own correction."""
    require(identity, "reviewer", "approving corrections")
    if cfg.four_eyes and identity.signed_in and author_id == identity.user_id:
        raise Forbidden("you wrote this correction: another reviewer must approve it (four-eyes rule)")


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def check_listen(address: str, sign_in_configured: bool) -> None:
    """Refuse to serve beyond this machine without sign-in: anyone on the network could otherwise
    approve training data."""
    if not is_loopback(address) and not sign_in_configured:
        raise RagloopError(
            f"refusing to listen on {address} without sign-in: configure OIDC in .streamlit/secrets.toml "
            "([auth], see README 'Sign-in and roles') or listen on 127.0.0.1"
        )

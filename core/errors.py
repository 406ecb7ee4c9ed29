"""The base of every error whose message is meant for the user; the CLI and app print ``str(err)``."""

from __future__ import annotations


class RagloopError(Exception):
    """A problem the user can act on, described in plain words."""

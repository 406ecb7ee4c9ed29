"""Per-session routing between the base model and live adapters, by configured weights.

The choice is a pure function of the session id and the serving state: a session keeps its arm for its
whole life (fair A/B comparisons), and the choice is recorded in each answer's trace, so feedback and the
dashboard are per adapter.
"""

from __future__ import annotations

import hashlib

from serving.registry import ServingState


def bucket(session_id: str) -> float:
    """A stable number in [0, 1) for a session."""
    digest = hashlib.sha256(session_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_adapter(session_id: str, state: ServingState) -> str | None:
    """The served adapter name for this session, or None for the base model."""
    routes = state.routes()
    total = sum(w for _, w in routes)
    scale = max(total, 1.0)  # weights summing over 1 are normalised; under 1 leaves the rest to base
    point, edge = bucket(session_id), 0.0
    for name, weight in routes:
        edge += weight / scale
        if point < edge:
            return name
    return None

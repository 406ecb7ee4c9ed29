"""Per-session routing between the base model and live adapters, by configured weights.

The choice is a pure function of the session id and the serving state: a session keeps its arm for its
whole life (fair A/B comparisons), and the choice is recorded in each answer's trace, so feedback and the
dashboard are per adapter.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from serving.registry import AdapterRegistry, RegistryError, ServingState

log = logging.getLogger(__name__)


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


class RoutingState:
    """The serving state as the app's router sees it: re-read at most every ``ttl_s`` seconds (one S3
    GET per few seconds, not per question), and when the registry cannot be read, the last state read
    keeps serving (the base model before any was read) — chat never fails because the registry is down.
    """

    def __init__(
        self, registry: AdapterRegistry, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = registry
        self.ttl_s = ttl_s
        self.clock = clock  # injectable, so tests step time for this object alone
        self._state: ServingState | None = None
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> ServingState:
        with self._lock:
            if self.clock() - self._read_at >= self.ttl_s:
                try:
                    self._state = self.registry.state()
                except (RegistryError, OSError, ValueError) as err:
                    log.warning("adapter registry unreadable, routing on the last state read: %s", err)
                self._read_at = self.clock()  # also after a failure: retry after ttl, not per request
            return self._state or ServingState()

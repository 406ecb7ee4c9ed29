"""Publish, promote, roll back and retire adapters on a running vLLM server, without a restart.

``publish`` validates the directory (files, weights, rank against the server's maximum), copies it into
the registry as a new version, loads it into vLLM under ``<name>-v<N>``, checks that ``/v1/models``
lists it, runs a smoke prompt through it, and only then switches traffic to it. Any failure unloads
the new version and leaves the previous state serving, with the reason in the error. The previous
version stays loaded, so requests already streaming from it finish.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import RagloopError
from serving.registry import (
    AdapterRegistry,
    AdapterRejected,
    AdapterState,
    RegistryError,
    ServingState,
    served_name,
    validate_adapter_dir,
)
from serving.vllm_admin import ServerError, VLLMAdmin

log = logging.getLogger(__name__)


class PublishError(RagloopError):
    """Publishing failed; the previous state is still serving."""


@dataclass
class PublishResult:
    name: str
    version: int
    served_name: str
    seconds: float


class Publisher:
    def __init__(
        self, registry: AdapterRegistry, admin: VLLMAdmin, max_rank: int | None = None, gate=None
    ) -> None:
        self.registry = registry
        self.admin = admin
        self.max_rank = max_rank
        self.gate = gate  # optional callable(adapter_dir) -> None, raises to refuse (eval gate)

    def publish(self, adapter_dir: Path, name: str | None = None, weight: float = 1.0) -> PublishResult:
        started = time.perf_counter()
        if not 0.0 <= weight <= 1.0:
            raise PublishError(f"weight must be between 0 and 1, not {weight}")
        manifest = validate_adapter_dir(adapter_dir, self.max_rank)
        name = name or manifest.name
        if self.gate is not None:
            self.gate(adapter_dir)
        version = self.registry.add(adapter_dir, name)
        lora_name = served_name(name, version)

        def go_live(state: ServingState) -> int | None:
            entry = state.adapters.setdefault(name, AdapterState())
            stale = entry.previous  # two versions back: no request can still be using it
            entry.versions.append(version)
            entry.previous, entry.live = entry.live, version
            entry.weight, entry.retired = weight, False
            return stale if stale not in (entry.live, entry.previous) else None

        loaded = False
        try:
            self.admin.load(lora_name, str(self.registry.path(name, version).resolve()))
            loaded = True
            if lora_name not in self.admin.served_adapters():
                raise ServerError(f"{lora_name!r} does not appear in /v1/models after loading")
            self.admin.smoke(lora_name)
            stale = self.registry.update(go_live)  # the commit point: traffic moves only once this is written
        except (ServerError, AdapterRejected, RegistryError, FileNotFoundError) as err:
            if loaded:
                self._quiet_unload(lora_name)
            raise PublishError(f"publishing {name} v{version} failed, nothing changed: {err}") from err
        if stale is not None:
            self._quiet_unload(served_name(name, stale))
        seconds = time.perf_counter() - started
        log.info("published %s as %s in %.2f s", name, lora_name, seconds)
        return PublishResult(name, version, lora_name, seconds)

    def promote(self, name: str) -> None:
        """Send all traffic to ``name``'s live version and keep it across server restarts."""

        def promote(state: ServingState) -> None:
            entry = self._entry(state, name)
            for other_name, other in state.adapters.items():
                if other_name != name:
                    other.weight = 0.0
            entry.weight, entry.promoted = 1.0, True

        self.registry.update(promote)

    def rollback(self, name: str) -> int | None:
        """Route ``name``'s traffic back to its previous version (None: back to the base model)."""
        target = self._entry(self.registry.state(), name).previous
        if target is not None:  # load it before any traffic is sent back to it
            lora_name = served_name(name, target)
            if lora_name not in self.admin.served_adapters():
                self.admin.load(lora_name, str(self.registry.path(name, target).resolve()))

        def roll_back(state: ServingState) -> None:
            entry = self._entry(state, name)
            if entry.previous != target:
                raise PublishError(f"{name} changed while rolling back; look at `ragloop adapters list`")
            if target is None:
                entry.weight = 0.0
            entry.live, entry.previous = target, None

        self.registry.update(roll_back)
        return target

    def retire(self, name: str) -> None:
        """Stop routing to ``name`` and unload every version of it from the server."""

        def retire(state: ServingState) -> list[int]:
            entry = self._entry(state, name)
            entry.weight, entry.promoted, entry.retired = 0.0, False, True
            return list(entry.versions)

        for version in self.registry.update(retire):
            self._quiet_unload(served_name(name, version))

    def reload_live(self) -> list[str]:
        """After a server (re)start: load every live adapter again. Returns the served names loaded."""
        loaded = []
        served = self.admin.served_adapters()
        for name, entry in self.registry.state().adapters.items():
            if entry.live is None or entry.retired:
                continue
            lora_name = served_name(name, entry.live)
            if lora_name not in served:
                self.admin.load(lora_name, str(self.registry.path(name, entry.live).resolve()))
            loaded.append(lora_name)
        return loaded

    def _entry(self, state, name: str) -> AdapterState:
        if name not in state.adapters:
            raise PublishError(f"no adapter named {name!r} in the registry")
        return state.adapters[name]

    def _quiet_unload(self, lora_name: str) -> None:
        try:
            self.admin.unload(lora_name)
        except ServerError as err:
            log.warning("could not unload %s: %s", lora_name, err)

"""The adapter registry: versioned copies of adapter directories plus the serving state.

Layout of a local registry (the default; ``serving.s3_registry`` keeps the same layout under an S3
prefix)::

    <root>/<name>/v<N>/            adapter_config.json, adapter_model.safetensors, manifest.json
    <root>/state.json              which version of each adapter is live, traffic weights, promotions

A version number is claimed atomically and never reused, even when its publish failed, so two
publishers never write into the same version and vLLM never sees one served name for two adapters.
``state.json`` changes only through ``update``: read, change, write back only if nobody wrote in
between (a file lock here, a conditional put on S3), so concurrent publishes lose no change. A reader
(the app's router) always sees a whole state.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import BaseModel, Field

from core.errors import RagloopError
from core.manifest import MANIFEST_FILE, AdapterManifest

ADAPTER_FILES = ("adapter_config.json",)
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")


T = TypeVar("T")
VERSION_DIR = re.compile(r"^v(\d+)$")
SKIPPED_DIRS = ("checkpoints",)  # training checkpoints (optimizer states) stay with the training run


class AdapterRejected(RagloopError):
    """An adapter directory is incomplete, corrupt or does not fit the server."""


class RegistryError(RagloopError):
    """The registry cannot be read or written (missing bucket, no access, too much contention)."""


class AdapterState(BaseModel):
    versions: list[int] = Field(default_factory=list)
    live: int | None = None  # the version traffic goes to
    previous: int | None = None  # the version rollback returns to
    weight: float = 0.0  # share of sessions routed to this adapter
    promoted: bool = False  # re-loaded when the server restarts
    retired: bool = False


class ServingState(BaseModel):
    adapters: dict[str, AdapterState] = Field(default_factory=dict)

    def routes(self) -> list[tuple[str, float]]:
        """(served name, weight) of every live adapter with traffic; the rest goes to the base model."""
        return [
            (served_name(n, a.live), a.weight)
            for n, a in sorted(self.adapters.items())
            if a.live is not None and a.weight > 0 and not a.retired
        ]


def served_name(name: str, version: int) -> str:
    """The name vLLM serves a version under; versions coexist, so a switch never breaks a request."""
    return f"{name}-v{version}"


def parse_served_name(served: str) -> tuple[str, int] | None:
    """(name, version) of a served adapter name, the inverse of ``served_name``; None if not one."""
    name, _, version = served.rpartition("-v")
    return (name, int(version)) if name and version.isdigit() else None


def validate_adapter_dir(path: Path, max_rank: int | None = None) -> AdapterManifest:
    """Check an adapter directory before anything touches the server; raise ``AdapterRejected``."""
    path = Path(path)
    if not path.is_dir():
        raise AdapterRejected(f"{path} is not a directory")
    for required in (*ADAPTER_FILES, MANIFEST_FILE):
        if not (path / required).is_file():
            raise AdapterRejected(f"{path} has no {required}")
    if not any((path / w).is_file() for w in WEIGHT_FILES):
        raise AdapterRejected(f"{path} has no adapter weights ({' or '.join(WEIGHT_FILES)})")
    try:
        config = json.loads((path / "adapter_config.json").read_text())
        manifest = AdapterManifest.read(path)
    except (ValueError, OSError) as err:
        raise AdapterRejected(f"{path}: unreadable adapter_config.json or manifest.json ({err})") from None
    weights = path / "adapter_model.safetensors"
    if weights.is_file():
        try:
            from safetensors import safe_open

            with safe_open(str(weights), "pt") as fh:
                list(fh.keys())
        except Exception as err:
            raise AdapterRejected(f"{path}: corrupt adapter weights ({err})") from None
    rank = int(config.get("r", manifest.lora_rank))
    if max_rank is not None and rank > max_rank:
        raise AdapterRejected(
            f"{path}: LoRA rank {rank} is above the server's maximum of {max_rank} "
            "(raise serve.max_lora_rank and restart vLLM, or train with a smaller rank)"
        )
    return manifest


class AdapterRegistry(Protocol):
    """What the publisher, the app's router and the Models page need from a registry."""

    @property
    def location(self) -> str:
        """Where the registry lives, for people: a directory or ``s3://bucket/prefix``."""
        ...

    def state(self) -> ServingState: ...

    def save_state(self, state: ServingState) -> None: ...

    def update(self, change: Callable[[ServingState], T]) -> T:
        """Apply ``change`` to the current state and store it atomically; returns what it returned.
        ``change`` may run more than once (on a conflicting write), so it must only edit the state."""
        ...

    def add(self, adapter_dir: Path, name: str) -> int:
        """Store an adapter directory as the next version of ``name``; returns the version."""
        ...

    def path(self, name: str, version: int) -> Path:
        """A local directory holding the version, for vLLM to load."""
        ...

    def manifest(self, name: str, version: int) -> AdapterManifest: ...


def version_numbers(names: Iterable[str]) -> list[int]:
    """The version numbers among directory or key-prefix names (``v3`` -> 3), sorted."""
    found = (VERSION_DIR.match(n) for n in names)
    return sorted(int(m.group(1)) for m in found if m)


def claim_next_version(claimed: Iterable[int], claim: Callable[[int], bool]) -> int:
    """The first version above every ``claimed`` one that ``claim(version)`` secures atomically
    (``claim`` returns False when another publisher got that number first)."""
    version = max(claimed, default=0)
    while True:
        version += 1
        if claim(version):
            return version


def adapter_files(adapter_dir: Path) -> Iterator[Path]:
    """The files of an adapter directory that belong in the registry, relative to it."""
    for path in sorted(Path(adapter_dir).rglob("*")):
        relative = path.relative_to(adapter_dir)
        if path.is_file() and relative.parts[0] not in SKIPPED_DIRS:
            yield relative


class LocalAdapterRegistry:
    """The embedded default: a directory on this machine (shared with vLLM when it runs elsewhere)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    def state(self) -> ServingState:
        if not self.state_path.exists():
            return ServingState()
        return ServingState.model_validate_json(self.state_path.read_text())

    def save_state(self, state: ServingState) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".state-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            fh.write(state.model_dump_json(indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / ".state.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def update(self, change: Callable[[ServingState], T]) -> T:
        with self._locked():
            state = self.state()
            result = change(state)
            self.save_state(state)
            return result

    def path(self, name: str, version: int) -> Path:
        return self.root / name / f"v{version}"

    def versions(self, name: str) -> list[int]:
        """Every claimed version of ``name``, published or not."""
        folder = self.root / name
        return version_numbers(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def add(self, adapter_dir: Path, name: str) -> int:
        def claim(version: int) -> bool:
            target = self.path(name, version)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                target.mkdir()  # atomic: fails if another publisher took this number
            except FileExistsError:
                return False
            return True

        published = self.state().adapters.get(name, AdapterState()).versions
        version = claim_next_version([*self.versions(name), *published], claim)
        target = self.path(name, version)
        for relative in adapter_files(adapter_dir):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(adapter_dir) / relative, target / relative)
        return version

    def manifest(self, name: str, version: int) -> AdapterManifest:
        return AdapterManifest.read(self.path(name, version))


def open_registry(settings) -> AdapterRegistry:
    """The registry the settings choose: a local directory (default) or an S3 bucket."""
    if settings.registry.kind == "s3":
        from serving.s3_registry import S3AdapterRegistry

        return S3AdapterRegistry.from_settings(settings)
    return LocalAdapterRegistry(settings.registry_dir)

"""The adapter registry: versioned copies of adapter directories plus the serving state.

Layout of a local registry (the default; an S3 registry keeps the same layout under a prefix)::

    <root>/<name>/v<N>/            adapter_config.json, adapter_model.safetensors, manifest.json
    <root>/state.json              which version of each adapter is live, traffic weights, promotions

``state.json`` is replaced atomically, so a reader (the app's router) always sees a whole state.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from ragloop.errors import RagloopError
from ragloop.manifest import MANIFEST_FILE, AdapterManifest

ADAPTER_FILES = ("adapter_config.json",)
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")


class AdapterRejected(RagloopError):
    """An adapter directory is incomplete, corrupt or does not fit the server."""


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


class LocalAdapterRegistry:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

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

    def path(self, name: str, version: int) -> Path:
        return self.root / name / f"v{version}"

    def add(self, adapter_dir: Path, name: str) -> int:
        """Copy an adapter directory in as the next version of ``name``; returns the version."""
        state = self.state()
        entry = state.adapters.get(name, AdapterState())
        version = max(entry.versions, default=0) + 1
        target = self.path(name, version)
        if target.exists():
            shutil.rmtree(target)
        # training checkpoints (optimizer states) stay with the training run, not in the registry
        shutil.copytree(adapter_dir, target, ignore=shutil.ignore_patterns("checkpoints"))
        return version

    def manifest(self, name: str, version: int) -> AdapterManifest:
        return AdapterManifest.read(self.path(name, version))

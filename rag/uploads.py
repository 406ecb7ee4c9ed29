"""Files users upload in the app, saved into the upload folder before ingest.

Upload names come from the browser and are untrusted: only the base name is kept (``../../x.md`` is
saved as ``x.md`` inside the folder, never beside it). Each file gets a one-line verdict: saved,
replaced (a file of that name was uploaded before; ingest then replaces its chunks), or refused —
unsupported type, over the size limit, empty, or the same name twice in one batch (the first is kept).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rag.loaders import SUPPORTED_SUFFIXES


@dataclass
class UploadBatch:
    saved: list[Path] = field(default_factory=list)  # written into the folder, ready to ingest
    replaced: list[str] = field(default_factory=list)  # names that overwrote an earlier upload
    refused: dict[str, str] = field(default_factory=dict)  # uploaded name -> one-line reason


def human_size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.1f} KB"


def safe_name(name: str) -> str | None:
    """The base name of an uploaded file, or None when nothing usable is left."""
    base = PurePosixPath(name.replace("\\", "/")).name.strip()
    return base if base not in ("", ".", "..") and not base.startswith(".") else None


def save_uploads(files: Iterable[tuple[str, bytes]], folder: Path, max_bytes: int) -> UploadBatch:
    """Write each ``(name, data)`` into ``folder`` under its safe base name; refuse what cannot be used."""
    folder.mkdir(parents=True, exist_ok=True)
    batch = UploadBatch()
    seen: set[str] = set()
    for name, data in files:
        base = safe_name(name)
        if base is None:
            batch.refused[name] = f"{name!r} is not a usable file name"
            continue
        suffix = PurePosixPath(base).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            batch.refused[name] = f"{base}: unsupported file type {suffix or '(none)'!r} (use {supported})"
        elif len(data) > max_bytes:
            size, limit = human_size(len(data)), human_size(max_bytes)
            batch.refused[name] = f"{base} is {size}; the upload limit is {limit}"
        elif not data:
            batch.refused[name] = f"{base} is empty (0 bytes)"
        elif base in seen:
            batch.refused[name] = f"{base} was uploaded twice in this batch; the first one is kept"
        else:
            seen.add(base)
            path = folder / base
            if path.exists():
                batch.replaced.append(base)
            tmp = folder / f".{base}.part"
            tmp.write_bytes(data)
            os.replace(tmp, path)  # a reader never sees half a file
            batch.saved.append(path)
    return batch

"""Ingest: files -> pages -> chunks -> embeddings -> vector store, incrementally.

A file whose bytes are unchanged since the last run is skipped, a changed file has its old chunks
replaced, and a file that disappeared from an ingested folder has its chunks removed. A file that cannot
be read is reported and skipped; the rest are indexed.

The index records which chunker (strategy and sizes) and embedding model built it. Ingesting with a
different one would mix two kinds of chunks, so it stops with ``IndexVersionMismatch`` saying how to
re-index; ``reindex=True`` (``ragloop ingest --reindex``) re-reads every file the index holds, plus the
given paths, with the current configuration. ``rebuild_if_changed=True`` does that only on a mismatch:
for an index the caller owns (the demo's, the loop's).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from rag.chunking import Chunker
from rag.embeddings import Embedder
from rag.errors import DocumentError, IndexVersionMismatch
from rag.loaders import is_supported, load_pages
from rag.protocols import Chunk, VectorStore

log = logging.getLogger(__name__)

ENCODE_GROUP_CHUNKS = 512  # chunks per encode call, gathered from whole files (bounds memory)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # path -> reason
    chunks_written: int = 0
    reindexed: str = ""  # why every indexed file was re-read ("" when it was not)

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.removed)} removed",
            f"{len(self.failed)} failed",
            f"{self.chunks_written} chunks written",
        ]
        return ", ".join(parts)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def index_version(chunker, embedder: Embedder) -> dict[str, str]:
    """What builds an index: compared on every ingest and at query time."""
    return {"chunker": chunker.version, "embedding_model": embedder.model_id}


def version_problem(recorded: dict[str, str] | None, current: dict[str, str]) -> str | None:
    """Why chunks made under ``current`` must not join an index made under ``recorded`` (None: fine)."""
    recorded = recorded or {
        "chunker": "unrecorded (before ragloop recorded it)",
        "embedding_model": "unrecorded",
    }
    changed = [
        f"{key} {recorded.get(key)!r} -> {value!r}"
        for key, value in current.items()
        if recorded.get(key) != value
    ]
    return "; ".join(changed) or None


def encode_groups(
    pending: list[tuple[Path, str, list[Chunk]]], chunks_per_group: int
) -> Iterable[list[tuple[Path, str, list[Chunk]]]]:
    """Consecutive whole files, each group holding at least ``chunks_per_group`` chunks (the last: what
    is left), so one encode call spans many small files and no file is split across calls."""
    group: list[tuple[Path, str, list[Chunk]]] = []
    size = 0
    for item in pending:
        group.append(item)
        size += len(item[2])
        if size >= chunks_per_group:
            yield group
            group, size = [], 0
    if group:
        yield group


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Path], dict[str, str]]:
    """Expand paths into supported files. Returns (files, folder roots, problems by path)."""
    files: list[Path] = []
    roots: list[Path] = []
    problems: dict[str, str] = {}
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            roots.append(path)
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and is_supported(p))
        elif path.is_file():
            if is_supported(path):
                files.append(path)
            else:
                problems[str(path)] = f"unsupported file type {path.suffix or '(none)'!r}"
        else:
            problems[str(path)] = "no such file or folder"
    return list(dict.fromkeys(files)), roots, problems


class Ingestor:
    def __init__(self, store: VectorStore, embedder: Embedder, chunker: Chunker) -> None:
        self.store = store
        self.embedder = embedder
        self.chunker = chunker

    def ingest(
        self,
        paths: Iterable[Path],
        progress: bool = True,
        reindex: bool = False,
        rebuild_if_changed: bool = False,
    ) -> IngestReport:
        paths = list(paths)
        version = index_version(self.chunker, self.embedder)
        problem = version_problem(self.store.index_version(), version) if self.store.count() else None
        if problem and not (reindex or rebuild_if_changed):
            raise IndexVersionMismatch(
                f"the index was built differently from the current configuration ({problem}); "
                "mixing both kinds of chunks would skew retrieval. Re-index with `ragloop ingest --reindex "
                "PATH...` (re-reads every indexed file that still exists), or switch the configuration back."
            )
        reason = problem or ("asked for" if reindex else "")
        if reason:
            held = list(self.store.sources())
            log.warning("re-indexing %d files (%s)", len(held), reason)
            for source in held:
                self.store.delete_source(source)
            paths += [Path(s) for s in held if Path(s).exists()]
        self.store.set_index_version(version)
        files, roots, problems = discover(paths)
        report = IngestReport(failed=dict(problems), reindexed=reason)
        indexed = self.store.sources()

        # Files gone from an ingested folder: drop their chunks.
        present = {str(f) for f in files}
        for source in indexed:
            in_root = any(Path(source).is_relative_to(root) for root in roots)
            if in_root and source not in present and not Path(source).exists():
                self.store.delete_source(source)
                report.removed.append(source)

        pending: list[tuple[Path, str, list[Chunk]]] = []
        for path in tqdm(files, desc="reading", unit="file", disable=not progress):
            source = str(path)
            try:
                file_hash = file_sha256(path)
                if indexed.get(source) == file_hash:
                    report.unchanged.append(source)
                    continue
                chunks = self.chunker.split(source, file_hash, load_pages(path))
                if not chunks:
                    raise DocumentError(f"{path}: no text to index")
            except DocumentError as err:
                report.failed[source] = str(err)
                log.warning("skipped %s", err)
                continue
            except OSError as err:
                report.failed[source] = f"{path}: cannot read ({err.strerror or err})"
                log.warning("skipped %s: %s", path, err)
                continue
            pending.append((path, file_hash, chunks))

        total = sum(len(c) for _, _, c in pending)
        with tqdm(total=total, desc="embedding", unit="chunk", disable=not progress or not total) as bar:
            for group in encode_groups(pending, ENCODE_GROUP_CHUNKS):
                # one encode call over several files: the encoder sorts by length and fills whole batches,
                # where a call per file (15 chunks of a 3-page document) pads and pays per call
                vectors = self.embedder.encode([c.text for _, _, chunks in group for c in chunks])
                start = 0
                for path, _file_hash, chunks in group:
                    source = str(path)
                    if source in indexed:
                        self.store.delete_source(source)
                        report.updated.append(source)
                    else:
                        report.added.append(source)
                    self.store.add(chunks, vectors[start : start + len(chunks)])
                    start += len(chunks)
                    report.chunks_written += len(chunks)
                    bar.update(len(chunks))
        log.info("ingest: %s", report.summary())
        return report

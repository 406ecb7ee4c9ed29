"""The embedded default ``VectorStore``: one SQLite file on disk, no server.

- SQLite (WAL) is the source of truth: chunk rows with their metadata and float32 vectors. Writes are
  transactions, so a crash never leaves half an ingest.
- faiss holds the vectors in memory (``dense_index``): exact inner-product search while the store is
  small, an HNSW graph above a size threshold. It is kept in step on every write; an exact index is
  rebuilt from SQLite on open, an HNSW graph is saved beside the file and reconciled with SQLite on open.
- Row ids are never reused (a high-water mark in ``meta``), so an id the saved graph holds but SQLite
  lacks is a deletion, and stays one after a restart.
- bm25s (sparse-matrix BM25) scores keywords; its index is rebuilt from SQLite lazily, at the first
  hybrid search after a write (about 3 s per 100k chunks), so bulk ingest pays for it once.
- Hybrid search blends dense and BM25 scores the way OpenSearch's normalization processor does
  (min-max per list, weighted arithmetic mean), so both backends rank alike.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.sqlite import use_wal, write_transaction
from rag.backends.dense_index import AnnParams, DenseIndex
from rag.protocols import FILTERABLE_FIELDS, Chunk, Filters, SearchHit

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    page INTEGER,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    section TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
"""

_COLUMNS = 'rowid, chunk_id, text, source, page, start, "end", content_hash, file_hash, section'
_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def keyword_terms(text: str) -> list[str]:
    """Lower-cased word tokens without English stop words: the BM25 vocabulary."""
    stop = _stop_words()
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in stop]


def _row_to_chunk(row: sqlite3.Row) -> Chunk:
    return Chunk(
        chunk_id=row["chunk_id"],
        text=row["text"],
        source=row["source"],
        page=row["page"],
        start=row["start"],
        end=row["end"],
        content_hash=row["content_hash"],
        file_hash=row["file_hash"],
        section=row["section"],
    )


def _min_max(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-12:
        return dict.fromkeys(scores, 1.0)
    return {key: (value - lo) / (hi - lo) for key, value in scores.items()}


class EmbeddedVectorStore:
    """SQLite + faiss + bm25s. Thread-safe for one process; open one per process."""

    def __init__(
        self,
        path: Path | str,
        dim: int,
        hybrid_weight: float = 0.6,
        candidates: int = 50,
        ann: AnnParams | None = None,
    ) -> None:
        self.path = Path(path)
        self.graph_path = self.path.with_name(self.path.name + ".hnsw")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self.hybrid_weight = hybrid_weight
        self.candidates = candidates
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = sqlite3.Row
        use_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        # processes opening a new file at once: one makes the schema, the others wait and find it made
        with write_transaction(self._db):
            for statement in filter(str.strip, _SCHEMA.split(";")):  # executescript would commit
                self._db.execute(statement)
            self._migrate()
            self._check_dim()
        self._ann = ann or AnnParams()
        self._index = self._open_index()
        self._keywords = None  # (bm25s.BM25, rowids in corpus order); None: stale, rebuild on demand
        self._data_version = self._db.execute("PRAGMA data_version").fetchone()[0]

    # -- setup -------------------------------------------------------------------------------
    def _migrate(self) -> None:
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(chunks)")}
        if "section" not in columns:  # stores written before chunks carried their heading path
            self._db.execute("ALTER TABLE chunks ADD COLUMN section TEXT NOT NULL DEFAULT ''")

    def _check_dim(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='dim'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta(key, value) VALUES ('dim', ?)", (str(self.dim),))
        elif int(row["value"]) != self.dim:
            raise ValueError(
                f"{self.path} holds {row['value']}-dim vectors but the embedder makes {self.dim}-dim ones; "
                "re-ingest into a fresh data directory after changing the embedding model"
            )

    def _open_index(self) -> DenseIndex:
        truth = np.fromiter((r[0] for r in self._db.execute("SELECT rowid FROM chunks")), dtype=np.int64)
        kind = self._ann.kind
        if kind == "auto":
            kind = "hnsw" if truth.size > self._ann.threshold else "flat"
        if kind == "hnsw" and self.graph_path.is_file():
            try:
                index = DenseIndex.load(self.graph_path, self.dim, self._ann)
            except (RuntimeError, ValueError) as exc:
                log.warning("rebuilding the HNSW graph: %s could not be loaded (%s)", self.graph_path, exc)
            else:
                missing = index.reconcile(truth)
                self._add_rows(index, missing)
                log.debug(
                    "loaded the HNSW graph of %s; %d rows added since its save", self.path, missing.size
                )
                return index
        index = DenseIndex(self.dim, self._ann, kind=kind)
        self._add_rows(index, truth)
        self._save_graph(index)
        return index

    def _add_rows(self, index: DenseIndex, rowids: np.ndarray, batch: int = 50_000) -> None:
        """Add the stored vectors of ``rowids`` to ``index`` in batches (bounded memory at 1M rows)."""
        for start in range(0, rowids.size, batch):
            part = _json_list(rowids[start : start + batch].tolist())
            rows = self._db.execute(
                "SELECT rowid, vector FROM chunks WHERE rowid IN (SELECT value FROM json_each(?))", (part,)
            ).fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            index.add(ids, vectors.reshape(len(rows), self.dim))

    def index_version(self) -> dict[str, str] | None:
        row = self._db.execute("SELECT value FROM meta WHERE key='index_version'").fetchone()
        return json.loads(row["value"]) if row else None

    def set_index_version(self, version: dict[str, str]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('index_version', ?)", (json.dumps(version),)
            )

    # -- writes ------------------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if len(chunks) and vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have dim {vectors.shape[1]}, store expects {self.dim}")
        with self._lock:
            with write_transaction(self._db):
                replaced = self._delete_where(
                    "chunk_id IN (SELECT value FROM json_each(?))",
                    (_json_list([c.chunk_id for c in chunks]),),
                )
                first = self._next_rowid()
                new_ids = list(range(first, first + len(chunks)))
                for rowid, chunk, vector in zip(new_ids, chunks, vectors, strict=True):
                    self._db.execute(
                        'INSERT INTO chunks(rowid, chunk_id, source, page, start, "end", content_hash,'
                        " file_hash, text, vector, section) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            rowid,
                            chunk.chunk_id,
                            chunk.source,
                            chunk.page,
                            chunk.start,
                            chunk.end,
                            chunk.content_hash,
                            chunk.file_hash,
                            chunk.text,
                            vector.tobytes(),
                            chunk.section,
                        ),
                    )
                self._db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('next_rowid', ?)",
                    (str(first + len(chunks)),),
                )
            self._index.remove(replaced)
            self._keywords = None
            kind_before = self._index.kind
            self._index.add(np.asarray(new_ids, dtype=np.int64), vectors)
            if kind_before != self._index.kind:  # just became a graph: save it once built
                self._save_graph(self._index)

    def _next_rowid(self) -> int:
        """One past every rowid ever used: a deleted row's id is never handed out again."""
        mark = self._db.execute("SELECT value FROM meta WHERE key='next_rowid'").fetchone()
        top = self._db.execute("SELECT COALESCE(MAX(rowid), 0) FROM chunks").fetchone()[0]
        return max(int(mark[0]) if mark else 0, int(top) + 1)

    def _save_graph(self, index: DenseIndex) -> None:
        if index.kind == "hnsw" and index.unsaved:
            index.save(self.graph_path)

    def delete_source(self, source: str) -> int:
        with self._lock:
            with write_transaction(self._db):
                removed = self._delete_where("source = ?", (source,))
            if removed:
                self._index.remove(removed)
                self._keywords = None
            return len(removed)

    def _delete_where(self, where: str, params: tuple) -> list[int]:
        ids = [r[0] for r in self._db.execute(f"SELECT rowid FROM chunks WHERE {where}", params)]
        if ids:
            self._db.execute(
                "DELETE FROM chunks WHERE rowid IN (SELECT value FROM json_each(?))", (_json_list(ids),)
            )
        return ids

    # -- reads -------------------------------------------------------------------------------
    def _catch_up(self) -> None:
        """Take in what other connections committed since the last read — another process's ingest, an
        embedder publish's re-index, another app replica on the same file: SQLite's ``data_version``
        changes only then (one cheap pragma per read). Rows they added join the dense index, rows they
        deleted leave it, and the keyword index is rebuilt on demand."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._data_version:
            return
        self._data_version = version
        truth = np.fromiter((r[0] for r in self._db.execute("SELECT rowid FROM chunks")), dtype=np.int64)
        self._add_rows(self._index, self._index.reconcile(truth))
        self._keywords = None

    def count(self) -> int:
        with self._lock:
            self._catch_up()
            return len(self._index)

    @property
    def index_kind(self) -> str:
        """``flat`` (exact search) or ``hnsw`` (approximate, above the size threshold)."""
        return self._index.kind

    def sources(self) -> dict[str, str]:
        rows = self._db.execute("SELECT DISTINCT source, file_hash FROM chunks").fetchall()
        return {r["source"]: r["file_hash"] for r in rows}

    def search(
        self, vector: np.ndarray, text: str | None = None, k: int = 4, filters: Filters | None = None
    ) -> list[SearchHit]:
        if k < 1:
            raise ValueError("k must be >= 1")
        query = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, self.dim))
        with self._lock:
            self._catch_up()
            if len(self._index) == 0:
                return []
            allowed = self._filtered_ids(filters) if filters else None
            if allowed is not None and allowed.size == 0:
                return []
            n_candidates = max(k, self.candidates) if text else k
            dense = self._dense(query, n_candidates, allowed)
            if not text or self.hybrid_weight >= 1.0:
                ranked = sorted(dense.items(), key=lambda kv: -kv[1])[:k]
                return self._hits(ranked)
            keyword = self._bm25(text, n_candidates, allowed)
            # Dense scores for keyword-only candidates, so both lists cover the same union.
            missing = [i for i in keyword if i not in dense]
            if missing:
                dense.update(self._exact_scores(query, missing))
            dense_n, keyword_n = _min_max(dense), _min_max(keyword)
            w = self.hybrid_weight
            blended = {i: w * dense_n.get(i, 0.0) + (1 - w) * keyword_n.get(i, 0.0) for i in dense}
            ranked = sorted(blended.items(), key=lambda kv: -kv[1])[:k]
            return self._hits(ranked)

    def _dense(self, query: np.ndarray, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        return self._index.search(query, n, allowed)

    def _exact_scores(self, query: np.ndarray, ids: list[int]) -> dict[int, float]:
        return self._index.scores(query, ids)

    def _keyword_index(self):
        if self._keywords is None:
            import bm25s

            rows = self._db.execute("SELECT rowid, text FROM chunks ORDER BY rowid").fetchall()
            retriever = bm25s.BM25()
            retriever.index([keyword_terms(r[1]) for r in rows], show_progress=False)
            self._keywords = (retriever, np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
        return self._keywords

    def _bm25(self, text: str, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        terms = keyword_terms(text)
        if not terms:
            return {}
        retriever, rowids = self._keyword_index()
        scores = retriever.get_scores(terms)
        if allowed is not None:
            positions = np.flatnonzero(np.isin(rowids, allowed))
            scores, rowids = scores[positions], rowids[positions]
        matched = np.flatnonzero(scores > 0)
        if matched.size > n:
            matched = matched[np.argpartition(-scores[matched], n - 1)[:n]]
        return {int(rowids[i]): float(scores[i]) for i in matched}

    def _filtered_ids(self, filters: Filters) -> np.ndarray:
        clauses, params = [], []
        for field_name, value in filters.items():
            if field_name not in FILTERABLE_FIELDS:
                raise ValueError(f"cannot filter on {field_name!r}; filterable: {sorted(FILTERABLE_FIELDS)}")
            column = f'"{field_name}"'
            if isinstance(value, list | tuple | set | frozenset):
                clauses.append(f"{column} IN (SELECT value FROM json_each(?))")
                params.append(_json_list(list(value)))
            else:
                clauses.append(f"{column} = ?")
                params.append(value)
        rows = self._db.execute(f"SELECT rowid FROM chunks WHERE {' AND '.join(clauses)}", params)
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def _hits(self, ranked: list[tuple[int, float]]) -> list[SearchHit]:
        if not ranked:
            return []
        ids = [i for i, _ in ranked]
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM chunks WHERE rowid IN (SELECT value FROM json_each(?))",
            (_json_list(ids),),
        ).fetchall()
        by_id = {r["rowid"]: _row_to_chunk(r) for r in rows}
        return [SearchHit(by_id[i], score) for i, score in ranked if i in by_id]

    def close(self) -> None:
        with self._lock:
            self._save_graph(self._index)
            self._db.close()


def _json_list(values: list) -> str:
    return json.dumps(values)

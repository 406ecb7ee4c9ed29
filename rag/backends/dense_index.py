"""The embedded store's in-memory dense index: exact search (faiss flat) while it is small, approximate
search (faiss HNSW) once it is large.

- Exact search scans every vector: about 6 ms per query at 100k x 384 on 2 cores, and linear in size
  (over 200 ms at 1M). Above ``threshold`` vectors (``kind="auto"``) the index becomes an HNSW graph,
  which answers in well under a millisecond at 1M with recall@10 >= 0.95 (``benchmarks/vector_store_1m``).
- faiss cannot delete from an HNSW graph, so a deletion is a tombstone: the id is filtered out at search
  time and the graph is rebuilt without it once tombstones pass a quarter of the graph.
- Filtered searches over few rows (a source, a page range) are answered exactly from the stored vectors,
  because a graph walk that may only stop on a small allowed set wanders and misses.
- The graph is saved beside the SQLite file, so opening a large store does not rebuild it; the store
  reconciles a loaded graph with SQLite (the source of truth) before use (``reconcile``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

log = logging.getLogger(__name__)

IndexKind = Literal["auto", "flat", "hnsw"]


@dataclass(frozen=True)
class AnnParams:
    """How the dense index is built; defaults reach recall@10 >= 0.95 at 1M x 384 (see the benchmark)."""

    kind: IndexKind = "auto"
    threshold: int = 250_000  # vectors above which "auto" switches from exact to HNSW
    m: int = 32  # HNSW neighbours per node
    ef_construction: int = 80
    ef_search: int = 128
    exact_filter_below: int = 50_000  # filtered searches over fewer rows than this are exact
    rebuild_tombstone_share: float = 0.25


class DenseIndex:
    """Inner-product search over L2-normalised float32 vectors keyed by int64 ids."""

    def __init__(
        self, dim: int, params: AnnParams | None = None, kind: Literal["flat", "hnsw"] = "flat"
    ) -> None:
        self.dim = dim
        self.params = params or AnnParams()
        self.kind = kind
        self._index = self._empty(kind)
        self._tombstones: set[int] = set()
        self._tombstone_selector = None  # cached faiss selector over the tombstones
        self._sorted_ids: tuple[np.ndarray, np.ndarray] | None = None  # (ids sorted, their positions)
        self.unsaved = False  # True while this index differs from the file it was loaded from or saved to

    def _empty(self, kind: str) -> faiss.IndexIDMap2:
        if kind == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        graph = faiss.IndexHNSWFlat(self.dim, self.params.m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = self.params.ef_construction
        return faiss.IndexIDMap2(graph)

    # -- size --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._tombstones)

    @property
    def tombstones(self) -> int:
        return len(self._tombstones)

    def _dead(self) -> np.ndarray:
        return np.fromiter(self._tombstones, dtype=np.int64, count=len(self._tombstones))

    def ids(self) -> np.ndarray:
        """Every id the index holds, tombstones included, in storage order."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)

    def _vectors(self) -> np.ndarray:
        """A read-only view of the stored vectors in storage order (no copy)."""
        inner = faiss.downcast_index(self._index.index)
        flat = inner if self.kind == "flat" else faiss.downcast_index(inner.storage)
        n = int(self._index.ntotal)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim)

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        """Storage positions of ``ids`` (all must be held)."""
        if self._sorted_ids is None:
            held = self.ids()
            order = np.argsort(held, kind="stable")
            self._sorted_ids = (held[order], order)
        held_sorted, order = self._sorted_ids
        return order[np.searchsorted(held_sorted, ids)]

    # -- writes ------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, np.int64))
        self._sorted_ids, self.unsaved = None, True
        if self.kind == "flat" and self.params.kind == "auto" and len(self) > self.params.threshold:
            log.info("dense index passed %d vectors: building an HNSW graph", self.params.threshold)
            self.rebuild("hnsw")

    def remove(self, ids: Iterable[int]) -> None:
        ids = np.fromiter(ids, dtype=np.int64)
        if not ids.size:
            return
        self.unsaved = True
        if self.kind == "flat":
            self._index.remove_ids(ids)
            self._sorted_ids = None
            return
        held = np.intersect1d(ids, self.ids())
        self._tombstones.update(int(i) for i in held)
        self._tombstone_selector = None
        if len(self._tombstones) > self.params.rebuild_tombstone_share * self._index.ntotal:
            log.info("%d tombstones in the HNSW graph: rebuilding it without them", len(self._tombstones))
            self.rebuild("hnsw")

    def rebuild(self, kind: Literal["flat", "hnsw"]) -> None:
        """A fresh index of ``kind`` over the live vectors (drops tombstones)."""
        ids, vectors = self.ids(), self._vectors()
        if self._tombstones:
            live = ~np.isin(ids, self._dead())
            ids, vectors = ids[live], vectors[live]
        fresh = self._empty(kind)
        for start in range(0, len(ids), 50_000):
            fresh.add_with_ids(
                np.ascontiguousarray(vectors[start : start + 50_000]), ids[start : start + 50_000]
            )
        self._index, self.kind = fresh, kind
        self._tombstones, self._tombstone_selector, self._sorted_ids = set(), None, None
        self.unsaved = True

    # -- reads -------------------------------------------------------------------------------
    def search(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None) -> dict[int, float]:
        """Up to ``n`` best (id -> inner product) for one query, only among ``allowed`` ids if given."""
        if self.kind == "hnsw" and allowed is not None and allowed.size <= self.params.exact_filter_below:
            scores = self.scores(query, allowed)
            return dict(sorted(scores.items(), key=lambda kv: -kv[1])[:n])
        keep = []  # faiss selectors hold raw pointers to each other: keep the Python objects alive
        selector = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(allowed)
            keep.append(selector)
            n = min(n, int(allowed.size))
        if self._tombstones:
            if self._tombstone_selector is None:
                batch = faiss.IDSelectorBatch(self._dead())
                self._tombstone_selector = (faiss.IDSelectorNot(batch), batch)
            keep.append(self._tombstone_selector)
            not_dead = self._tombstone_selector[0]
            selector = not_dead if selector is None else faiss.IDSelectorAnd(selector, not_dead)
            keep.append(selector)
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.params.ef_search, n))
            if selector is not None:
                params.sel = selector
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        n = min(n, len(self))
        if n <= 0:
            return {}
        scores, ids = self._index.search(query.reshape(1, self.dim), n, params=params)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}

    def scores(self, query: np.ndarray, ids: Iterable[int]) -> dict[int, float]:
        """Exact inner products of ``query`` with the vectors of ``ids`` (live ones only)."""
        ids = np.fromiter(ids, dtype=np.int64)
        if self._tombstones:
            ids = ids[~np.isin(ids, self._dead())]
        if not ids.size:
            return {}
        products = self._vectors()[self._positions(ids)] @ query.reshape(self.dim)
        return {int(i): float(s) for i, s in zip(ids, products, strict=True)}

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the graph atomically (tombstones are not saved: ``reconcile`` finds them again)."""
        partial = path.with_name(path.name + ".partial")
        faiss.write_index(self._index, str(partial))
        os.replace(partial, path)
        self.unsaved = False

    @classmethod
    def load(cls, path: Path, dim: int, params: AnnParams) -> DenseIndex:
        loaded = faiss.read_index(str(path))  # already the concrete class; it owns the C++ object
        if not isinstance(loaded, faiss.IndexIDMap2) or loaded.d != dim:
            raise ValueError(f"{path} is not a {dim}-dim id-mapped index")
        index = cls(dim, params, kind="hnsw")
        index._index = loaded
        return index

    def reconcile(self, truth: np.ndarray) -> np.ndarray:
        """Make the held ids agree with ``truth`` (the ids the store has): ids it no longer has become
        tombstones, so a deletion made after the graph was saved stays deleted. Returns the ids of
        ``truth`` the index lacks, for the caller to add."""
        held = self.ids()
        self.remove(np.setdiff1d(held, truth, assume_unique=True))
        return np.setdiff1d(truth, held, assume_unique=True)

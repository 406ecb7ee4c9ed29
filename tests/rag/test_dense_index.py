"""The embedded store's HNSW mode: approximate search that agrees with exact search, switches on by size,
and keeps deletions deleted across restarts (with and without a clean close)."""

from __future__ import annotations

import numpy as np

from rag.backends.dense_index import AnnParams, DenseIndex
from rag.backends.embedded_store import EmbeddedVectorStore
from rag.protocols import Chunk

DIM = 32


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors on a low-dimensional manifold, as sentence embeddings are."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((DIM, 8)))[0]
    centers = rng.standard_normal((20, 8))
    latent = centers[rng.integers(0, 20, n)] + rng.standard_normal((n, 8))
    vectors = (latent @ basis.T + 0.02 * rng.standard_normal((n, DIM))).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def chunks_for(ids, source: str = "a.md") -> list[Chunk]:
    return [Chunk(f"c{i}", f"text {i}", source, None, 0, 1, f"h{i}", "f") for i in ids]


def test_hnsw_finds_what_exact_search_finds():
    vectors = clustered(5000)
    ids = np.arange(1, 5001, dtype=np.int64)
    exact, graph = DenseIndex(DIM, kind="flat"), DenseIndex(DIM, AnnParams(ef_search=64), kind="hnsw")
    exact.add(ids, vectors)
    graph.add(ids, vectors)
    queries = clustered(100, seed=1)
    recall = np.mean([len(set(exact.search(q, 10)) & set(graph.search(q, 10))) / 10 for q in queries])
    assert recall >= 0.95


def test_auto_switches_to_hnsw_above_the_threshold_and_search_still_answers():
    index = DenseIndex(DIM, AnnParams(kind="auto", threshold=100))
    vectors = clustered(150)
    index.add(np.arange(1, 101), vectors[:100])
    assert index.kind == "flat"
    index.add(np.arange(101, 151), vectors[100:])
    assert index.kind == "hnsw" and len(index) == 150
    assert next(iter(index.search(vectors[120], 1))) == 121


def test_deleted_ids_never_come_back_and_tombstones_are_compacted():
    index = DenseIndex(DIM, AnnParams(kind="hnsw", rebuild_tombstone_share=0.5), kind="hnsw")
    vectors = clustered(200)
    index.add(np.arange(1, 201), vectors)
    index.remove(range(1, 51))
    assert len(index) == 150 and index.tombstones == 50
    for i in range(0, 50, 7):
        assert not set(index.search(vectors[i], 5)) & set(range(1, 51))
    assert index.scores(vectors[0], [1, 2, 60]).keys() == {60}
    index.remove(range(51, 120))  # past half the graph: rebuilt without the dead
    assert index.tombstones == 0 and len(index) == 81 and index.ids().size == 81


def test_filtered_search_on_a_graph_is_exact_over_the_allowed_rows():
    index = DenseIndex(DIM, AnnParams(kind="hnsw"), kind="hnsw")
    vectors = clustered(3000)
    index.add(np.arange(1, 3001), vectors)
    allowed = np.arange(1, 3001, 37, dtype=np.int64)
    got = index.search(vectors[5], 5, allowed)
    truth = allowed[np.argsort(-(vectors[allowed - 1] @ vectors[5]))[:5]]
    assert list(got) == list(truth)


def _store(path, threshold: int = 20) -> EmbeddedVectorStore:
    """A store that turns HNSW above ``threshold`` rows and never compacts its tombstones."""
    ann = AnnParams(kind="auto", threshold=threshold, rebuild_tombstone_share=0.99)
    return EmbeddedVectorStore(path, dim=DIM, ann=ann)


def test_a_deletion_stays_deleted_after_a_restart_with_a_saved_graph(tmp_path):
    path = tmp_path / "s.sqlite3"
    vectors = clustered(120)
    store = _store(path)
    store.add(chunks_for(range(60), "keep.md"), vectors[:60])
    store.add(chunks_for(range(60, 120), "drop.md"), vectors[60:])
    assert store.index_kind == "hnsw"
    store.close()  # the graph is saved holding all 120
    assert store.graph_path.is_file()

    store = _store(path)
    assert store.delete_source("drop.md") == 60
    store.close()  # saved again; the file still holds the deleted vectors' nodes

    store = _store(path)
    assert store.count() == 60 and store.index_kind == "hnsw"
    found = {h.chunk.source for v in vectors[60:80] for h in store.search(v, k=5)}
    assert found == {"keep.md"}
    store.close()


def test_a_deletion_stays_deleted_after_a_crash_and_new_rows_are_found(tmp_path):
    path = tmp_path / "s.sqlite3"
    vectors = clustered(130)
    store = _store(path)
    store.add(chunks_for(range(100), "old.md"), vectors[:100])
    store.close()  # graph saved with 100 rows

    crashed = _store(path)
    crashed.delete_source("old.md")
    crashed.add(chunks_for(range(100, 130), "new.md"), vectors[100:])  # new rows reuse no deleted id
    # no close(): the saved graph still says 100 old rows and nothing new

    store = _store(path)
    assert store.index_kind == "hnsw"
    assert store.count() == 30
    assert {h.chunk.source for h in store.search(vectors[10], k=10)} == {"new.md"}
    assert store.search(vectors[115], k=1)[0].chunk.chunk_id == "c115"
    store.close()
    crashed.close()

"""One conformance suite for every VectorStore. The embedded store always runs; OpenSearch runs against
a real cluster when OPENSEARCH_URL is set (``docker compose up opensearch``)."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest

from rag.backends.dense_index import AnnParams
from rag.backends.embedded_store import EmbeddedVectorStore
from rag.protocols import Chunk, VectorStore

DIM = 16
OPENSEARCH_URL = os.environ.get("OPENSEARCH_URL")


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def chunk(i: int, source: str = "a.pdf", page: int | None = 1, text: str | None = None) -> Chunk:
    text = text or f"chunk number {i} about topic{i}"
    return Chunk(f"id-{i}", text, source, page, 0, len(text), f"h{i}", f"file-{source}")


@pytest.fixture(
    params=["embedded", "embedded-hnsw", pytest.param("opensearch", marks=pytest.mark.opensearch)]
)
def store(request, tmp_path) -> VectorStore:
    if request.param.startswith("embedded"):
        ann = AnnParams(kind="hnsw") if request.param == "embedded-hnsw" else AnnParams(kind="flat")
        s = EmbeddedVectorStore(tmp_path / "s.sqlite3", dim=DIM, ann=ann)
        yield s
        s.close()
        return
    if not OPENSEARCH_URL:
        pytest.skip("set OPENSEARCH_URL to run the conformance suite against a real OpenSearch cluster")
    from core.settings import OpenSearchSettings
    from rag.backends.opensearch_store import OpenSearchVectorStore, make_client

    client = make_client(OpenSearchSettings(url=OPENSEARCH_URL, verify_certs=False))
    index = f"ragloop-test-{uuid.uuid4().hex[:8]}"
    s = OpenSearchVectorStore(client, index=index, dim=DIM, pipeline=f"{index}-pipeline", refresh=True)
    yield s
    client.indices.delete(index=index, ignore_unavailable=True)
    client.transport.perform_request("DELETE", f"/_search/pipeline/{index}-pipeline")
    s.close()


def test_empty_store_finds_nothing(store):
    assert store.count() == 0
    assert store.search(unit(1), k=3) == []
    assert store.sources() == {}


def test_nearest_vector_comes_first_and_k_limits(store):
    chunks = [chunk(i) for i in range(10)]
    store.add(chunks, np.vstack([unit(i) for i in range(10)]))
    assert store.count() == 10
    hits = store.search(unit(3), k=4)
    assert len(hits) == 4
    assert hits[0].chunk == chunks[3]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_add_replaces_by_chunk_id(store):
    store.add([chunk(1)], unit(1)[None])
    store.add([chunk(1, text="rewritten text")], unit(1)[None])
    assert store.count() == 1
    assert store.search(unit(1), k=1)[0].chunk.text == "rewritten text"


def test_delete_source_removes_only_that_source(store):
    store.add(
        [chunk(1, "a.pdf"), chunk(2, "a.pdf"), chunk(3, "b.md", None)], np.vstack([unit(1), unit(2), unit(3)])
    )
    assert store.delete_source("a.pdf") == 2
    assert store.count() == 1
    assert [h.chunk.source for h in store.search(unit(1), k=5)] == ["b.md"]
    assert store.delete_source("missing.pdf") == 0


def test_sources_report_file_hashes(store):
    store.add([chunk(1, "a.pdf"), chunk(2, "b.md", None)], np.vstack([unit(1), unit(2)]))
    assert store.sources() == {"a.pdf": "file-a.pdf", "b.md": "file-b.md"}


def test_metadata_filters(store):
    chunks = [chunk(1, "a.pdf", 1), chunk(2, "a.pdf", 2), chunk(3, "b.pdf", 1), chunk(4, "c.md", None)]
    store.add(chunks, np.vstack([unit(i) for i in range(1, 5)]))
    by_source = store.search(unit(3), k=10, filters={"source": "a.pdf"})
    assert {h.chunk.chunk_id for h in by_source} == {"id-1", "id-2"}
    by_list = store.search(unit(1), k=10, filters={"source": ["b.pdf", "c.md"]})
    assert {h.chunk.chunk_id for h in by_list} == {"id-3", "id-4"}
    by_page = store.search(unit(1), k=10, filters={"source": "a.pdf", "page": 2})
    assert [h.chunk.chunk_id for h in by_page] == ["id-2"]
    assert store.search(unit(1), k=10, filters={"source": "nowhere"}) == []
    with pytest.raises(ValueError, match="cannot filter"):
        store.search(unit(1), k=1, filters={"text": "x"})


def test_hybrid_text_lifts_the_keyword_match(store):
    # Two chunks equally far from the query vector; only one contains the query's rare keyword.
    base = unit(100)
    chunks = [chunk(1, text="general remarks about bicycles"), chunk(2, text="error code E07 overheating")]
    store.add(chunks, np.vstack([base, base]))
    for c, v in zip([chunk(i) for i in range(3, 9)], [unit(i) for i in range(3, 9)], strict=True):
        store.add([c], v[None])
    hits = store.search(base, text="what does E07 mean", k=2)
    assert hits[0].chunk.chunk_id == "id-2"
    dense_only = store.search(base, k=2)
    assert {h.chunk.chunk_id for h in dense_only} == {"id-1", "id-2"}


def test_hybrid_search_with_filters_and_no_keyword_match(store):
    store.add([chunk(1, "a.pdf"), chunk(2, "b.pdf")], np.vstack([unit(1), unit(2)]))
    hits = store.search(unit(2), text="zzzz-nothing-matches", k=2, filters={"source": "b.pdf"})
    assert [h.chunk.chunk_id for h in hits] == ["id-2"]


def test_embedded_store_persists_across_reopen(tmp_path):
    path = tmp_path / "persist.sqlite3"
    s = EmbeddedVectorStore(path, dim=DIM)
    s.add([chunk(i) for i in range(5)], np.vstack([unit(i) for i in range(5)]))
    s.delete_source("nothing")
    s.close()
    reopened = EmbeddedVectorStore(path, dim=DIM)
    assert reopened.count() == 5
    assert reopened.search(unit(4), k=1)[0].chunk.chunk_id == "id-4"
    assert reopened.search(unit(4), text="topic4", k=1)[0].chunk.chunk_id == "id-4"
    reopened.close()
    with pytest.raises(ValueError, match="16-dim vectors but the embedder makes 8-dim"):
        EmbeddedVectorStore(path, dim=8)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_an_open_embedded_store_sees_what_another_connection_wrote(tmp_path, kind):
    """The app's store stays open while `ragloop ingest` or an embedder publish writes the same file from
    another process: its next read takes their additions, replacements and deletions (dense and
    keyword), instead of searching a stale index or losing the deleted rows' hits."""
    path = tmp_path / "shared.sqlite3"
    ann = AnnParams(kind=kind)
    app = EmbeddedVectorStore(path, dim=DIM, ann=ann)
    app.add([chunk(i) for i in range(3)], np.vstack([unit(i) for i in range(3)]))
    assert app.count() == 3
    cli = EmbeddedVectorStore(path, dim=DIM, ann=ann)
    cli.add([chunk(i, source="b.pdf") for i in range(3, 6)], np.vstack([unit(i) for i in range(3, 6)]))
    cli.delete_source("a.pdf")
    cli.add([chunk(0, source="c.pdf", text="replaced words about topicnew")], unit(9)[None, :])
    cli.close()

    assert app.count() == 4  # a.pdf's three went; id-0 came back from c.pdf; b.pdf's three came
    assert app.search(unit(4), k=1)[0].chunk.chunk_id == "id-4"
    assert app.search(unit(4), text="topic4", k=1)[0].chunk.chunk_id == "id-4"
    assert app.search(unit(9), k=1)[0].chunk.chunk_id == "id-0"  # its new vector
    assert app.search(unit(0), text="topicnew", k=1)[0].chunk.text.startswith("replaced")
    assert {h.chunk.chunk_id for h in app.search(unit(1), k=10)} == {"id-0", "id-3", "id-4", "id-5"}
    app.close()


def test_a_chunks_section_comes_back_with_it(store):
    c = Chunk(
        "sec-1",
        "DNS › dns.lookup()\n\nResolves a host name",
        "dns.md",
        None,
        10,
        30,
        "h",
        "f",
        "DNS › dns.lookup()",
    )
    store.add([c, chunk(2)], np.stack([unit(1), unit(2)]))
    hits = {h.chunk.chunk_id: h.chunk for h in store.search(unit(1), text="host name", k=2)}
    assert hits["sec-1"] == c
    assert hits["id-2"].section == ""


def test_the_index_remembers_what_built_it(store):
    assert store.index_version() is None
    store.set_index_version({"chunker": "structure-v1/240/30", "embedding_model": "m"})
    assert store.index_version() == {"chunker": "structure-v1/240/30", "embedding_model": "m"}


def test_an_embedded_store_from_before_sections_opens_and_reads_them_as_empty(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE chunks (rowid INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,"
        ' page INTEGER, start INTEGER NOT NULL, "end" INTEGER NOT NULL, content_hash TEXT NOT NULL,'
        " file_hash TEXT NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL);"
    )
    db.execute(
        'INSERT INTO chunks(chunk_id, source, page, start, "end", content_hash, file_hash, text, vector)'
        " VALUES ('old-1', 'a.pdf', 1, 0, 4, 'h', 'f', 'text', ?)",
        (unit(1).tobytes(),),
    )
    db.commit()
    db.close()
    store = EmbeddedVectorStore(path, dim=DIM)
    [hit] = store.search(unit(1), k=1)
    assert hit.chunk.chunk_id == "old-1" and hit.chunk.section == ""
    assert store.index_version() is None  # so the next ingest asks for a re-index
    store.close()


def _open_and_add(barrier, path: str, n: int) -> None:
    barrier.wait(timeout=60)
    store = EmbeddedVectorStore(path, dim=DIM)
    store.add([chunk(n, source=f"p{n}.pdf")], unit(n)[None, :])
    store.close()


def test_processes_opening_a_new_embedded_store_at_once_all_get_in(tmp_path):
    """An ingest and app processes starting on a new data dir: the schema is made once (WAL switch and
    schema in one locked step), nobody is locked out and every chunk lands."""
    from tests.at_once import run_at_once

    for attempt in range(3):
        path = str(tmp_path / f"fresh-{attempt}.sqlite3")
        assert run_at_once(_open_and_add, [(path, n) for n in range(6)]) == [0] * 6
        store = EmbeddedVectorStore(path, dim=DIM)
        assert store.count() == 6
        store.close()

"""Ingest: chunks keep provenance; re-ingest skips unchanged, replaces changed, removes deleted files;
bad files are reported and skipped while the rest is indexed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.backends.embedded_store import EmbeddedVectorStore
from rag.ingest import Ingestor
from rag.loaders import load_pages


@pytest.fixture
def ingestor(tmp_path, embedder, chunker) -> Ingestor:
    store = EmbeddedVectorStore(tmp_path / "index.sqlite3", dim=embedder.dim)
    yield Ingestor(store, embedder, chunker)
    store.close()


def all_chunks(store, embedder):
    return [h.chunk for h in store.search(embedder.encode_one("x"), k=10_000)]


def test_chunks_keep_source_page_offsets_and_hash(ingestor, corpus, embedder):
    report = ingestor.ingest([corpus], progress=False)
    assert sorted(Path(p).name for p in report.added) == [
        "release-notes.txt",
        "returns-and-shipping.md",
        "service-faq.html",
        "voltbike-manual.pdf",
    ]
    assert not report.failed
    chunks = all_chunks(ingestor.store, embedder)
    assert len(chunks) == report.chunks_written == ingestor.store.count()
    pdf_chunks = [c for c in chunks if c.source.endswith(".pdf")]
    assert {c.page for c in pdf_chunks} == {1, 2, 3, 4, 5, 6}
    pages = {p.page: p.text for p in load_pages(corpus / "voltbike-manual.pdf")}
    for chunk in pdf_chunks:
        assert pages[chunk.page][chunk.start : chunk.end] == chunk.text
        assert len(chunk.content_hash) == 64
    assert all(c.page is None for c in chunks if not c.source.endswith(".pdf"))


def test_reingest_skips_unchanged_replaces_changed_removes_deleted(ingestor, corpus):
    first = ingestor.ingest([corpus], progress=False)
    again = ingestor.ingest([corpus], progress=False)
    assert len(again.unchanged) == 4 and again.chunks_written == 0

    notes = corpus / "release-notes.txt"
    notes.write_text("Version 4.0: the app now supports Apple Watch.")
    (corpus / "service-faq.html").unlink()
    third = ingestor.ingest([corpus], progress=False)
    assert [Path(p).name for p in third.updated] == ["release-notes.txt"]
    assert [Path(p).name for p in third.removed] == ["service-faq.html"]
    sources = ingestor.store.sources()
    assert str(corpus / "service-faq.html") not in sources
    assert ingestor.store.count() < first.chunks_written
    hits = ingestor.store.search(ingestor.embedder.encode_one("Apple Watch"), text="Apple Watch", k=1)
    assert "Apple Watch" in hits[0].chunk.text


def test_bad_files_are_reported_and_the_rest_indexed(ingestor, corpus, tmp_path):
    (corpus / "latin1.txt").write_bytes("Caf\xe9".encode("latin-1"))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    (corpus / "empty.md").write_text("   \n")
    missing = tmp_path / "does-not-exist.pdf"
    report = ingestor.ingest([corpus, missing], progress=False)
    assert len(report.added) == 4
    failed = {Path(p).name: why for p, why in report.failed.items()}
    assert set(failed) == {"latin1.txt", "broken.pdf", "empty.md", "does-not-exist.pdf"}
    assert "not valid UTF-8" in failed["latin1.txt"]
    assert "corrupt" in failed["broken.pdf"]
    assert "no text" in failed["empty.md"]
    assert "no such file" in failed["does-not-exist.pdf"]


def test_ingesting_one_folder_does_not_remove_another(ingestor, corpus, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.md").write_text("Spare batteries are sold separately for 499 euros.")
    ingestor.ingest([other], progress=False)
    ingestor.ingest([corpus], progress=False)
    assert str(other / "note.md") in ingestor.store.sources()


def test_a_document_that_repeats_a_passage_ingests_both_copies(ingestor, embedder, tmp_path):
    # Real docs repeat paragraphs (Node's dns.md describes each method twice, callback and promise).
    # Each copy must be its own chunk at its own offset; sharing one id made the insert fail.
    paragraph = " ".join(
        f"The resolver setting number {i} controls how lookups are ordered." for i in range(30)
    )
    doc = tmp_path / "repeats.md"
    doc.write_text(f"# Callbacks\n\n{paragraph}\n\n# Promises\n\n{paragraph}\n")
    report = ingestor.ingest([doc], progress=False)
    assert not report.failed, report.failed
    chunks = all_chunks(ingestor.store, embedder)
    text = doc.read_text()
    assert len({c.chunk_id for c in chunks}) == len(chunks) == report.chunks_written
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
    assert max(c.end for c in chunks) > text.index("# Promises")  # the second copy is indexed


def test_the_index_records_what_built_it_and_refuses_to_mix(tmp_path, embedder, corpus):
    from rag.chunking import Chunker, StructureChunker
    from rag.errors import IndexVersionMismatch

    store = EmbeddedVectorStore(tmp_path / "v.sqlite3", dim=embedder.dim)
    plain = Ingestor(store, embedder, Chunker(embedder.tokenizer, 120, 20))
    plain.ingest([corpus], progress=False)
    assert store.index_version() == {
        "chunker": "plain-v1/120/20",
        "embedding_model": Path(embedder.model_name).name,
    }
    structured = Ingestor(store, embedder, StructureChunker(embedder.tokenizer, 120, 20))
    before = {h.chunk.chunk_id for h in store.search(embedder.encode_one("x"), k=10_000)}
    with pytest.raises(IndexVersionMismatch, match=r"plain-v1/120/20' -> 'structure-v1/120/20'.*--reindex"):
        structured.ingest([corpus], progress=False)
    assert {h.chunk.chunk_id for h in store.search(embedder.encode_one("x"), k=10_000)} == before  # untouched

    (corpus / "returns-and-shipping.md").rename(tmp_path / "elsewhere.md")  # indexed, now outside corpus
    report = structured.ingest([tmp_path / "elsewhere.md"], progress=False, reindex=True)
    chunks = [h.chunk for h in store.search(embedder.encode_one("x"), k=10_000)]
    assert store.index_version()["chunker"] == "structure-v1/120/20"
    from rag.ingest import file_sha256

    expected = set()
    for path in [*(p for p in corpus.iterdir()), tmp_path / "elsewhere.md"]:
        expected |= {
            c.chunk_id for c in structured.chunker.split(str(path), file_sha256(path), load_pages(path))
        }
    assert {c.chunk_id for c in chunks} == expected  # exactly the new chunking; nothing of the old left
    # Every file the index held and that still exists was re-read, plus the one given.
    assert {Path(c.source).name for c in chunks} == {
        "release-notes.txt",
        "service-faq.html",
        "voltbike-manual.pdf",
        "elsewhere.md",
    }
    assert any(c.section for c in chunks) and not report.failed
    assert structured.ingest([corpus], progress=False).chunks_written == 0  # same config: no complaint
    # An index the caller owns (the demo's, the loop's) is rebuilt on a mismatch, and only then.
    assert structured.ingest([corpus], progress=False, rebuild_if_changed=True).reindexed == ""
    rebuilt = plain.ingest([corpus], progress=False, rebuild_if_changed=True)
    assert "'structure-v1/120/20' -> 'plain-v1/120/20'" in rebuilt.reindexed
    assert store.index_version()["chunker"] == "plain-v1/120/20"
    assert not any(h.chunk.section for h in store.search(embedder.encode_one("x"), k=10_000))
    store.close()


def test_encode_groups_span_whole_files():
    from rag.ingest import encode_groups

    files = [(f"f{i}", "h", list(range(n))) for i, n in enumerate([5, 3, 9, 1, 2])]
    groups = list(encode_groups(files, 8))
    assert [[name for name, _, _ in g] for g in groups] == [["f0", "f1"], ["f2"], ["f3", "f4"]]

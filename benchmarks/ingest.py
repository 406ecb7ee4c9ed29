"""Benchmark: ingest throughput (read, split, embed, store) against raw ``SentenceTransformer.encode`` of
the very same chunk texts, measured in the same run.

    python -m benchmarks.ingest [--files 60]

Target (issue 3): ingest >= 0.9x the chunks/s of encode alone, i.e. the pipeline adds <= 10 % overhead.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from rag.backends.embedded_store import EmbeddedVectorStore
from rag.embeddings import get_embedder
from rag.ingest import Ingestor
from rag.loaders import load_pages
from rag.service import build_chunker
from ragloop.settings import Settings

DEMO = Path(__file__).resolve().parents[1] / "demo" / "corpus"


def make_corpus(folder: Path, files: int, seed: int = 0) -> None:
    """Markdown files of shuffled demo-corpus sentences, about 3 pages of text each."""
    sentences = []
    for path in DEMO.iterdir():
        for page in load_pages(path):
            sentences += [s.strip() + "." for s in page.text.replace("\n", " ").split(".") if len(s) > 20]
    rng = random.Random(seed)
    for i in range(files):
        paragraphs = [" ".join(rng.choices(sentences, k=6)) for _ in range(12)]
        (folder / f"doc{i:03d}.md").write_text(f"# Document {i}\n\n" + "\n\n".join(paragraphs))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=60)
    args = parser.parse_args(argv)
    settings = Settings()
    embedder = get_embedder(settings.embedding.model, batch_size=settings.embedding.batch_size)
    chunker = build_chunker(settings, embedder)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        make_corpus(corpus, args.files)
        embedder.encode(["warm-up"] * 8)

        store = EmbeddedVectorStore(Path(tmp) / "i.sqlite3", dim=embedder.dim)
        t0 = time.perf_counter()
        report = Ingestor(store, embedder, chunker).ingest([corpus], progress=False)
        ingest_s = time.perf_counter() - t0
        texts = [h.chunk.text for h in store.search(embedder.encode_one("x"), k=10**6)]
        store.close()

        t0 = time.perf_counter()
        embedder.encode(texts)
        encode_s = time.perf_counter() - t0

    n = report.chunks_written
    ratio = (n / ingest_s) / (n / encode_s)
    print(f"\n{args.files} files, {n} chunks of <= {settings.chunking.chunk_tokens} tokens")
    print(f"{'':34}{'seconds':>10}{'chunks/s':>10}")
    print(f"{'raw SentenceTransformer.encode':34}{encode_s:10.2f}{n / encode_s:10.1f}")
    print(f"{'ragloop ingest (read+split+embed)':34}{ingest_s:10.2f}{n / ingest_s:10.1f}")
    print(f"ingest / encode throughput: {ratio:.2f}x   (target >= 0.9x)")
    return {"chunks": n, "ingest_s": ingest_s, "encode_s": encode_s, "ratio": ratio}


if __name__ == "__main__":
    main()

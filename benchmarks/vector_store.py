"""Benchmark: embedded store search at 100k chunks (384-dim) against exact search and LangChain's
InMemoryVectorStore on the same data, measured in the same run.

    python -m benchmarks.vector_store [--n 100000] [--queries 200]

Prints p50/p95 latency (dense-only and hybrid), recall@10 against exact numpy search, and the speed
ratio over LangChain. Targets (issue 3): p50 <= 20 ms on 2 cores, >= 5x LangChain, recall@10 >= 0.95.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rag.backends.embedded_store import EmbeddedVectorStore
from rag.protocols import Chunk

DIM = 384


def synthetic_corpus(n: int, seed: int = 0) -> tuple[list[Chunk], np.ndarray]:
    """Clustered unit vectors and Zipf-distributed texts, so both dense and BM25 have structure."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((256, DIM)).astype(np.float32)
    vectors = centers[rng.integers(0, 256, n)] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vocab = np.array([f"w{i}" for i in range(20_000)])
    words = vocab[np.minimum(rng.zipf(1.3, size=(n, 60)), 20_000) - 1]
    chunks = [
        Chunk(f"c{i}", " ".join(words[i]), f"doc{i // 50}.pdf", i % 50 + 1, 0, 1, f"h{i}", f"f{i // 50}")
        for i in range(n)
    ]
    return chunks, vectors


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50) * 1e3), float(np.percentile(samples, 95) * 1e3)


def timed(fn, queries) -> tuple[list[float], list]:
    times, results = [], []
    for q in queries:
        t = time.perf_counter()
        results.append(fn(q))
        times.append(time.perf_counter() - t)
    return times, results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--langchain-queries", type=int, default=30)
    args = parser.parse_args(argv)

    chunks, vectors = synthetic_corpus(args.n)
    rng = np.random.default_rng(1)
    picks = rng.integers(0, args.n, args.queries)
    queries = vectors[picks] + 0.3 * rng.standard_normal((args.queries, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    texts = [" ".join(chunks[i].text.split()[:6]) for i in picks]

    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedVectorStore(Path(tmp) / "bench.sqlite3", dim=DIM)
        t0 = time.perf_counter()
        for start in tqdm(range(0, args.n, 5000), desc="indexing", unit="batch"):
            store.add(chunks[start : start + 5000], vectors[start : start + 5000])
        index_s = time.perf_counter() - t0

        dense_t, dense_hits = timed(lambda q: store.search(q, k=10), queries)
        t0 = time.perf_counter()
        store.search(queries[0], text=texts[0], k=10)  # first hybrid search after writes builds BM25
        bm25_build_s = time.perf_counter() - t0
        hybrid_t, _ = timed(
            lambda qt: store.search(qt[0], text=qt[1], k=10), list(zip(queries, texts, strict=True))
        )
        store.close()

    # Exact ground truth and the recall of the store's dense search.
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean(
        [
            len({h.chunk.chunk_id for h in hits} & {f"c{i}" for i in truth}) / 10
            for hits, truth in zip(dense_hits, exact, strict=True)
        ]
    )

    # LangChain's in-memory store on the same vectors (the usual way of doing this in a prototype).
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import InMemoryVectorStore

    class Precomputed(Embeddings):
        def embed_documents(self, texts):  # pragma: no cover - vectors are inserted directly
            raise NotImplementedError

        def embed_query(self, text):  # pragma: no cover
            raise NotImplementedError

    lc = InMemoryVectorStore(Precomputed())
    for c, v in zip(chunks, vectors, strict=True):
        lc.store[c.chunk_id] = {
            "id": c.chunk_id,
            "vector": v.tolist(),
            "text": c.text,
            "metadata": {"source": c.source, "page": c.page},
        }
    lc_queries = queries[: args.langchain_queries]
    lc_t, _ = timed(lambda q: lc.similarity_search_by_vector(q.tolist(), k=10), lc_queries)

    dense_p50, dense_p95 = percentiles(dense_t)
    hybrid_p50, hybrid_p95 = percentiles(hybrid_t)
    lc_p50, lc_p95 = percentiles(lc_t)
    result = {
        "n": args.n,
        "index_s": index_s,
        "bm25_build_s": bm25_build_s,
        "dense_p50_ms": dense_p50,
        "dense_p95_ms": dense_p95,
        "hybrid_p50_ms": hybrid_p50,
        "hybrid_p95_ms": hybrid_p95,
        "recall_at_10": float(recall),
        "langchain_p50_ms": lc_p50,
        "speedup_vs_langchain_dense": lc_p50 / dense_p50,
        "speedup_vs_langchain_hybrid": lc_p50 / hybrid_p50,
    }
    print(
        f"\nembedded store, {args.n:,} chunks x {DIM} dims (indexed in {index_s:.1f} s, "
        f"BM25 built at first hybrid search in {bm25_build_s:.1f} s)"
    )
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'dense (exact, faiss)':28}{dense_p50:10.2f}{dense_p95:10.2f}")
    print(f"{'hybrid (dense + BM25)':28}{hybrid_p50:10.2f}{hybrid_p95:10.2f}")
    print(f"{'LangChain InMemoryVectorStore':28}{lc_p50:10.2f}{lc_p95:10.2f}")
    print(f"recall@10 vs exact search: {recall:.3f}   (target >= 0.95)")
    print(
        f"speed vs LangChain: dense {lc_p50 / dense_p50:.1f}x, "
        f"hybrid {lc_p50 / hybrid_p50:.1f}x   (target >= 5x)"
    )
    print(
        f"p50 target <= 20 ms: dense {'met' if dense_p50 <= 20 else 'MISSED'}, "
        f"hybrid {'met' if hybrid_p50 <= 20 else 'MISSED'}"
    )
    return result


if __name__ == "__main__":
    main()

"""Benchmark: retrieval quality on real documents, every retriever variant side by side, one table.

    python -m benchmarks.retrieval_realdocs            # [--set eval/sets/realdocs.jsonl] [--only a,b]

The documents are the 9 public files under ``eval/sets/realdocs/`` (PDF, HTML, Markdown; sources and
licences in ``eval/sets/realdocs-sources.md``); the questions carry verbatim evidence (``eval.retrieval``).
Each variant indexes the same files into a fresh embedded store and answers every question; the table
shows hit@1/4/10 and MRR@10 for single-passage questions, two-passage questions and all, and the median
retrieval latency (query embedding, search and any reranking) measured in the same run on this machine.
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from eval.retrieval import evaluate_retriever, read_evidence_set
from rag import nomic_gguf
from rag.protocols import Chunk

log = logging.getLogger(__name__)

# Each set's documents live in the folder named like it. The first set's defaults were tuned on it; the
# second (other kinds of documents: tutorials with code, an API reference, a 26-page PDF) never is.
SETS = (Path("eval/sets/realdocs.jsonl"), Path("eval/sets/realdocs2.jsonl"))
UNTUNED = {"realdocs2"}


def docs_of(question_set: Path) -> Path:
    return question_set.with_suffix("")


DEPTH = 10  # ranks scored


@dataclass
class Index:
    """One chunking of the corpus in an embedded store, with the embedder that filled it."""

    store: object
    embedder: object
    chunks: list[Chunk]


def legacy_pages(path: Path):
    """The loader as it was before structure-aware chunking: HTML flattened by BeautifulSoup's
    ``get_text`` (no headings, code or tables as such); other formats as today, headings unused."""
    from bs4 import BeautifulSoup

    from rag.loaders import PageText, load_pages

    if path.suffix.lower() != ".html":
        return load_pages(path)
    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    return [PageText(None, soup.get_text("\n", strip=True))]


def build_index(workdir: Path, docs: Path, name: str, embedder, chunker, loader=None) -> Index:
    from rag.backends.embedded_store import EmbeddedVectorStore
    from rag.ingest import file_sha256
    from rag.loaders import load_pages

    loader = loader or load_pages
    chunks: list[Chunk] = []
    for path in sorted(docs.iterdir()):
        chunks += chunker.split(str(path), file_sha256(path), loader(path))
    store = EmbeddedVectorStore(workdir / f"{name}.sqlite3", embedder.dim)
    store.add(chunks, embedder.encode([c.text for c in chunks], progress=True))
    log.info("%s: %d chunks", name, len(chunks))
    return Index(store, embedder, chunks)


def store_retriever(index: Index, weight: float) -> Callable[[str], Sequence[Chunk]]:
    """ragloop's search with a given dense weight: 1.0 dense only, 0.0 BM25 only, between: hybrid."""

    def retrieve(question: str, k: int = DEPTH) -> list[Chunk]:
        index.store.hybrid_weight = weight
        vector = index.embedder.encode_query_one(question)
        return [h.chunk for h in index.store.search(vector, text=question, k=k)]

    return retrieve


def fused(lists: Sequence[Sequence[Chunk]], how: str, *, rank_constant: int = 60) -> list[Chunk]:
    """Several rankings as one: ``interleave`` takes each list's r-th chunk in turn (the first list
    first), ``rrf`` sums 1 / (rank_constant + rank) (reciprocal rank fusion)."""
    if how == "interleave":
        out: dict[str, Chunk] = {}
        for rank in range(DEPTH):
            for ranked in lists:
                if rank < len(ranked):
                    out.setdefault(ranked[rank].chunk_id, ranked[rank])
        return list(out.values())[:DEPTH]
    scores: dict[str, float] = {}
    by_id: dict[str, Chunk] = {}
    for ranked in lists:
        for rank, chunk in enumerate(ranked, start=1):
            by_id[chunk.chunk_id] = chunk
            scores[chunk.chunk_id] = scores.get(chunk.chunk_id, 0.0) + 1.0 / (rank_constant + rank)
    return [by_id[i] for i in sorted(scores, key=lambda i: -scores[i])][:DEPTH]


def rrf_retriever(index: Index, rank_constant: int = 60) -> Callable[[str], Sequence[Chunk]]:
    """Reciprocal rank fusion of the dense and the BM25 list (what OpenSearch's score-ranker processor
    does) instead of the weighted sum of min-max normalised scores."""
    dense, keyword = store_retriever(index, 1.0), store_retriever(index, 0.0)

    def retrieve(question: str) -> list[Chunk]:
        return fused([dense(question, 50), keyword(question, 50)], "rrf", rank_constant=rank_constant)

    return retrieve


# A second clause starts after ", and", ";" or " and " with a question word or an auxiliary verb.
_STARTERS = "how|what|which|who|when|where|why|is|are|do|does|can|could|should|will|may|must|has|have"
_SPLIT = re.compile(rf"(?:,\s*and\s+|;\s*|\s+and\s+|\?\s+)(?=(?:{_STARTERS})\b)", re.IGNORECASE)


def decompose(question: str) -> list[str]:
    """The parts of a multi-part question ("How do I X, and what does Y?"), rule-based so it adds no
    LLM call; ``[question]`` when it has one part."""
    parts = [p.strip(" ,;?") for p in _SPLIT.split(question.strip()) if p.strip(" ,;?")]
    if len(parts) < 2 or any(len(p.split()) < 3 for p in parts):
        return [question]
    return [p + "?" for p in parts]


def decomposing_retriever(index: Index, weight: float) -> Callable[[str], Sequence[Chunk]]:
    """Search the whole question and each of its parts; interleave the lists (whole question first)
    so every part's best passages are near the top."""
    search = store_retriever(index, weight)

    def retrieve(question: str) -> list[Chunk]:
        parts = decompose(question)
        return (
            fused([search(q) for q in [question, *parts]], "interleave")
            if len(parts) > 1
            else search(question)
        )

    return retrieve


# The served model writes search queries for a question (issue 30: sub-question decomposition; and the
# alternative phrasings of LangChain's MultiQueryRetriever / RAG-Fusion). Measured 2026-11-29, README.
QUERY_PROMPTS = {
    "decompose": "Split this question into the separate search queries needed to answer it, one per line. "
    "If it asks only one thing, write it once. Write only the queries.\nQuestion: {question}",
    "rephrase": "Write 2 other ways to ask this question, in other words, one per line. Write only the "
    "questions.\nQuestion: {question}",
}
_LIST_MARK = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)]|query\s*\d*:|question\s*\d*:)\s*", re.IGNORECASE)


def generated_queries(text: str, question: str, most: int = 3) -> list[str]:
    """The model's reply as search queries: one per line, list marks dropped, lines under three words,
    repeats and the question itself left out."""
    out: list[str] = []
    for raw in text.splitlines():
        line = _LIST_MARK.sub("", raw).strip().strip('"')
        if len(line.split()) >= 3 and line.lower() != question.lower() and line not in out:
            out.append(line)
    return out[:most]


def served_query_retriever(
    index: Index, weight: float, llm, kind: str, how: str
) -> Callable[[str], Sequence[Chunk]]:
    """The whole question's search first, then one search per query the served model writes for it
    (``QUERY_PROMPTS[kind]``, greedy), fused (``how``). A reply with no usable query keeps the search."""
    from rag.protocols import ChatMessage

    search = store_retriever(index, weight)

    def retrieve(question: str) -> list[Chunk]:
        prompt = QUERY_PROMPTS[kind].format(question=question)
        reply = llm.sample_chat([ChatMessage("user", prompt)], n=1, max_tokens=96, temperature=0.0)[0]
        extra = generated_queries(reply, question)
        return fused([search(question), *map(search, extra)], how) if extra else search(question)

    return retrieve


def diverse_retriever(
    index: Index, weight: float, penalty: float, pool: int = 20
) -> Callable[[str], Sequence[Chunk]]:
    """Hybrid search, then a greedy re-rank of the top ``pool`` that lowers a chunk's (min-max
    normalised) score by ``penalty`` for each chunk of its file already picked: questions whose
    passages sit in two files get both files near the top (an MMR over files, no extra model)."""

    def retrieve(question: str) -> list[Chunk]:
        index.store.hybrid_weight = weight
        vector = index.embedder.encode_query_one(question)
        hits = index.store.search(vector, text=question, k=pool)
        if not hits:
            return []
        top, low = hits[0].score, hits[-1].score
        scale = (top - low) or 1.0
        left = [(h.chunk, (h.score - low) / scale) for h in hits]
        picked: list[Chunk] = []
        while left and len(picked) < DEPTH:
            used = [Path(c.source).name for c in picked]
            best = max(
                range(len(left)),
                key=lambda i: left[i][1] - penalty * used.count(Path(left[i][0].source).name),
            )
            picked.append(left.pop(best)[0])
        return picked

    return retrieve


def neighbour_retriever(index: Index, weight: float, seeds: int = 2) -> Callable[[str], Sequence[Chunk]]:
    """The top ``seeds`` chunks, each followed by the next chunk of its file (passages that run past a
    chunk boundary), then the rest of the ranking: the same number of chunks in the prompt."""
    order = sorted(index.chunks, key=lambda c: (c.source, c.page or 0, c.start))
    following = {a.chunk_id: b for a, b in pairwise(order) if a.source == b.source}
    search = store_retriever(index, weight)

    def retrieve(question: str) -> list[Chunk]:
        ranked = search(question)
        out: dict[str, Chunk] = {}
        for chunk in ranked[:seeds]:
            out.setdefault(chunk.chunk_id, chunk)
            if chunk.chunk_id in following:
                out.setdefault(following[chunk.chunk_id].chunk_id, following[chunk.chunk_id])
        for chunk in ranked[seeds:]:
            out.setdefault(chunk.chunk_id, chunk)
        return list(out.values())[:DEPTH]

    return retrieve


def reranked_retriever(index: Index, weight: float, reranker) -> Callable[[str], Sequence[Chunk]]:
    """ragloop's search for the re-ranker's ``depth`` candidates, re-ordered by it (``rag.rerank``); the
    ranks past them keep the search's order."""

    def retrieve(question: str, k: int = DEPTH) -> list[Chunk]:
        index.store.hybrid_weight = weight
        vector = index.embedder.encode_query_one(question)
        hits = index.store.search(vector, text=question, k=max(k, reranker.depth))
        top = reranker.rerank(question, hits[: reranker.depth], reranker.depth)
        return [h.chunk for h in top + hits[reranker.depth :]][:k]

    return retrieve


def langchain_retriever(index: Index) -> Callable[[str], Sequence[Chunk]]:
    """LangChain's default: ``InMemoryVectorStore`` similarity search over the same chunks and embeddings."""
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import InMemoryVectorStore

    class SameEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return index.embedder.encode(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return index.embedder.encode_query_one(text).tolist()

    vs = InMemoryVectorStore(SameEmbeddings())
    by_id = {c.chunk_id: c for c in index.chunks}
    vs.add_documents([Document(c.text, id=c.chunk_id) for c in index.chunks])

    def retrieve(question: str) -> list[Chunk]:
        return [by_id[d.id] for d in vs.similarity_search(question, k=DEPTH)]

    return retrieve


def timed(retrieve: Callable[[str], Sequence[Chunk]], latencies: list[float]):
    def run(question: str) -> Sequence[Chunk]:
        start = time.perf_counter()
        out = retrieve(question)
        latencies.append(time.perf_counter() - start)
        return out

    return run


COLUMNS = ("single", "two-passage", "all")


def header() -> str:
    head = f"{'retriever':<34}"
    for kind in COLUMNS:
        head += f" | {kind:^22}"
    return head + " | p50 ms\n" + f"{'':<34}" + " | h@1  h@4  h@10 MRR@10" * len(COLUMNS) + " |"


def line(name: str, scores: dict, p50_ms: float) -> str:
    out = f"{name:<34}"
    for kind in COLUMNS:
        s = scores.get(kind, {})
        out += " | " + " ".join(f"{s.get(m, 0):.2f}" for m in ("hit@1", "hit@4", "hit@10")) + " "
        out += f"{s.get('mrr@10', 0):>6.2f}"
    return out + f" | {p50_ms:6.1f}"


NOT_MEASURED = [
    "cross-encoder reranker: not measured. No cross-encoder ships inside a package this machine can "
    "install (the reranker packages download weights from a model hub at first use). The served model "
    "re-ranks instead (query likelihood, retrieval.rerank) when --llm-url is given; with it also the "
    "served model's sub-questions and rephrasings (+ served decompose / rephrase).",
    "nomic-embed-text-v1.5 (embedding.backend = nomic-gguf) needs gpt4all and its model packages "
    "(requirements-nomic.txt); its rows are skipped without them.",
]


def variants(
    workdir: Path, docs: Path, llm_url: str | None = None
) -> dict[str, Callable[[], Callable[[str], Sequence[Chunk]]]]:
    """Name -> factory of a retriever; factories share indexes through this closure's cache. With
    ``llm_url`` (a served model) the re-ranked rows too."""
    from core.settings import Settings
    from rag.chunking import Chunker, StructureChunker
    from rag.embeddings import get_embedder

    settings = Settings()
    embedder = get_embedder(settings.embedding.model)
    cache: dict[str, Index] = {}

    def index(name: str) -> Index:
        if name not in cache:
            if name == "before":  # plain recursive chunks of 200/30 over the old loader
                cache[name] = build_index(
                    workdir, docs, name, embedder, Chunker(embedder.tokenizer, 200, 30), legacy_pages
                )
            elif name == "structure-200":
                cache[name] = build_index(
                    workdir, docs, name, embedder, StructureChunker(embedder.tokenizer, 200, 30)
                )
            elif name == "nomic":  # the shipped chunking, embedded by nomic-embed-text-v1.5
                nomic = get_embedder(
                    settings.embedding.model, backend="nomic-gguf", cache_dir=settings.data_dir / "models"
                )
                size = (nomic.tokenizer, settings.chunking.chunk_tokens, settings.chunking.overlap_tokens)
                cache[name] = build_index(workdir, docs, name, nomic, StructureChunker(*size))
            else:  # the shipped defaults
                size = (embedder.tokenizer, settings.chunking.chunk_tokens, settings.chunking.overlap_tokens)
                cache[name] = build_index(workdir, docs, name, embedder, StructureChunker(*size))
        return cache[name]

    w = settings.retrieval.hybrid_weight
    table = {
        "before: dense only": lambda: store_retriever(index("before"), 1.0),
        "before: BM25 only": lambda: store_retriever(index("before"), 0.0),
        "before: hybrid 0.7": lambda: store_retriever(index("before"), 0.7),
        "LangChain InMemoryVectorStore": lambda: langchain_retriever(index("before")),
        "+ RRF instead of weighted sum": lambda: rrf_retriever(index("before")),
        "+ query decomposition": lambda: decomposing_retriever(index("before"), 0.7),
        "+ structure-aware chunks": lambda: store_retriever(index("structure-200"), 0.7),
        "+ structure + RRF": lambda: rrf_retriever(index("structure-200")),
        "+ structure + decomposition": lambda: decomposing_retriever(index("structure-200"), 0.7),
        "after: dense only": lambda: store_retriever(index("after"), 1.0),
        "after: BM25 only": lambda: store_retriever(index("after"), 0.0),
        f"after: hybrid {w} (defaults)": lambda: store_retriever(index("after"), w),
        "+ file diversity 0.1": lambda: diverse_retriever(index("after"), w, 0.1),
        "+ file diversity 0.2": lambda: diverse_retriever(index("after"), w, 0.2),
        "+ file diversity 0.3": lambda: diverse_retriever(index("after"), w, 0.3),
        "+ next-chunk expansion of top 2": lambda: neighbour_retriever(index("after"), w),
        "+ structure + decomposition (defaults)": lambda: decomposing_retriever(index("after"), w),
        "nomic-embed-v1.5: dense only": lambda: store_retriever(index("nomic"), 1.0),
        f"nomic-embed-v1.5: hybrid {w}": lambda: store_retriever(index("nomic"), w),
    }
    if llm_url:
        from rag.backends.openai_llm import OpenAICompatibleLLM
        from rag.rerank import QueryLikelihoodReranker

        llm = OpenAICompatibleLLM(llm_url)
        cfg = settings.retrieval
        for depth in (10, 20):
            for share in (0.25, 0.5, 0.75, 1.0):
                reranker = QueryLikelihoodReranker(llm, depth=depth, weight=share)
                table[f"+ query likelihood, top {depth}, {share}"] = lambda r=reranker: reranked_retriever(
                    index("after"), w, r
                )
        default = QueryLikelihoodReranker(llm, depth=cfg.rerank_depth, weight=cfg.rerank_weight)
        table["+ query likelihood (setting)"] = lambda: reranked_retriever(index("after"), w, default)
        for kind in QUERY_PROMPTS:
            for how in ("interleave", "rrf"):
                table[f"+ served {kind} ({how})"] = lambda k=kind, h=how: served_query_retriever(
                    index("after"), w, llm, k, h
                )
    if not nomic_gguf.available():
        table = {name: make for name, make in table.items() if not name.startswith("nomic")}
    return table


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, action="append", help="question set (repeat; default: both)")
    parser.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    parser.add_argument(
        "--llm-url",
        default=None,
        help="a served model (http://127.0.0.1:8000/v1): adds re-ranked rows",
    )
    args = parser.parse_args(argv)
    lines: list[str] = []
    for question_set in args.set or SETS:
        questions = read_evidence_set(question_set)
        role = "never tuned on" if question_set.stem in UNTUNED else "defaults tuned on it"
        with tempfile.TemporaryDirectory(prefix="ragloop-retrieval-") as tmp:
            table = variants(Path(tmp), docs_of(question_set), args.llm_url)
            names = [n.strip() for n in args.only.split(",") if n.strip()] or list(table)
            lines += [
                "",
                f"{question_set.stem} ({role}): {len(questions)} questions over {docs_of(question_set)}/ "
                f"({sum(q.type == 'two-passage' for q in questions)} two-passage)",
                header(),
            ]
            for name in names:
                retrieve = table[name]()
                retrieve(questions[0].question)  # warm-up: model load, lazy indexes
                latencies: list[float] = []
                scores = evaluate_retriever(questions, timed(retrieve, latencies))
                lines.append(line(name, scores, statistics.median(latencies) * 1000))
                log.info("%s", lines[-1])
    lines += NOT_MEASURED
    print("\n".join(lines))


if __name__ == "__main__":
    main()

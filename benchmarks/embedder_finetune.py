"""Benchmark: does fine-tuning the embedding model on the user's corpus find the evidence more often?

For each real-docs set, in a fresh data folder: index its documents with the stock embedder
(all-MiniLM-L6-v2), let the served model draft a question for each of up to ``--chunks`` chunks
(``ragloop.embedder.synthetic_pairs``, chunks only — never the set's questions), fine-tune on those pairs
(``training.embedder``: MultipleNegativesRankingLoss, 2 epochs, lr 2e-5, batch 16 — the
sentence-transformers recipe, not tuned here), publish it (re-index, ``ragloop.embedder.publish``), then
score the set's questions — held out: none of them was seen — with the default hybrid retrieval, stock
against fine-tuned, in the same run.

    python -m benchmarks.embedder_finetune --llm-url http://127.0.0.1:8000/v1 [--set SET.jsonl]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from benchmarks.retrieval_realdocs import SETS, docs_of
from core.jsonl import write_rows
from core.settings import Settings
from eval.retrieval import evaluate_retriever, read_evidence_set
from rag.service import build_chain, build_embedder, build_ingestor, build_store
from ragloop.embedder import next_output, publish, synthetic_pairs
from training.embedder import EmbedderJob
from training.embedder import main as train

log = logging.getLogger(__name__)


def scores(settings: Settings, questions) -> dict:
    embedder = build_embedder(settings)
    store = build_store(settings, embedder)

    def retrieve(question: str):
        return [h.chunk for h in store.search(embedder.encode_query_one(question), text=question, k=10)]

    result = evaluate_retriever(questions, retrieve)
    store.close()
    return {"model": embedder.model_id, **result}


def measure(question_set: Path, llm_url: str, chunks: int, style: str = "free") -> dict:
    questions = read_evidence_set(question_set)
    with tempfile.TemporaryDirectory(prefix="ragloop-embedder-") as tmp:
        settings = Settings(data_dir=Path(tmp), llm={"base_url": llm_url}, reviewed={"enabled": False})
        build_ingestor(settings).ingest([docs_of(question_set)], progress=False)
        stock = scores(settings, questions)
        chain = build_chain(settings)
        started = time.perf_counter()
        pairs = synthetic_pairs(chain.store, chain.embedder.dim, chain.llm, chunks, style=style)
        drafted_s = time.perf_counter() - started
        chain.store.close()
        out = next_output(settings)
        started = time.perf_counter()
        manifest = train(
            EmbedderJob(write_rows(pairs, out.with_name("pairs.jsonl")), chain.embedder.model_name, out)
        )
        trained_s = time.perf_counter() - started
        publish(settings, out)
        tuned = scores(settings, questions)
    return {
        "set": question_set.stem,
        "style": style,
        "pairs": len(pairs),
        "draft_s": drafted_s,
        "train_s": trained_s,
        "steps": manifest["steps"],
        "stock": stock,
        "tuned": tuned,
    }


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm-url", required=True)
    parser.add_argument("--set", type=Path, action="append", help="evidence set (repeat; default: both)")
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--style", default="free", help="how questions are drafted: free | extractive")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    results = [measure(s, args.llm_url, args.chunks, args.style) for s in args.set or SETS]
    for r in results:
        print(
            f"{r['set']}: {r['pairs']} {r['style']} drafted pairs ({r['draft_s']:.0f} s), "
            f"fine-tuned in {r['train_s']:.0f} s ({r['steps']} steps)"
        )
        for name in ("stock", "tuned"):
            row = r[name]
            cells = "  ".join(
                f"{kind} h@4 {row[kind]['hit@4']:.2f} MRR {row[kind]['mrr@10']:.2f}"
                for kind in ("single", "two-passage", "all")
                if kind in row
            )
            print(f"  {name:<6} {row['model']:<22} {cells}")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

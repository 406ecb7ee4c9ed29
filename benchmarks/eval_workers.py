"""Benchmark: the loop's answering stages asking one question at a time against ``loop.answer_workers``
at once. ``eval.run.evaluate`` runs twice over the same demo questions in one run, against real vLLM
serving the default model, with the loop's chain settings (top 2 chunks, 64-token answers, judge and
scoring as in the loop): seconds per question, the ratio, and how many answers were word for word the
same (greedy decoding in a batch can differ from one at a time in the last digits, and so in a word).

    python -m benchmarks.eval_workers [--questions 16] [--workers 4] [--llm-url URL]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from core.settings import DEMO_CORPUS, DEMO_EVAL_SET, Settings
from eval.run import evaluate, read_set
from judge.factory import build_judge
from rag.service import build_chain, build_ingestor

log = logging.getLogger(__name__)


def timed(chain, items, judge, workers: int) -> tuple[float, dict]:
    started = time.perf_counter()
    result = evaluate(chain, items, judge=judge, k=2, safety=None, workers=workers)
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--workers", type=int, default=Settings().loop.answer_workers)
    parser.add_argument("--llm-url", default=None, help="a running vLLM; default: start one")
    args = parser.parse_args(argv)
    items = read_set(DEMO_EVAL_SET)[: args.questions]

    server = nullcontext()
    if args.llm_url is None:
        from ragloop.models import prepare_default_model
        from ragloop.serve import VLLMServer

        server = VLLMServer(prepare_default_model(Settings().default_model_dir))
    with tempfile.TemporaryDirectory(prefix="ragloop-eval-workers-") as tmp, server as running:
        settings = Settings(
            data_dir=Path(tmp),
            llm={"base_url": args.llm_url or running.base_url, "max_tokens": 64},
            retrieval={"top_k": 2},
            reviewed={"enabled": False},
        )
        build_ingestor(settings).ingest([DEMO_CORPUS], progress=False)
        chain = build_chain(settings)
        judge = build_judge(settings, embedder=chain.embedder)
        chain.answer("warm-up: what is this about?")
        one_s, one = timed(chain, items, judge, 1)
        many_s, many = timed(chain, items, judge, args.workers)
    same = sum(a["answer"] == b["answer"] for a, b in zip(one["items"], many["items"], strict=True))
    row = {
        "questions": len(items),
        "workers": args.workers,
        "one_at_a_time_s_per_question": one_s / len(items),
        "at_once_s_per_question": many_s / len(items),
        "speedup": one_s / many_s,
        "same_answers": same,
        "similarity": (one["similarity"]["mean"], many["similarity"]["mean"]),
        "judge": (one["judge"].get("mean"), many["judge"].get("mean")),
    }
    print(
        f"{len(items)} questions: one at a time {row['one_at_a_time_s_per_question']:.2f} s/question, "
        f"{args.workers} at once {row['at_once_s_per_question']:.2f} s/question "
        f"({row['speedup']:.2f}x); {same}/{len(items)} answers word for word the same; similarity "
        f"{row['similarity'][0]:.3f} vs {row['similarity'][1]:.3f}, judge "
        f"{row['judge'][0]:.2f} vs {row['judge'][1]:.2f}",
        flush=True,
    )
    return row


if __name__ == "__main__":
    main()

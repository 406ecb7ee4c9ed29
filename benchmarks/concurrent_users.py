"""Benchmark: the answer path under 1, 4 and 16 concurrent chat sessions against real vLLM serving the
default model, on loopback, with feedback written as the chat page writes it.

    python -m benchmarks.concurrent_users [--sessions 1,4,16] [--rounds 2] [--max-tokens 64]

Each session is a thread doing what a Streamlit session does: ``chain.stream`` a demo question through
the one shared chain, read the stream to the end, log the answer record, then save a rating on it (the
durable writer: store, or spool when the store is down). Per level it prints throughput (answers per
minute and streamed tokens per second), p50/p95 end-to-end latency and time to first token, the app's
own overhead per request (chain time outside the model's token stream: embedding, retrieval, prompt,
citation attribution) and the feedback check: every record written is in the store, none lost.

Bounded: ``sessions x rounds`` answers per level of at most ``--max-tokens`` tokens each (about 6
minutes in all on 2 cores, plus the server's start).
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from core.settings import DEMO_CORPUS, DEMO_EVAL_SET, Settings
from eval.run import read_set
from feedback.service import build_writer, get_feedback_store, limits
from rag.service import build_chain, build_ingestor
from ragloop.turns import answer_record, rated_record

log = logging.getLogger(__name__)

# DynamoDB sizing (feedback/dynamo_store.py): an item is the record's JSON plus ~300 bytes of key and
# index attributes; a write costs one write unit per started KB on the table and on each of the 4 GSIs
# (ALL projection). Logging an answer writes the table and 4 indexes; rating it rewrites the item and
# moves it in the 3 indexes whose sort key (updated_at) changes (a delete and a put each): 5 + 8 = 13.
DYNAMODB_KEY_BYTES = 300
WRITES_PER_RATED_ANSWER = 13


class TimedLLM:
    """The chain's LLM client with the time spent inside each token stream recorded (per thread)."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self._local = threading.local()

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def stream_chat(self, *args, **kwargs) -> Iterator[str]:
        started = time.perf_counter()
        tokens = 0
        for token in self._inner.stream_chat(*args, **kwargs):
            tokens += 1
            yield token
        self._local.model_s = time.perf_counter() - started
        self._local.tokens = tokens

    def last(self) -> tuple[float, int]:
        return self._local.model_s, self._local.tokens


@dataclass
class Request:
    total_s: float
    ttft_s: float
    model_s: float
    tokens: int


def session(
    chain, llm: TimedLLM, writer, lim, questions: list[str], sid: str
) -> tuple[list[Request], list[str]]:
    """One chat session: ask each question in turn, log the answer, rate it. Returns timings and ids."""
    done, ids = [], []
    for turn, question in enumerate(questions):
        started = time.perf_counter()
        stream = chain.stream(question)
        first = None
        for piece in stream:
            if first is None and piece:
                first = time.perf_counter()
        answer = stream.result()
        finished = time.perf_counter()
        model_s, tokens = llm.last()
        done.append(Request(finished - started, (first or finished) - started, model_s, tokens))
        record = answer_record(answer, sid, turn)
        writer.save(record)
        writer.save(rated_record(record, 1 + turn % 5, note="load test", correction="", limits=lim))
        ids.append(record.feedback_id)
    return done, ids


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> list[dict]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=2, help="questions each session asks (at least)")
    parser.add_argument("--min-answers", type=int, default=8, help="per level: fewer sessions ask more")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--llm-url", default=None, help="a running vLLM; default: start one")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.sessions.split(",")]
    questions = [item["question"] for item in read_set(DEMO_EVAL_SET)]

    server = nullcontext()
    if args.llm_url is None:
        from ragloop.models import prepare_default_model
        from ragloop.serve import VLLMServer

        server = VLLMServer(prepare_default_model(Settings().default_model_dir))
    rows = []
    with tempfile.TemporaryDirectory(prefix="ragloop-load-") as tmp, server as running:
        url = args.llm_url or running.base_url
        settings = Settings(data_dir=Path(tmp), llm={"base_url": url, "max_tokens": args.max_tokens})
        build_ingestor(settings).ingest([DEMO_CORPUS], progress=False)
        chain = build_chain(settings)
        llm = chain.llm = TimedLLM(chain.llm)
        store = get_feedback_store(settings)
        writer, lim = build_writer(settings, store), limits(settings)
        chain.answer("warm-up: what is this about?")
        asked = 0
        for level in levels:
            plans, rounds = [], max(args.rounds, -(-args.min_answers // level))
            for _ in range(level):
                plans.append([questions[(asked + i) % len(questions)] for i in range(rounds)])
                asked += rounds
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=level) as pool:
                runs = [
                    pool.submit(session, chain, llm, writer, lim, plan, f"load-{level}-{s}")
                    for s, plan in enumerate(plans)
                ]
                results = [run.result() for run in runs]
            wall = time.perf_counter() - started
            requests = [r for done, _ in results for r in done]
            ids = [i for _, got in results for i in got]
            writer.drain()  # anything spooled during the load goes to the store now
            stored = [store.get(i) for i in ids]
            lost = sum(r is None or r.rating is None for r in stored)
            item_bytes = [len(r.model_dump_json()) + DYNAMODB_KEY_BYTES for r in stored if r is not None]
            total = [r.total_s for r in requests]
            ttft = [r.ttft_s for r in requests]
            overhead = [(r.total_s - r.model_s) * 1e3 for r in requests]
            rows.append(
                {
                    "sessions": level,
                    "answers": len(requests),
                    "wall_s": wall,
                    "answers_per_min": len(requests) / wall * 60,
                    "tokens_per_s": sum(r.tokens for r in requests) / wall,
                    "p50_s": pct(total, 50),
                    "p95_s": pct(total, 95),
                    "ttft_p50_s": pct(ttft, 50),
                    "ttft_p95_s": pct(ttft, 95),
                    "overhead_p50_ms": pct(overhead, 50),
                    "overhead_share": sum(overhead) / 1e3 / sum(total),
                    "feedback_written": 2 * len(ids),
                    "feedback_lost": lost,
                    "spooled": len(writer.spool),
                    "record_kb_p50": statistics.median(item_bytes) / 1024,
                }
            )
            log.info("%s", rows[-1])
        store.close()

    print(f"\nconcurrent sessions against real vLLM (default model, {args.max_tokens} tokens max, 2 cores)")
    head = f"{'sessions':>8}{'answers':>8}{'ans/min':>9}{'tok/s':>7}{'p50 s':>7}{'p95 s':>7}"
    head += f"{'TTFT p50':>9}{'TTFT p95':>9}{'app ms p50':>11}{'app share':>10}{'feedback':>10}{'lost':>6}"
    print(head)
    for r in rows:
        print(
            f"{r['sessions']:8d}{r['answers']:8d}{r['answers_per_min']:9.1f}{r['tokens_per_s']:7.1f}"
            f"{r['p50_s']:7.1f}{r['p95_s']:7.1f}{r['ttft_p50_s']:9.2f}{r['ttft_p95_s']:9.2f}"
            f"{r['overhead_p50_ms']:11.0f}{r['overhead_share']:10.1%}"
            f"{r['feedback_written']:10d}{r['feedback_lost']:6d}"
        )
    kb = statistics.median(r["record_kb_p50"] for r in rows)
    units = WRITES_PER_RATED_ANSWER * math.ceil(kb)
    print(
        f"feedback item p50 {kb:.1f} KB -> about {units} DynamoDB write units per rated answer "
        f"({WRITES_PER_RATED_ANSWER} writes across the table and its 4 GSIs x {math.ceil(kb)} KB); "
        f"1M rated answers/month = {units} M write units"
    )
    return rows


if __name__ == "__main__":
    main()

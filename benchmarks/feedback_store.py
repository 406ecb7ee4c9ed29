"""Benchmark: feedback-store write throughput under concurrency, and that nothing is lost or doubled.

    python -m benchmarks.feedback_store        # [--records 2000] [--processes 2] [--threads 4]

For each store — SQLite (WAL, one file) and DynamoDB Local (AWS's jar, in memory, on a loopback port) —
2 processes with 4 writer threads each (8 writers) put distinct feedback records at once, released
together by a barrier. Then a fresh reader lists the store and checks: every record written is there
(0 lost) and each exactly once (0 duplicated). A second pass replays a quarter of the records (as the
spool does after an outage) and checks again: replays update, never add. Prints writes per second
against a single writer thread of the same store, measured in the same run.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)


def open_store(kind: str, where: str):
    if kind == "sqlite":
        from feedback.sqlite_store import SQLiteFeedbackStore

        return SQLiteFeedbackStore(where)
    from feedback.dynamo_store import DynamoFeedbackStore

    endpoint, table = where.split("|")
    return DynamoFeedbackStore(table, endpoint_url=endpoint)


def record(feedback_id: str, writer: str, n: int):
    from feedback.schema import FeedbackRecord

    return FeedbackRecord(
        feedback_id=feedback_id,
        session_id=f"bench-{writer}",
        turn=n,
        question=f"Question {n} from {writer}: how long does a full charge take?",
        answer="About 5 hours with the 2 A charger [1].",
        citations=[{"number": 1, "source": "manual.pdf", "page": 2, "chunk_id": "c1", "score": 0.8}],
        model="base",
        rating=1 + n % 5,
        trace={"prompt_template_version": "rag-v1", "chunk_ids": ["c1"]},
    )


def writer_process(kind: str, where: str, ids: list[str], threads: int, barrier, out) -> None:
    """One process: ``threads`` writers over its share of ids, each thread with its own store handle
    for DynamoDB (boto3 clients are thread-safe, but this mirrors separate app workers) and one shared
    handle for SQLite (the store serialises its connection)."""
    store = open_store(kind, where)
    stores = [store] + [open_store(kind, where) for _ in range(threads - 1)] if kind == "dynamodb" else None
    shares = [ids[i::threads] for i in range(threads)]

    def write(t: int) -> int:
        s = stores[t] if stores else store
        return sum(bool(s.put(record(fid, f"{os.getpid()}-{t}", n))) for n, fid in enumerate(shares[t]))

    barrier.wait()
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        accepted = sum(pool.map(write, range(threads)))
    out.put((time.perf_counter() - start, accepted))
    for s in stores or [store]:
        s.close()


def run(kind: str, where: str, ids: list[str], processes: int, threads: int) -> tuple[float, int]:
    """Wall seconds from the common start to the last writer's end, and puts the stores accepted."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(processes + 1), ctx.Queue()
    shares = [ids[i::processes] for i in range(processes)]
    procs = [ctx.Process(target=writer_process, args=(kind, where, s, threads, barrier, out)) for s in shares]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    results = [out.get(timeout=600) for _ in procs]
    wall = time.perf_counter() - start
    for p in procs:
        p.join(timeout=60)
    return wall, sum(accepted for _, accepted in results)


def audit(kind: str, where: str, ids: list[str]) -> tuple[int, int]:
    """(lost, duplicated) among ``ids``, read back by a fresh handle."""
    store = open_store(kind, where)
    seen = Counter(r.feedback_id for r in store.list() if r.feedback_id in set(ids))
    store.close()
    return len(set(ids) - set(seen)), sum(n - 1 for n in seen.values())


def bench(kind: str, where: str, records: int, processes: int, threads: int) -> dict:
    single_ids = [f"single-{uuid.uuid4().hex}" for _ in range(max(records // 8, 50))]
    single_wall, _ = run(kind, where, single_ids, 1, 1)
    ids = [f"bench-{uuid.uuid4().hex}" for _ in range(records)]
    wall, accepted = run(kind, where, ids, processes, threads)
    lost, duplicated = audit(kind, where, ids)
    replay = ids[: len(ids) // 4]
    run(kind, where, replay, processes, threads)  # the spool's replay after an outage: same ids again
    lost_after, dup_after = audit(kind, where, ids)
    return {
        "store": kind,
        "writers": f"{processes}×{threads}",
        "writes_per_s": records / wall,
        "single_writer_per_s": len(single_ids) / single_wall,
        "accepted": accepted,
        "lost": lost + lost_after,
        "duplicated": duplicated + dup_after,
        "records": records,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--stores", default="sqlite,dynamodb")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")  # DynamoDB Local accepts any credentials
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ragloop-feedback-bench-") as tmp:
        for kind in [s.strip() for s in args.stores.split(",") if s.strip()]:
            if kind == "sqlite":
                rows.append(
                    bench(
                        kind, str(Path(tmp) / "feedback.sqlite3"), args.records, args.processes, args.threads
                    )
                )
                continue
            from ragloop.dynamodb_local import DynamoDBLocal

            with DynamoDBLocal() as server:
                where = f"{server.endpoint_url}|bench-{uuid.uuid4().hex[:8]}"
                open_store(kind, where).close()  # create the table once, before the writers race
                rows.append(bench(kind, where, args.records, args.processes, args.threads))
    print(
        f"{'store':<10} {'writers':>8} {'writes/s':>9} {'1 writer/s':>10} {'ratio':>6} {'lost':>5} {'dup':>4}"
    )
    for r in rows:
        ratio = r["writes_per_s"] / r["single_writer_per_s"]
        print(
            f"{r['store']:<10} {r['writers']:>8} {r['writes_per_s']:>9.0f} {r['single_writer_per_s']:>10.0f} "
            f"{ratio:>5.2f}× {r['lost']:>5} {r['duplicated']:>4}"
        )
    return rows


if __name__ == "__main__":
    main()

"""Many model calls at once, results in order: the loop's users, evaluation and reviewed-answers stages
ask the served model dozens of questions, and vLLM batches requests that arrive together (on 2 cores,
4 at a time gave 1.49x the answers per minute of 1: ``benchmarks/concurrent_users.py``). Only the calls
run in threads; callers score, write and log the results in the calling thread, in the items' order
(``map_ordered`` all at once; ``ordered_until`` one by one, under a deadline)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from time import monotonic
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
R = TypeVar("R")


def map_ordered(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int = 1, desc: str | None = None, unit: str = "item"
) -> list[R]:
    """``[fn(item) for item in items]`` with up to ``workers`` calls running at once, with a progress bar;
    the first exception raised by a call is raised here."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in tqdm(items, desc=desc, unit=unit)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ragloop-pool") as pool:
        return list(tqdm(pool.map(fn, items), total=len(items), desc=desc, unit=unit))


def ordered_until(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int = 1, deadline: float
) -> Iterator[R]:
    """``fn`` over ``items`` with up to ``workers`` calls in flight, yielded in the items' order as each
    finishes; no new call starts once ``time.monotonic()`` passes ``deadline`` (those in flight finish),
    so a time budget ends the work early instead of late (the drafting stage's budget)."""
    todo, pending = iter(items), deque()
    workers = max(1, workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ragloop-pool") as pool:

        def submit() -> None:
            while len(pending) < workers and monotonic() < deadline:
                try:
                    pending.append(pool.submit(fn, next(todo)))
                except StopIteration:
                    return

        submit()
        while pending:
            result = pending.popleft().result()
            submit()
            yield result

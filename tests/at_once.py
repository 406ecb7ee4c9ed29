"""Start several spawned processes behind one barrier, so they hit a shared file at the same moment."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable


def run_at_once(target: Callable[..., None], args: list[tuple], timeout_s: float = 120) -> list[int | None]:
    """Run ``target(barrier, *a)`` for each ``a`` in ``args`` in its own process; return the exit codes."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(args))
    procs = [ctx.Process(target=target, args=(barrier, *a)) for a in args]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout_s)
    return [p.exitcode for p in procs]

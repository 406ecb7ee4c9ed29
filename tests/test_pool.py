"""``core.pool.map_ordered``: calls run at once, results come back in the items' order."""

from __future__ import annotations

import threading

import pytest

from core.pool import map_ordered


def test_calls_run_at_once_and_results_keep_the_items_order():
    started = threading.Barrier(3, timeout=10)  # passable only when three calls are running together
    released: dict[int, threading.Event] = {x: threading.Event() for x in range(3)}

    def square(x: int) -> int:
        if x < 3:
            started.wait()
            if x < 2:  # the first items finish last
                assert released[x + 1].wait(timeout=10)
            released[x].set()
        return x * x

    assert map_ordered(square, range(6), workers=3) == [0, 1, 4, 9, 16, 25]


def test_one_worker_calls_one_at_a_time_in_order():
    seen: list[int] = []
    assert map_ordered(lambda x: seen.append(x) or -x, [3, 1, 2], workers=1) == [-3, -1, -2]
    assert seen == [3, 1, 2]


def test_a_failing_call_raises_in_the_caller():
    def boom(x: int) -> int:
        if x == 2:
            raise ValueError("no answer")
        return x

    with pytest.raises(ValueError, match="no answer"):
        map_ordered(boom, range(4), workers=2)

"""``core.pool``: calls run at once, results come back in the items' order (``map_ordered``), and under a
deadline no new call starts (``ordered_until``)."""

from __future__ import annotations

import threading

import pytest

from core.pool import map_ordered, ordered_until


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


def test_no_call_starts_after_the_deadline_and_those_in_flight_finish(monkeypatch):
    clock = {"now": 0.0}
    started: list[int] = []

    def call(x: int) -> int:
        started.append(x)
        if x == 1:  # the budget ends while the second call runs
            clock["now"] = 10.0
        return -x

    monkeypatch.setattr("core.pool.monotonic", lambda: clock["now"])
    assert list(ordered_until(call, range(10), workers=1, deadline=5.0)) == [0, -1]
    assert started == [0, 1]


def test_before_the_deadline_every_item_comes_back_in_order():
    assert list(ordered_until(lambda x: x * x, range(6), workers=3, deadline=float("inf"))) == [
        0,
        1,
        4,
        9,
        16,
        25,
    ]

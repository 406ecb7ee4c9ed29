"""A training job's time budget is its whole wall time: the clock starts when the budget is made (first
thing in a trainer's ``main``, so loading and evaluations count), and no step starts that would end —
with the evaluation a stop forces — past it. Driven here by a clock the test sets, through the
callback's own hooks, as the Trainer calls them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import training.common as common
from training.config import SFTJob


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("time.monotonic", clock)
    return clock


def budget(tmp_path, minutes: float):
    job = SFTJob(export_path="x.jsonl", base_model="m", output_dir=str(tmp_path), max_minutes=minutes)
    (callback,) = common.time_budget(job)
    return callback


def run_steps(
    callback, clock: Clock, *, step_s: float | list[float], eval_every: int | None, eval_s: float, limit=100
):
    """Steps of ``step_s`` seconds (a list: in turn) with an evaluation of ``eval_s`` after every
    ``eval_every``-th, until the callback stops training; returns the step it stopped after."""
    import itertools

    from transformers import TrainerControl

    durations = itertools.cycle(step_s if isinstance(step_s, list) else [step_s])
    args = SimpleNamespace(eval_strategy="steps" if eval_every else "no", eval_steps=eval_every)
    state = SimpleNamespace(global_step=0, max_steps=limit)
    for step in range(1, limit + 1):
        control = TrainerControl()
        callback.on_step_begin(args, state, control)
        clock.now += next(durations)
        state.global_step = step
        callback.on_step_end(args, state, control)
        if control.should_training_stop:
            if control.should_evaluate:
                clock.now += eval_s
            return step
        if eval_every and step % eval_every == 0:
            clock.now += eval_s
            callback.on_evaluate(args, state, control, metrics={"eval_runtime": eval_s})
    return None


def test_stop_before_asks_whether_one_more_step_and_its_evaluation_fit():
    assert not common.stop_before(now=100, deadline=200, step_s=60, eval_s=30)  # ends at 190
    assert common.stop_before(now=100, deadline=200, step_s=60, eval_s=50)  # would end at 210
    assert common.stop_before(now=100, deadline=200, step_s=120, eval_s=0)


def test_the_job_ends_within_its_budget_evaluation_included(tmp_path, clock):
    """10 minutes, of which loading took 2: 50-s steps and a 30-s evaluation every 4 steps. It stops
    after the last step that leaves room for another and the final evaluation, and ends in time."""
    callback = budget(tmp_path, minutes=10)
    started = clock.now
    clock.now += 120  # loading the model counts
    callback.on_evaluate(None, None, None, metrics={"eval_runtime": 30.0})  # the "before" evaluation
    clock.now += 30
    stopped = run_steps(callback, clock, step_s=50, eval_every=4, eval_s=30)
    assert callback.stopped_at == stopped
    assert clock.now - started <= 600, clock.now - started
    assert clock.now - started + 50 > 600  # and one more step would not have fitted
    assert stopped == 7  # 150 s before training, 7 steps, one evaluation in between, the last one


def test_a_step_with_an_evaluation_due_counts_that_evaluation(tmp_path, clock):
    """60-s evaluations every 4 steps of 50 s, 20 s of loading. After step 8 one more step and a forced
    evaluation still fit (590 s), but step 8's own evaluation comes first: training stops at step 8,
    whose evaluation is the last, instead of evaluating again one step later at 650 s."""
    callback = budget(tmp_path, minutes=10)
    started = clock.now
    clock.now += 20
    assert run_steps(callback, clock, step_s=50, eval_every=4, eval_s=60) == 8
    assert clock.now - started <= 600, clock.now - started


def test_steps_of_different_lengths_are_reckoned_by_the_slowest_recent_one(tmp_path, clock):
    """Batches grouped by length take 40 to 80 s: a long step after three short ones still fits."""
    for loading in range(100, 200, 7):  # wherever in the cycle the budget runs out
        callback = budget(tmp_path, minutes=10)
        started = clock.now
        clock.now += loading
        run_steps(callback, clock, step_s=[40, 40, 40, 80], eval_every=4, eval_s=30)
        assert clock.now - started <= 600, (loading, clock.now - started)


def test_slow_first_steps_do_not_stop_fast_later_ones_early(tmp_path, clock):
    """Over cached prompts the first epoch builds the cache: 10 steps of 50 s, then steps of 5 s. Once
    the slow steps are a few steps behind, the budget reckons by the fast ones: training runs on until
    one more 5-s step and the 30-s evaluation no longer fit, instead of stopping 45 s early because one
    slow step once did not fit."""
    callback = budget(tmp_path, minutes=10)
    started = clock.now
    stopped = run_steps(callback, clock, step_s=[50] * 10 + [5] * 200, eval_every=None, eval_s=0, limit=200)
    assert clock.now - started <= 600, clock.now - started
    assert clock.now - started + 5 > 600  # one more fast step would not have fitted
    assert stopped == 10 + 20  # 500 s of slow steps, then 20 fast ones: 600 s


def test_at_least_one_step_runs_and_a_job_without_evaluation_reserves_none(tmp_path, clock):
    callback = budget(tmp_path, minutes=0.5)
    clock.now += 60  # loading alone took past the budget
    assert run_steps(callback, clock, step_s=5, eval_every=None, eval_s=0) == 1
    callback = budget(tmp_path, minutes=1)
    assert run_steps(callback, clock, step_s=5, eval_every=None, eval_s=0) == 12  # ends at 60 s; 13 at 65


def test_no_budget_no_callback(tmp_path):
    job = SFTJob(export_path="x.jsonl", base_model="m", output_dir=str(tmp_path))
    assert common.time_budget(job) == []


def test_before_any_evaluation_the_budget_estimates_one_from_the_step_time(tmp_path, clock):
    """No evaluation of the base first (``eval_before`` off), evaluations every 20 steps: a budget that
    ends before the first one must still leave room for the evaluation a stop forces — 40 validation
    rows at 4 per step, about 4 steps' time (0.4 of a step per row) — else the job overruns by it."""
    callback = budget(tmp_path, minutes=10)
    callback.expect_evaluation(40, 4)
    started = clock.now
    clock.now += 20
    stopped = run_steps(callback, clock, step_s=50, eval_every=20, eval_s=200)
    assert clock.now - started <= 600, (stopped, clock.now - started)
    assert stopped == 7  # 20 s + 7 steps + the estimated 200-s evaluation = 570 s; an 8th step: 620 s

"""Child server processes (vLLM, DynamoDB Local, the tests' S3-API server): wait until one is ready,
stop its whole process group. Each server runs in its own session, so stopping it also stops the
workers it spawned. ``wait_for`` is the one bounded wait on a condition (servers, tests).
``exit_on_sigterm`` turns SIGTERM into a normal exit, so the servers a command started are stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float, poll_s: float = 0.05) -> None:
    """Poll ``condition()`` until it is true; raise ``TimeoutError`` naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(poll_s)


def wait_until_ready(
    proc: subprocess.Popen,
    ready: Callable[[], bool],
    what: str,
    *,
    timeout_s: float,
    poll_s: float = 0.2,
    hint: str = "",
) -> None:
    """Poll ``ready()`` until it is true; raise if ``proc`` exits first or ``timeout_s`` passes."""

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} during start-up{hint}")
        return ready()

    try:
        wait_for(up, what, timeout_s, poll_s)
    except TimeoutError:
        raise TimeoutError(f"{what} did not become ready within {timeout_s:.0f} s{hint}") from None


def stop_process_group(proc: subprocess.Popen | None, timeout_s: float = 15.0) -> None:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session=True``), then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM (``kill``, a service manager stopping us) raises ``SystemExit(143)``
    instead of ending the process on the spot, so ``with`` blocks and ``finally`` clauses run and the
    servers they started (vLLM, the app) are stopped rather than orphaned."""

    def raise_exit(signum, frame) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

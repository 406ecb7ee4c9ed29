"""SQLite helpers the embedded stores share (the feedback store and the vector store's chunk table)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager


def use_wal(db: sqlite3.Connection, timeout_s: float = 10.0) -> None:
    """Switch the file to WAL. SQLite answers "database is locked" at once, without its busy handler,
    while another connection is switching it or creating the schema, so retry until a deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception: the write lock is taken up
    front (waiting on the busy timeout), so two writers never both read and then both write."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")

"""``FeedbackStore`` on one SQLite file (WAL): the embedded default, no server.

The schema evolves through named migration functions applied once each, recorded in ``_migrations``
(the pattern of simonw/llm). Records are stored as their JSON plus the indexed columns the queries use.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.sqlite import use_wal, write_transaction
from feedback.errors import StoreUnavailable
from feedback.protocols import (
    FeedbackQuery,
    FeedbackStats,
    SessionSummary,
    compute_stats,
    summarize_sessions,
)
from feedback.schema import LOCAL_USER_ID, FeedbackRecord

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(func: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append(func)
    return func


@migration
def m001_feedback(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE feedback (
            feedback_id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            turn INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            adapter_key TEXT NOT NULL,
            rating INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
            review_state TEXT NOT NULL,
            record TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX feedback_updated ON feedback(updated_at)")
    db.execute("CREATE INDEX feedback_adapter ON feedback(adapter_key, updated_at)")
    db.execute("CREATE INDEX feedback_session ON feedback(session_id, turn)")
    db.execute("CREATE INDEX feedback_review ON feedback(review_state, updated_at)")


@migration
def m002_user_index(db: sqlite3.Connection) -> None:
    """Records by user (issue 16): an indexed user column; records from before sign-in belong to the
    local user, in the column and in the record itself."""
    db.execute("ALTER TABLE feedback ADD COLUMN user_id TEXT")
    db.execute(
        "UPDATE feedback SET record = json_set(record, '$.user_id', ?) "
        "WHERE json_extract(record, '$.user_id') IS NULL",
        (LOCAL_USER_ID,),
    )
    db.execute("UPDATE feedback SET user_id = json_extract(record, '$.user_id')")
    db.execute("CREATE INDEX feedback_user ON feedback(user_id, updated_at)")


def migrate(db: sqlite3.Connection) -> None:
    """Apply the missing migrations in one write transaction taken up front (``BEGIN IMMEDIATE`` waits
    on the busy timeout), so processes opening a new file at once neither deadlock nor apply one twice."""
    if _applied(db) >= {func.__name__ for func in MIGRATIONS}:
        return
    with write_transaction(db):
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = _applied(db)
        for func in MIGRATIONS:
            if func.__name__ not in done:
                func(db)
                db.execute(
                    "INSERT INTO _migrations(name, applied_at) VALUES (?, datetime('now'))", (func.__name__,)
                )


def _applied(db: sqlite3.Connection) -> set[str]:
    try:
        return {row[0] for row in db.execute("SELECT name FROM _migrations")}
    except sqlite3.OperationalError:  # no _migrations table yet
        return set()


class SQLiteFeedbackStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
            use_wal(self._db)
            self._db.execute("PRAGMA synchronous=FULL")
            migrate(self._db)
        except sqlite3.Error as err:
            raise StoreUnavailable(f"cannot open the feedback database {self.path}: {err}") from err

    def put(self, record: FeedbackRecord) -> bool:
        record = FeedbackRecord.model_validate(record.to_row())  # re-validate at the boundary
        row = record.to_row()
        with self._lock, self._guard():
            cur = self._db.execute(
                """INSERT INTO feedback(feedback_id, session_id, turn, created_at, updated_at, adapter_key,
                                        rating, review_state, record, user_id)
                   VALUES (?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(feedback_id) DO UPDATE SET
                       session_id=excluded.session_id, turn=excluded.turn,
                       updated_at=excluded.updated_at, adapter_key=excluded.adapter_key,
                       rating=excluded.rating, review_state=excluded.review_state,
                       record=excluded.record, user_id=excluded.user_id
                   WHERE excluded.updated_at >= feedback.updated_at""",
                (
                    record.feedback_id,
                    record.session_id,
                    record.turn,
                    record.created_at,
                    record.updated_at,
                    record.adapter_key,
                    record.rating,
                    record.review_state,
                    json.dumps(row),
                    record.user_id,
                ),
            )
            self._db.commit()
            return cur.rowcount > 0

    def put_if_unchanged(self, record: FeedbackRecord, expected_updated_at: str) -> bool:
        record = FeedbackRecord.model_validate(record.to_row())
        expected = FeedbackRecord.model_validate(
            {**record.to_row(), "updated_at": expected_updated_at}
        ).updated_at
        with self._lock, self._guard():
            cur = self._db.execute(
                """UPDATE feedback SET session_id=?, turn=?, updated_at=?, adapter_key=?, rating=?,
                                       review_state=?, record=?, user_id=?
                   WHERE feedback_id=? AND updated_at=?""",
                (
                    record.session_id,
                    record.turn,
                    record.updated_at,
                    record.adapter_key,
                    record.rating,
                    record.review_state,
                    json.dumps(record.to_row()),
                    record.user_id,
                    record.feedback_id,
                    expected,
                ),
            )
            self._db.commit()
            return cur.rowcount > 0

    def get(self, feedback_id: str) -> FeedbackRecord | None:
        with self._lock, self._guard():
            row = self._db.execute(
                "SELECT record FROM feedback WHERE feedback_id = ?", (feedback_id,)
            ).fetchone()
        return FeedbackRecord.model_validate_json(row[0]) if row else None

    def list(self, query: FeedbackQuery | None = None) -> Iterator[FeedbackRecord]:
        q = query or FeedbackQuery()
        clauses, params = [], []
        for column, op, value in (
            ("updated_at", ">=", q.since),
            ("updated_at", "<", q.until),
            ("adapter_key", "=", q.adapter),
            ("session_id", "=", q.session_id),
            ("review_state", "=", q.review_state),
            ("user_id", "=", q.user_id),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        if q.rated_only:
            clauses.append("rating IS NOT NULL")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock, self._guard():
            rows = self._db.execute(
                f"SELECT record FROM feedback {where} ORDER BY updated_at, feedback_id", params
            ).fetchall()
        for (raw,) in rows:
            yield FeedbackRecord.model_validate_json(raw)

    def sessions(self, limit: int = 50, user_id: str | None = None) -> list[SessionSummary]:
        return summarize_sessions(self.list(FeedbackQuery(user_id=user_id)), limit)

    def stats(self, query: FeedbackQuery | None = None) -> FeedbackStats:
        return compute_stats(self.list(query))

    def ping(self) -> None:
        with self._lock, self._guard():
            self._db.execute("SELECT 1")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as err:
            raise StoreUnavailable(f"the feedback database {self.path} is unavailable: {err}") from err

"""Nothing the user gives is lost: a local append-only spool in front of any ``FeedbackStore``.

``DurableFeedbackWriter.save`` writes to the store; if the store is unreachable the record is appended
to a JSONL spool file and fsync'd before ``save`` returns, and the user is told "saved locally, will
sync". The spool is drained (oldest first) on later saves and on ``drain()``; stores ignore stale
versions, so a replay can never duplicate a record or roll it back. While the store is down, saves skip
it for a growing back-off instead of making every user wait for a timeout.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from feedback.errors import StoreUnavailable
from feedback.protocols import FeedbackStore
from feedback.schema import FeedbackRecord

log = logging.getLogger(__name__)


class SaveStatus(StrEnum):
    STORED = "stored"
    SPOOLED = "spooled"  # saved locally, will sync


@dataclass
class DrainResult:
    sent: int
    remaining: int


class Spool:
    """Append-only JSONL file of records waiting for the store. Safe across threads and processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.path.with_suffix(self.path.suffix + ".lock")
        self._thread_lock = threading.RLock()

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._thread_lock, self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, record: FeedbackRecord) -> None:
        line = (record.model_dump_json() + "\n").encode("utf-8")
        with self.locked():
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[FeedbackRecord]:
        """Spooled records, oldest first. A torn last line (crash mid-write) is skipped."""
        if not self.path.exists():
            return []
        records = []
        for n, line in enumerate(self.path.read_bytes().split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(FeedbackRecord.model_validate_json(line))
            except ValueError:
                log.error("spool %s line %d is unreadable and kept aside", self.path, n)
                self._quarantine(line)
        return records

    def rewrite(self, records: list[FeedbackRecord]) -> None:
        """Atomically replace the spool with ``records`` (those not yet sent)."""
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with tmp.open("wb") as fh:
            for record in records:
                fh.write((record.model_dump_json() + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def __len__(self) -> int:
        with self.locked():
            return len(self.read())

    def _quarantine(self, line: bytes) -> None:
        with self.path.with_suffix(".rejected").open("ab") as fh:
            fh.write(line + b"\n")


class DurableFeedbackWriter:
    def __init__(
        self, store: FeedbackStore, spool: Spool, backoff_s: float = 2.0, max_backoff_s: float = 30.0
    ) -> None:
        self.store = store
        self.spool = spool
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._down_until = 0.0
        self._current_backoff = backoff_s

    @property
    def store_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _mark_down(self, err: Exception) -> None:
        log.warning("feedback store unavailable, spooling locally: %s", err)
        self._down_until = time.monotonic() + self._current_backoff
        self._current_backoff = min(self._current_backoff * 2, self.max_backoff_s)

    def _mark_up(self) -> None:
        self._down_until = 0.0
        self._current_backoff = self.backoff_s

    def save(self, record: FeedbackRecord) -> SaveStatus:
        """Store the record, or spool it durably if the store is down. Never loses it."""
        if not self.store_down:
            try:
                self.drain()
                if not self.store_down:
                    self.store.put(record)
                    self._mark_up()
                    return SaveStatus.STORED
            except StoreUnavailable as err:
                self._mark_down(err)
        self.spool.append(record)
        return SaveStatus.SPOOLED

    def drain(self) -> DrainResult:
        """Send spooled records oldest first; stop at the first failure and keep the rest."""
        with self.spool.locked():
            pending = self.spool.read()
            if not pending:
                return DrainResult(0, 0)
            sent = 0
            try:
                for record in pending:
                    self.store.put(record)
                    sent += 1
            except StoreUnavailable as err:
                self._mark_down(err)
            finally:
                if sent:
                    self.spool.rewrite(pending[sent:])
            if sent == len(pending):
                self._mark_up()
                log.info("feedback spool drained: %d records synced", sent)
            return DrainResult(sent, len(pending) - sent)

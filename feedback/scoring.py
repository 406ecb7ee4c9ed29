"""AI feedback on logged answers: every rated or corrected answer gets a judge's 0-5 score, in the
background, so the chat never waits and reviewers can sort by it.

- What is scored: a record with a rating or a correction. With a correction the judge compares the
  answer with it (basis ``reference``); without one it checks the answer against the sources the model
  was given, i.e. the exact prompt in the trace (basis ``sources``: groundedness).
- Stored on the record: ``ai_score``, ``ai_reason``, ``ai_judge`` (backend, model, prompt version,
  basis), ``ai_scored_at`` and ``ai_input``, a digest of what was scored. A record needs scoring while
  ``ai_input`` differs from the digest of its current content, so an edited correction is scored again
  and a scored record is not.
- Written back with a compare-and-set on ``updated_at`` (``FeedbackStore.put_if_unchanged``): if the user
  rated again meanwhile, the score is re-applied to the newer version instead of overwriting it.
- A judge outage loses nothing: the record stays unscored in the store, the worker backs off and
  retries, and ``sweep`` (run at start, every ``sweep_every_s`` and by ``ragloop feedback score``)
  finds whatever is still unscored.

The judge itself is any ``Scorer``; the front door (``ragloop``) wires the configured ``judge.core.Judge`` in.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from feedback.protocols import FeedbackQuery, FeedbackStore
from feedback.schema import FeedbackRecord, utc_now

log = logging.getLogger(__name__)


class Verdict(Protocol):
    score: float
    reason: str


class Scorer(Protocol):
    """A judge: ``identity`` names it (backend, model, prompt_version, ...); ``score`` raises when it is
    down."""

    @property
    def identity(self) -> dict[str, str]: ...

    def score(self, question: str, reference: str, answer: str, basis: str) -> Verdict: ...


def scoring_basis(record: FeedbackRecord) -> tuple[str, str]:
    """(basis, reference text) the record is judged against."""
    if record.correction:
        return "reference", record.correction
    return "sources", str(
        record.trace.get("prompt") or "\n".join(c.get("snippet", "") for c in record.citations)
    )


def scoring_input(record: FeedbackRecord, identity: dict[str, str]) -> str:
    basis, reference = scoring_basis(record)
    judge = [identity.get(k, "") for k in ("model", "prompt_version", "facts")]
    parts = [*judge, basis, record.question, reference]
    return hashlib.sha256("\x00".join([*parts, record.answer]).encode()).hexdigest()


def needs_score(record: FeedbackRecord, identity: dict[str, str]) -> bool:
    if record.rating is None and not record.correction:
        return False
    return record.ai_input != scoring_input(record, identity)


def on_rating_scale(ai_score: float) -> float:
    """An AI score (0-5) on the users' 1-5 rating scale."""
    return 1.0 + 0.8 * ai_score


def disagreement(record: FeedbackRecord) -> float | None:
    """How far the user's rating and the AI score lie apart on the 1-5 scale (None without both)."""
    if record.rating is None or record.ai_score is None:
        return None
    return abs(record.rating - on_rating_scale(record.ai_score))


@dataclass
class SweepResult:
    scored: int = 0
    failed: int = 0
    skipped: int = 0


class AIScorer:
    """Scores records of one store with one judge, synchronously (``score_record``, ``sweep``) or in a
    background thread (``start``, ``submit``, ``stop``)."""

    def __init__(
        self,
        store: FeedbackStore,
        scorer: Scorer,
        backoff_s: float = 5.0,
        max_backoff_s: float = 300.0,
        sweep_every_s: float = 600.0,
    ) -> None:
        self.store = store
        self.scorer = scorer
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sweep_every_s = sweep_every_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.judge_down = False
        self.handled = 0  # records the background thread has finished with (scored or nothing to do)

    # -- synchronous ---------------------------------------------------------------------------
    def score_record(self, feedback_id: str, tries: int = 3) -> bool:
        """Score the stored record if it needs it. True when a score was stored (or none was needed);
        raises whatever the judge raises when it is down."""
        identity = self.scorer.identity
        judged: tuple[str, float, str] | None = None  # (input digest, score, reason), reused on a conflict
        for _ in range(tries):
            record = self.store.get(feedback_id)
            if record is None or not needs_score(record, identity):
                return True
            digest = scoring_input(record, identity)
            basis, reference = scoring_basis(record)
            if judged is None or judged[0] != digest:
                verdict = self.scorer.score(record.question, reference, record.answer, basis)
                judged = (digest, verdict.score, verdict.reason)
            scored = record.model_copy(
                update={
                    "ai_score": round(float(judged[1]), 2),
                    "ai_reason": judged[2],
                    "ai_judge": {**identity, "basis": basis},
                    "ai_scored_at": utc_now(),
                    "ai_input": digest,
                    "updated_at": utc_now(),
                }
            )
            if self.store.put_if_unchanged(FeedbackRecord.model_validate(scored.to_row()), record.updated_at):
                return True
            log.debug("record %s changed while it was scored; scoring the new version", feedback_id)
        return False

    def pending(self, since: str | None = None) -> list[str]:
        """Ids of stored records that need a score (rated or corrected, unscored or stale)."""
        identity = self.scorer.identity
        records = self.store.list(FeedbackQuery(since=since))
        return [r.feedback_id for r in records if needs_score(r, identity)]

    def sweep(
        self, since: str | None = None, ids: Iterable[str] | None = None, progress: bool = False
    ) -> SweepResult:
        """Score every record that needs it; a judge failure counts as failed and the sweep goes on."""
        from tqdm import tqdm

        result = SweepResult()
        todo = list(ids) if ids is not None else self.pending(since)
        for feedback_id in tqdm(todo, desc="AI scoring", unit="answer", disable=not progress):
            try:
                if self.score_record(feedback_id):
                    result.scored += 1
                else:
                    result.skipped += 1
            except Exception as err:  # any judge failure: the record waits for a retry
                log.warning("AI score of %s failed: %s", feedback_id, err)
                result.failed += 1
        return result

    # -- background ----------------------------------------------------------------------------
    def start(self) -> AIScorer:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ai-scorer", daemon=True)
            self._thread.start()
        return self

    def submit(self, feedback_id: str) -> None:
        """Queue a record for scoring; returns at once."""
        self._queue.put(feedback_id)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        wait = self.backoff_s
        retry: list[str] = self.pending()  # whatever an earlier run or an outage left unscored
        next_try = 0.0  # monotonic time the judge may be called again (after a failure)
        next_sweep = time.monotonic() + self.sweep_every_s
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                item = self._queue.get(timeout=max(0.0, (next_try if retry else next_sweep) - now))
            except queue.Empty:
                item = None
            if self._stop.is_set():
                return
            if item is not None and item not in retry:
                retry.append(item)
            now = time.monotonic()
            if now >= next_sweep:
                retry += [i for i in self.pending() if i not in retry]
                next_sweep = now + self.sweep_every_s
            if now < next_try:
                continue  # the judge failed recently: collect, do not call it yet
            while retry and not self._stop.is_set():
                try:
                    self.score_record(retry[0])
                except Exception as err:  # the judge is down: keep the rest, back off
                    if not self.judge_down:
                        log.warning("AI judge unavailable (%s); %d answers wait for a score", err, len(retry))
                    self.judge_down = True
                    next_try = time.monotonic() + wait
                    wait = min(wait * 2, self.max_backoff_s)
                    break
                retry.pop(0)
                self.handled += 1
                if self.judge_down:
                    log.info("AI judge is back; scoring the answers that waited")
                self.judge_down, wait = False, self.backoff_s

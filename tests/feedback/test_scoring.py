"""AI scores on feedback records: scored in the background against the correction or the sources, each
record scored exactly once across a judge outage, never overwriting a newer user edit, back-filled by
``ragloop feedback score``."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from typer.testing import CliRunner

from core.settings import Settings, get_settings
from feedback.schema import FeedbackRecord, utc_now
from feedback.scoring import AIScorer, needs_score
from feedback.service import build_writer
from feedback.sqlite_store import SQLiteFeedbackStore
from judge.core import Judge
from judge.facts import FACTS_VERSION
from judge.overlap import ReferenceOverlapJudge
from ragloop.ai_feedback import build_ai_scorer
from ragloop.cli import app
from tests.feedback.conftest import make_record

SOURCES = (
    "[1] manual.pdf › Charging › page 2\n\nA full charge of the 500 Wh battery takes about 5 hours with "
    "the 2 A charger.\n\nQuestion: How long does charging take?"
)


class SwitchableBackend:
    """The real reference-overlap judge behind a switch: while ``down`` every call fails as a judge
    endpoint outage would; every answered prompt is counted."""

    def __init__(self, embedder) -> None:
        self.inner = ReferenceOverlapJudge(embedder.encode)
        self.model_id = self.inner.model_id
        self.prompt_version = self.inner.prompt_version
        self.down = False
        self.failed_calls = 0
        self.answered: Counter[str] = Counter()
        self.during_call = None  # hook: runs inside a successful call

    def judge(self, question: str, reference: str, answer: str, basis: str):
        if self.down:
            self.failed_calls += 1
            raise ConnectionError("judge endpoint unreachable")
        if self.during_call:
            self.during_call()
        self.answered["\x00".join([question, reference, answer, basis])] += 1
        return self.inner.judge(question, reference, answer, basis)


def wait_until(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


ANSWERS = ["About 5 hours [1].", "Roughly five hours [1].", "5 hours with the 2 A charger [1]."]


def rated(turn: int, rating: int, correction: str | None = None) -> FeedbackRecord:
    answer = ANSWERS[turn % len(ANSWERS)]
    return make_record(
        turn=turn, rating=rating, correction=correction, answer=answer, trace={"prompt": SOURCES}
    )


@pytest.fixture
def store(tmp_path):
    s = SQLiteFeedbackStore(tmp_path / "feedback.sqlite3")
    yield s
    s.close()


@pytest.fixture
def backend(embedder):
    return SwitchableBackend(embedder)


def scorer_for(store, backend) -> AIScorer:
    return AIScorer(store, Judge(backend), backoff_s=0.05, max_backoff_s=0.2, sweep_every_s=60)


def test_a_judge_outage_then_recovery_scores_every_record_exactly_once(store, backend):
    scorer = scorer_for(store, backend).start()
    try:
        backend.down = True
        records = [rated(0, 5), rated(1, 1, "About 5 hours with the 2 A charger."), rated(2, 2)]
        records += [make_record(turn=3)]  # not rated, no correction: nothing to score
        for record in records:
            store.put(record)
            scorer.submit(record.feedback_id)
        wait_until(lambda: backend.failed_calls >= 3 and scorer.judge_down)  # retried while down
        assert all(store.get(r.feedback_id).ai_score is None for r in records)

        backend.down = False
        wait_until(lambda: all(store.get(r.feedback_id).ai_score is not None for r in records[:3]))
        handled = scorer.handled
        for r in records[:3]:
            scorer.submit(r.feedback_id)  # a duplicate submission must not judge again
        wait_until(lambda: scorer.handled >= handled + 3)
    finally:
        scorer.stop()
    assert sorted(backend.answered.values()) == [1, 1, 1]  # three different answers, each judged once
    assert not scorer.judge_down
    stored = {r.turn: store.get(r.feedback_id) for r in records}
    assert stored[3].ai_score is None
    assert stored[1].ai_judge["basis"] == "reference" and stored[0].ai_judge["basis"] == "sources"
    for s in (stored[0], stored[1], stored[2]):
        assert s.ai_reason and s.ai_scored_at and s.ai_judge["model"] == ReferenceOverlapJudge.model_id


def test_a_scorer_started_later_finds_what_was_left_unscored(store, backend):
    for turn in range(3):
        store.put(rated(turn, 4))
    scorer = scorer_for(store, backend).start()  # nothing submitted: it looks for pending records
    try:
        wait_until(lambda: all(r.ai_score is not None for r in store.list()))
    finally:
        scorer.stop()
    assert scorer.pending() == []


def test_a_user_edit_during_scoring_is_kept_and_the_score_lands_on_it(store, backend):
    record = rated(0, 4)
    store.put(record)

    def user_rates_again():
        newer = record.model_copy(update={"rating": 1, "note": "actually wrong", "updated_at": utc_now()})
        store.put(FeedbackRecord.model_validate(newer.to_row()))
        backend.during_call = None

    backend.during_call = user_rates_again
    assert scorer_for(store, backend).score_record(record.feedback_id) is True
    stored = store.get(record.feedback_id)
    assert stored.rating == 1 and stored.note == "actually wrong"  # the user's edit survived
    assert stored.ai_score is not None
    assert sum(backend.answered.values()) == 1  # the score was re-applied, not judged twice


def test_a_changed_correction_makes_the_score_stale(store, backend):
    scorer = scorer_for(store, backend)
    record = rated(0, 2, "About 5 hours.")
    store.put(record)
    scorer.score_record(record.feedback_id)
    scored = store.get(record.feedback_id)
    identity = scorer.scorer.identity
    assert not needs_score(scored, identity)
    assert needs_score(scored.model_copy(update={"correction": "About 7 hours."}), identity)
    assert needs_score(scored.model_copy(update={"answer": "Two days."}), identity)
    assert not needs_score(scored.model_copy(update={"rating": 5, "note": "fine"}), identity)


def test_a_grounded_answer_outscores_an_invented_one(store, backend):
    scorer = scorer_for(store, backend)
    grounded = rated(0, 4)
    invented = make_record(
        turn=1, rating=4, answer="It charges in 20 minutes over USB-C at 65 W.", trace={"prompt": SOURCES}
    )
    for r in (grounded, invented):
        store.put(r)
        scorer.score_record(r.feedback_id)
    assert store.get(grounded.feedback_id).ai_score > store.get(invented.feedback_id).ai_score + 1


def test_cli_backfills_old_records_since_a_date_and_reports_failures(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        writer = build_writer(Settings(data_dir=tmp_path / "data"))
        writer.save(rated(0, 5).model_copy(update={"updated_at": "2026-01-05T00:00:00+00:00"}))
        writer.save(rated(1, 1).model_copy(update={"updated_at": "2026-03-05T00:00:00+00:00"}))
        writer.save(rated(2, 3).model_copy(update={"updated_at": "2026-03-06T00:00:00+00:00"}))
        result = CliRunner().invoke(app, ["feedback", "score", "--since", "2026-03-01"])
        assert result.exit_code == 0, result.output
        assert "scored 2, failed 0" in result.output
        scores = {r.turn: r.ai_score for r in writer.store.list()}
        assert scores[0] is None and scores[1] is not None and scores[2] is not None

        down = CliRunner().invoke(
            app, ["feedback", "score", "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "m"]
        )
        assert down.exit_code == 1 and "failed 3" in down.output  # another judge: all three, unreachable
    finally:
        get_settings.cache_clear()


def test_the_apps_background_scorer_scores_with_the_configured_cached_judge(tmp_path, store, embedder):
    """The app builds its scorer (and the judge's SQLite cache) on one thread and scores on another: the
    score must land (the cache once refused other threads, and every record waited for a 'judge outage'
    back-off)."""
    settings = Settings(data_dir=tmp_path / "data")
    scorer = build_ai_scorer(settings, store, embedder=embedder)
    scorer.backoff_s = 60.0  # a failure would park the record far past the deadline below
    record = rated(0, 2, "About 5 hours with the 2 A charger.")
    store.put(record)
    scorer.start()
    try:
        scorer.submit(record.feedback_id)
        wait_until(lambda: store.get(record.feedback_id).ai_score is not None, timeout_s=30)
    finally:
        scorer.stop()
    assert not scorer.judge_down
    assert store.get(record.feedback_id).ai_judge["facts"] == FACTS_VERSION


def test_the_background_scorer_stops_promptly(store, backend):
    scorer = scorer_for(store, backend).start()
    thread = scorer._thread
    scorer.stop()
    assert isinstance(thread, threading.Thread) and not thread.is_alive()

"""The reviewed-answers index follows the reviewers' decisions: only approved corrections are in it, an
edit replaces the text, a rejection or a changed correction takes it out, a retraction takes it out and
rejects the source record, and a rebuild drops entries whose approval is gone. Real feedback store
(SQLite through the durable writer), real embedded vector store, real embedding model."""

from __future__ import annotations

import pytest

from feedback.schema import FeedbackLimits, FeedbackRecord
from feedback.service import build_writer
from rag.service import build_embedder, build_reviewed
from ragloop.reviewed import approved_records, entry_for, rebuild, retract, sync
from ragloop.turns import rated_record, reviewed_record

QUESTION = "Can the frame lock and battery lock use the same key?"
CORRECTION = "Yes: a dealer keys them alike for 15 euros."
LIMITS = FeedbackLimits()


@pytest.fixture
def parts(settings):
    writer = build_writer(settings)
    index = build_reviewed(settings, build_embedder(settings))
    yield writer, index
    index.close()


def corrected(answer: str = "No, they cannot.") -> FeedbackRecord:
    record = FeedbackRecord(
        session_id="s1",
        turn=0,
        question=QUESTION,
        answer=answer,
        model="base",
        citations=[{"number": 1, "source": "/docs/accessories-and-parts.md", "page": None}],
    )
    return rated_record(record, 2, note="wrong", correction=CORRECTION, limits=LIMITS)


def close_to_question(index) -> list[str]:
    return [m.answer.text for m in index.match(index.embedder.encode_one("can both locks be keyed alike"))]


def test_only_an_approved_correction_is_used_and_an_edit_replaces_it(parts):
    _writer, index = parts
    record = corrected()
    assert sync(index, record) == "unchanged" and close_to_question(index) == []  # not yet approved
    approved = reviewed_record(record, "approved", "rita")
    assert sync(index, approved) == "added" and close_to_question(index) == [CORRECTION]
    entry = entry_for(approved)
    assert entry.approved_by == "rita" and entry.cites == ("accessories-and-parts.md",)
    edited = reviewed_record(approved, "approved", "rita", edited="Yes, for 15 euros at a dealer.")
    sync(index, edited)
    assert close_to_question(index) == ["Yes, for 15 euros at a dealer."]


def test_a_rejection_or_a_changed_correction_takes_it_out_at_once(parts):
    _writer, index = parts
    approved = reviewed_record(corrected(), "approved", "rita")
    sync(index, approved)
    assert sync(index, reviewed_record(approved, "rejected", "rita")) == "removed"
    assert close_to_question(index) == []
    sync(index, approved)
    changed = rated_record(
        approved, 2, note="wrong", correction="Only at the factory.", limits=LIMITS
    )  # back to review
    assert changed.review_state == "pending" and sync(index, changed) == "removed"
    assert close_to_question(index) == []


def test_synthetic_drafts_and_plain_ratings_are_not_reviewed_answers(parts):
    _, _index = parts
    draft = reviewed_record(corrected().model_copy(update={"trace": {"synthetic": True}}), "approved", "rita")
    assert entry_for(draft) is None
    liked = reviewed_record(
        FeedbackRecord(
            session_id="s2", turn=0, question=QUESTION, answer="Yes, ask a dealer.", model="b", rating=5
        ),
        "approved",
        "rita",
    )
    assert entry_for(liked) is None and entry_for(liked, include_rated=True).text == "Yes, ask a dealer."


def test_retract_removes_the_entry_and_rejects_its_record(parts):
    writer, index = parts
    approved = reviewed_record(corrected(), "approved", "rita")
    writer.save(approved)
    sync(index, approved)
    updated = retract(index, writer, approved.feedback_id, "sam")
    writer.drain()
    assert close_to_question(index) == []
    stored = writer.store.get(approved.feedback_id)
    assert stored.review_state == "rejected" and stored.reviewer == "sam" and "retracted" in stored.note
    assert updated.review_state == "rejected"


def test_rebuild_makes_the_index_match_the_store(parts):
    writer, index = parts
    keep = reviewed_record(corrected(), "approved", "rita")
    gone = reviewed_record(corrected("Maybe."), "approved", "rita")
    writer.save(keep)
    sync(index, gone)  # in the index, but its record was never stored (or was deleted)
    writer.drain()
    report = rebuild(index, approved_records(writer.store))
    assert (report.entries, report.removed) == (1, 1) and index.ids() == {keep.feedback_id}


def test_the_reviewed_commands_rebuild_list_and_retract(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from core.settings import Settings, get_settings
    from ragloop.cli import app

    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    writer = build_writer(Settings(data_dir=tmp_path / "data"))
    approved = reviewed_record(corrected(), "approved", "rita")
    writer.save(approved)
    writer.drain()
    run = CliRunner().invoke
    out = run(app, ["reviewed", "rebuild"])
    assert out.exit_code == 0 and "1 reviewed answers in use" in out.output, out.output
    out = run(app, ["reviewed", "list"])
    assert (
        f"{approved.feedback_id}  reviewed answer · approved by rita" in out.output
        and "1 in the index" in out.output
    )
    out = run(app, ["reviewed", "retract", approved.feedback_id, "--reviewer", "sam"])
    assert out.exit_code == 0, out.output
    assert writer.store.get(approved.feedback_id).review_state == "rejected"
    assert "0 in the index" in run(app, ["reviewed", "list"]).output
    out = run(app, ["reviewed", "retract", "nope", "--reviewer", "sam"])
    assert out.exit_code == 1 and "no feedback record 'nope'" in out.output
    get_settings.cache_clear()

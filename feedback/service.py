"""Wire the feedback log from settings: the configured store behind the durable spool."""

from __future__ import annotations

from core.settings import Settings
from feedback.protocols import FeedbackStore
from feedback.schema import FeedbackLimits
from feedback.spool import DurableFeedbackWriter, Spool


def _sqlite(settings: Settings) -> FeedbackStore:
    from feedback.sqlite_store import SQLiteFeedbackStore

    return SQLiteFeedbackStore(settings.feedback_db)


def _dynamodb(settings: Settings) -> FeedbackStore:
    from feedback.dynamo_store import DynamoFeedbackStore

    return DynamoFeedbackStore.from_settings(settings)


STORES = {"sqlite": _sqlite, "dynamodb": _dynamodb}


def get_feedback_store(settings: Settings) -> FeedbackStore:
    return STORES[settings.feedback.kind](settings)


def build_writer(settings: Settings, store: FeedbackStore | None = None) -> DurableFeedbackWriter:
    return DurableFeedbackWriter(store or get_feedback_store(settings), Spool(settings.feedback_spool))


def limits(settings: Settings) -> FeedbackLimits:
    cfg = settings.feedback
    return FeedbackLimits(
        max_note_chars=cfg.max_note_chars,
        max_correction_chars=cfg.max_correction_chars,
        max_question_chars=cfg.max_question_chars,
        max_answer_chars=cfg.max_answer_chars,
    )

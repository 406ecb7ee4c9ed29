"""AI feedback in the running product: the configured judge (``judge.factory.build_judge``) as the scorer
that ``feedback.scoring.AIScorer`` runs in the background for the app and for ``ragloop feedback score``.

A correction is judged against it (basis ``reference``); an answer without one against the exact sources
its prompt held (basis ``sources``). The judge's identity is stored with every score.
"""

from __future__ import annotations

from core.settings import Settings
from feedback.protocols import FeedbackStore
from feedback.scoring import AIScorer
from judge.factory import build_judge


def build_ai_scorer(
    settings: Settings,
    store: FeedbackStore,
    *,
    judge_url: str | None = None,
    judge_model: str | None = None,
    bedrock_model: str | None = None,
    embedder=None,
) -> AIScorer:
    """The configured judge (the arguments override ``settings.judge``) over ``store``."""
    judge = build_judge(
        settings, url=judge_url, model=judge_model, bedrock_model=bedrock_model, embedder=embedder
    )
    return AIScorer(store, judge)

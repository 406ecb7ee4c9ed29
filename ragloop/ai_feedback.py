"""AI feedback in the running product: the training stage's judge, wrapped as the ``Scorer`` that
``feedback.scoring.AIScorer`` runs in the background for the app and for ``ragloop feedback score``.

Judge by configuration (``feedback.judge_url`` / ``judge_model`` / ``bedrock_model``); with none of them the
deterministic reference-overlap judge scores on the retrieval embedder, so the embedded default works
offline. A correction is judged with the reference prompt; an answer without one with the groundedness
prompt, against the exact sources its prompt held.
"""

from __future__ import annotations

from core.settings import Settings
from feedback.protocols import FeedbackStore
from feedback.scoring import AIScorer
from training.judge import (
    GROUNDED_PROMPT,
    GROUNDED_PROMPT_VERSION,
    JUDGE_PROMPT,
    JUDGE_PROMPT_VERSION,
    Judge,
    ReferenceOverlapJudge,
    build_judge,
)


class JudgeScorer:
    """A ``Judge`` as a ``feedback.scoring.Scorer``."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self.identity = {
            "backend": type(judge.backend).__name__,
            "model": judge.backend.model_id,
            "prompt_version": f"{JUDGE_PROMPT_VERSION}+{GROUNDED_PROMPT_VERSION}",
        }

    def score(self, question: str, reference: str, answer: str, basis: str) -> tuple[float, str]:
        template = GROUNDED_PROMPT if basis == "sources" else JUDGE_PROMPT
        judgement = self.judge.score(question, reference, answer, template=template)
        return judgement.score, judgement.reason


def build_ai_scorer(
    settings: Settings,
    store: FeedbackStore,
    judge_url: str | None = None,
    judge_model: str | None = None,
    bedrock_model: str | None = None,
) -> AIScorer:
    """The configured judge (arguments override settings) over ``store``."""
    cfg = settings.feedback
    url, model = judge_url or cfg.judge_url, judge_model or cfg.judge_model
    bedrock = bedrock_model or cfg.bedrock_model
    fallback = None
    if not (url or bedrock):
        from rag.service import build_embedder

        fallback = ReferenceOverlapJudge(build_embedder(settings).encode)
    key = settings.llm.api_key.get_secret_value()
    judge = build_judge(settings.judge_cache, url, model, bedrock, key, fallback=fallback)
    return AIScorer(store, JudgeScorer(judge))

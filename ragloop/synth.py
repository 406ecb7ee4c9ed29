"""Bootstrap training data before users arrive: the LLM drafts a question and answer per indexed chunk,
and each draft lands in the Review page as a pending correction for an expert to approve, edit or
reject. Approved drafts then train like any approved correction (the reference design started from 137
verified synthetic samples). With a ``verify`` judge (the loop's simulated expert) each draft is judged
against the chunk it came from instead: approved at ``min_score`` or above, rejected with the judge's
reason below it.

    ragloop data synth --count 50
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.citations import has_citation
from drafting.drafts import Draft, drafts
from feedback.schema import FeedbackRecord
from feedback.scoring import Scorer
from feedback.spool import DurableFeedbackWriter
from rag.chain import PROMPT_TEMPLATE_VERSION, SYSTEM_PROMPT, build_prompt
from rag.protocols import LLM, SearchHit, VectorStore
from ragloop.turns import reviewed_record

log = logging.getLogger(__name__)


@dataclass
class SynthReport:
    drafted: int = 0  # usable drafts saved
    unusable: int = 0  # replies that were not a question and an answer
    verified: int = 0  # drafts the verifying judge approved (with ``verify``)
    refused: int = 0  # drafts it rejected
    model: str = ""  # the model that drafted

    def summary(self) -> str:
        text = f"{self.drafted} drafted ({self.unusable} replies unusable)"
        if self.verified or self.refused:
            text += f"; {self.verified} verified against their chunk, {self.refused} refused"
        return text


def draft_record(draft: Draft, model: str) -> FeedbackRecord:
    """A usable draft as the feedback record the Review page shows: the drafted answer is the correction
    of an empty answer, with the prompt the chain would send for the question and that one chunk."""
    assert draft.qa is not None
    (question, answer), hit = draft.qa, draft.hit
    chunk = hit.chunk
    if not has_citation(answer):
        answer += " [1]"  # the chunk is source 1 of the prompt: the answer cites it as served answers do
    return FeedbackRecord(
        session_id="synthetic",
        turn=draft.index,
        question=question,
        answer="",
        model=model,
        correction=answer,
        note=f"synthetic draft from {draft.where}",
        citations=[
            {
                "number": 1,
                "source": chunk.source,
                "page": chunk.page,
                "chunk_id": chunk.chunk_id,
                "score": hit.score,
                "snippet": chunk.text[:300],
            }
        ],
        trace={
            "prompt": build_prompt(question, [hit]),
            "system": SYSTEM_PROMPT,  # as the chain sends it, so training sees what serving does
            "prompt_template_version": PROMPT_TEMPLATE_VERSION,
            "chunk_ids": [chunk.chunk_id],
            "synthetic": True,
            "model": model,
        },
    )


def synthesize(
    store: VectorStore,
    dim: int,
    llm: LLM,
    writer: DurableFeedbackWriter,
    count: int,
    *,
    seed: int = 0,
    max_tokens: int = 160,
    workers: int = 1,
    per_chunk: int = 1,
    verify: Scorer | None = None,
    min_score: float = 4.0,
    retrieve: Callable[[str], Sequence[SearchHit]] | None = None,
    reviewer: str = "synthetic-data verifier",
    max_minutes: float | None = None,
    style: str = "free",
) -> SynthReport:
    """Draft from ``count`` chunks and save each usable draft: pending review, or — with ``verify`` —
    approved by ``reviewer`` when the judge scores the drafted answer against its chunk (basis
    ``sources``) at ``min_score`` or above and, with ``retrieve``, the drafted question finds its own
    chunk (round-trip consistency, as in PAQ and Promptagator: a question only its chunk answers);
    else rejected with the reason as the note. ``max_minutes``: the drafting budget, ``style``: ``free``
    (the model writes question and answer) or ``extractive`` (a sentence of the chunk is the answer;
    see ``drafting.drafts``)."""
    report = SynthReport()
    model = report.model = llm.model_id()
    for draft in drafts(
        store,
        dim,
        llm,
        count,
        seed=seed,
        max_tokens=max_tokens,
        workers=workers,
        per_chunk=per_chunk,
        max_minutes=max_minutes,
        style=style,
    ):
        if draft.qa is None:
            report.unusable += 1
            continue
        record = draft_record(draft, model)
        report.drafted += 1
        if verify is not None:
            question, answer = draft.qa
            verdict = verify.score(question, draft.hit.chunk.text, answer, basis="sources")
            why = f"judged {verdict.score:.1f}/5 against its chunk: {verdict.reason}"
            ok = verdict.score >= min_score
            if ok and retrieve is not None:
                found = [h.chunk.chunk_id for h in retrieve(question)]
                ok = draft.hit.chunk.chunk_id in found
                why += (
                    "; the question retrieves its chunk"
                    if ok
                    else "; the question does not retrieve its chunk"
                )
            report.verified += ok
            report.refused += not ok
            record = reviewed_record(record, "approved" if ok else "rejected", reviewer)
            record = record.model_copy(update={"note": f"{record.note}; {why}"[:2000]})
        writer.save(record)
    return report

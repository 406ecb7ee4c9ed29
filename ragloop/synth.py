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
import random
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from feedback.schema import FeedbackRecord
from feedback.scoring import Scorer
from feedback.spool import DurableFeedbackWriter
from rag.chain import PROMPT_TEMPLATE_VERSION, SYSTEM_PROMPT, build_prompt
from rag.protocols import LLM, ChatMessage, SearchHit, VectorStore
from ragloop.turns import reviewed_record

log = logging.getLogger(__name__)

SYNTH_PROMPT = """Read the passage and write one question a customer could ask that the passage answers,
then the answer in one or two complete sentences, using only the passage. Reply in exactly this form:
Question: <the question>
Answer: <the answer>

Passage ({where}):
{text}"""

CITATION = re.compile(r"\[\d+\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_DRAFT = re.compile(r"Question:\s*(?P<q>.+?)\s*\n+\s*Answer:\s*(?P<a>.+)", re.DOTALL | re.IGNORECASE)


@dataclass
class SynthReport:
    drafted: int = 0  # usable drafts saved
    unusable: int = 0  # replies that were not a question and an answer
    verified: int = 0  # drafts the verifying judge approved (with ``verify``)
    refused: int = 0  # drafts it rejected

    def summary(self) -> str:
        text = f"{self.drafted} drafted ({self.unusable} replies unusable)"
        if self.verified or self.refused:
            text += f"; {self.verified} verified against their chunk, {self.refused} refused"
        return text


def parse_draft(text: str) -> tuple[str, str] | None:
    match = _DRAFT.search(text or "")
    if not match:
        return None
    question, answer = match.group("q").strip(), match.group("a").strip()
    if len(question) < 8 or not question.endswith("?") or len(answer) < 2:
        return None
    return question, answer


def all_chunks(store: VectorStore, dim: int) -> list[SearchHit]:
    import numpy as np

    return store.search(np.zeros(dim, dtype=np.float32), k=max(store.count(), 1))


@dataclass
class Draft:
    index: int  # position of the chunk in the sampled order
    hit: SearchHit
    where: str  # "file, page N" as shown to the model
    qa: tuple[str, str] | None  # (question, answer); None when the reply was unusable


def passages(text: str, parts: int) -> list[str]:
    """``text`` in up to ``parts`` consecutive runs of whole sentences (lines count as sentences, so a
    table row or list item stays whole): a small model drafts a different question from each run
    where, asked for another question on the whole chunk, it repeats its first one."""
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    parts = max(1, min(parts, len(sentences)))
    size = -(-len(sentences) // parts)
    return [" ".join(sentences[i : i + size]).strip() for i in range(0, len(sentences), size)]


def drafts(
    store: VectorStore,
    dim: int,
    llm: LLM,
    count: int,
    *,
    seed: int = 0,
    max_tokens: int = 160,
    desc: str = "drafting",
    workers: int = 1,
    per_chunk: int = 1,
) -> Iterator[Draft]:
    """Drafted question/answer pairs from up to ``count`` sampled chunks (a stable shuffled order):
    ``per_chunk`` per chunk, each from its own run of the chunk's sentences (``passages``). ``workers``
    requests run at once (vLLM batches them: on 2 CPU cores 4 at once drafted 8 pairs in 4.9 s against
    13.0 s one at a time); drafts come back in a stable order either way."""
    hits = all_chunks(store, dim)
    random.Random(seed).shuffle(hits)
    jobs = [
        (index, hit, text)
        for index, hit in enumerate(hits[:count])
        for text in (passages(hit.chunk.text, per_chunk) if per_chunk > 1 else [hit.chunk.text])
    ]

    def draft(job: tuple[int, SearchHit, str]) -> Draft:
        index, hit, text = job
        chunk = hit.chunk
        where = Path(chunk.source).name + (f", page {chunk.page}" if chunk.page else "")
        reply = "".join(
            llm.stream_chat(
                [ChatMessage("user", SYNTH_PROMPT.format(where=where, text=text))],
                max_tokens=max_tokens,
                temperature=0.0,
            )
        )
        qa = parse_draft(reply)
        if qa is None:
            log.info("unusable draft for %s: %r", where, reply[:80])
        return Draft(index, hit, where, qa)

    seen: set[tuple[int, str]] = set()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for result in tqdm(pool.map(draft, jobs), total=len(jobs), desc=desc, unit="draft"):
            key = (result.index, result.qa[0].lower()) if result.qa else None
            if key in seen:
                result.qa = None  # the same question from another passage of the chunk
            elif key:
                seen.add(key)
            yield result


def draft_record(draft: Draft, model: str) -> FeedbackRecord:
    """A usable draft as the feedback record the Review page shows: the drafted answer is the correction
    of an empty answer, with the prompt the chain would send for the question and that one chunk."""
    assert draft.qa is not None
    (question, answer), hit = draft.qa, draft.hit
    chunk = hit.chunk
    if not CITATION.search(answer):
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
) -> SynthReport:
    """Draft from ``count`` chunks and save each usable draft: pending review, or — with ``verify`` —
    approved by ``reviewer`` when the judge scores the drafted answer against its chunk (basis
    ``sources``) at ``min_score`` or above and, with ``retrieve``, the drafted question finds its own
    chunk (round-trip consistency, as in PAQ and Promptagator: a question only its chunk answers);
    else rejected with the reason as the note."""
    report = SynthReport()
    model = llm.model_id()
    for draft in drafts(
        store, dim, llm, count, seed=seed, max_tokens=max_tokens, workers=workers, per_chunk=per_chunk
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

"""Bootstrap training data before users arrive: the LLM drafts a question and answer per indexed chunk,
and each draft lands in the Review page as a pending correction for an expert to approve, edit or
reject. Approved drafts then train like any approved correction (the reference design started from 137
verified synthetic samples).

    ragloop data synth --count 50
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from feedback.schema import FeedbackRecord
from feedback.spool import DurableFeedbackWriter
from rag.chain import PROMPT_TEMPLATE_VERSION, SYSTEM_PROMPT, build_prompt
from rag.protocols import LLM, ChatMessage, SearchHit, VectorStore

log = logging.getLogger(__name__)

SYNTH_PROMPT = """Read the passage and write one question a customer could ask that the passage answers,
then the answer, using only the passage. Reply in exactly this form:
Question: <the question>
Answer: <the answer>

Passage ({where}):
{text}"""

_DRAFT = re.compile(r"Question:\s*(?P<q>.+?)\s*\n+\s*Answer:\s*(?P<a>.+)", re.DOTALL | re.IGNORECASE)


@dataclass
class SynthReport:
    drafted: int = 0
    unusable: int = 0


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


def drafts(
    store: VectorStore,
    dim: int,
    llm: LLM,
    count: int,
    seed: int = 0,
    max_tokens: int = 160,
    desc: str = "drafting",
) -> Iterator[Draft]:
    """One drafted question/answer per sampled chunk (up to ``count``, a stable shuffled order)."""
    hits = all_chunks(store, dim)
    random.Random(seed).shuffle(hits)
    for index, hit in enumerate(tqdm(hits[:count], desc=desc, unit="chunk")):
        chunk = hit.chunk
        where = Path(chunk.source).name + (f", page {chunk.page}" if chunk.page else "")
        reply = "".join(
            llm.stream_chat(
                [ChatMessage("user", SYNTH_PROMPT.format(where=where, text=chunk.text))],
                max_tokens=max_tokens,
                temperature=0.0,
            )
        )
        qa = parse_draft(reply)
        if qa is None:
            log.info("unusable draft for %s: %r", where, reply[:80])
        yield Draft(index, hit, where, qa)


def synthesize(
    store: VectorStore,
    dim: int,
    llm: LLM,
    writer: DurableFeedbackWriter,
    count: int,
    seed: int = 0,
    max_tokens: int = 160,
) -> SynthReport:
    report = SynthReport()
    model = llm.model_id()
    for draft in drafts(store, dim, llm, count, seed, max_tokens):
        if draft.qa is None:
            report.unusable += 1
            continue
        (question, answer), hit, where, turn = draft.qa, draft.hit, draft.where, draft.index
        chunk = hit.chunk
        writer.save(
            FeedbackRecord(
                session_id="synthetic",
                turn=turn,
                question=question,
                answer="",
                model=model,
                correction=answer,
                note=f"synthetic draft from {where}",
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
        )
        report.drafted += 1
    return report

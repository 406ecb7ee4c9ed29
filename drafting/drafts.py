"""Drafting question-answer pairs from chunks with the served model (``drafts``): each sampled chunk,
or each run of its sentences, goes to the model with ``SYNTH_PROMPT``; the reply is parsed into a
question and its answer (``parse_draft``), or marked unusable. Knows the vector store and the LLM
protocol only; what the drafts become (feedback records, eval items, embedder pairs) is the caller's."""

from __future__ import annotations

import logging
import random
import re
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from rag.protocols import LLM, ChatMessage, SearchHit, VectorStore

log = logging.getLogger(__name__)

SYNTH_PROMPT = """Read the passage and write one question a customer could ask that the passage answers,
then the answer in one or two complete sentences, using only the passage. Reply in exactly this form:
Question: <the question>
Answer: <the answer>

Passage ({where}):
{text}"""


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_DRAFT = re.compile(r"Question:\s*(?P<q>.+?)\s*\n+\s*Answer:\s*(?P<a>.+)", re.DOTALL | re.IGNORECASE)


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
    max_minutes: float | None = None,
) -> Iterator[Draft]:
    """Drafted question/answer pairs from up to ``count`` sampled chunks (a stable shuffled order):
    ``per_chunk`` per chunk, each from its own run of the chunk's sentences (``passages``), when the
    corpus has fewer than ``count`` chunks — the way to more questions from a small corpus; a corpus of
    ``count`` chunks or more gets one draft per whole chunk (on realdocs2's 227 chunks, the same 40
    chunks gave 17 verified drafts of 117 from three passages each in 5.7 min, 10 of 40 from whole
    chunks in 1.5 min: twice the verified drafts per minute of a drafting budget). ``workers``
    requests run at once (vLLM batches them: on 2 CPU cores 4 at once drafted 8 pairs in 4.9 s against
    13.0 s one at a time); drafts come back in a stable order either way. With ``max_minutes`` no new
    request starts once that much wall time has passed (those in flight finish): on a large corpus the
    drafts are the first chunks of the shuffled order that fit the budget."""
    hits = all_chunks(store, dim)
    random.Random(seed).shuffle(hits)
    if len(hits) >= count:  # chunks enough for the sample: one question per whole chunk
        per_chunk = 1
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

    deadline = time.monotonic() + max_minutes * 60 if max_minutes else float("inf")
    seen: set[tuple[int, str]] = set()
    todo, pending = iter(jobs), deque()
    with (
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
        tqdm(total=len(jobs), desc=desc, unit="draft") as bar,
    ):

        def submit() -> None:  # keep ``workers`` requests in flight while the budget lasts
            while len(pending) < max(1, workers) and time.monotonic() < deadline:
                job = next(todo, None)
                if job is None:
                    return
                pending.append(pool.submit(draft, job))

        submit()
        while pending:
            result = pending.popleft().result()
            submit()
            bar.update()
            key = (result.index, result.qa[0].lower()) if result.qa else None
            if key in seen:
                result.qa = None  # the same question from another passage of the chunk
            elif key:
                seen.add(key)
            yield result
    if bar.n < len(jobs):
        log.info("drafting budget of %g min reached after %d of %d drafts", max_minutes, bar.n, len(jobs))

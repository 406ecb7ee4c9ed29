"""Drafting question-answer pairs from chunks with the served model (``drafts``), in one of two styles:

- ``free``: each sampled chunk, or each run of its sentences, goes to the model with ``SYNTH_PROMPT``;
  the reply is parsed into a question and its answer (``parse_draft``), or marked unusable;
- ``extractive`` (answer first, as PAQ does): a prose sentence of the chunk is the answer
  (``answer_sentences``) and the model only writes the question it answers (``QUESTION_PROMPT``,
  ``parse_question``), so the answer is the source's own words and cannot state what the chunk does not.

Knows the vector store and the LLM protocol only; what the drafts become (feedback records, eval items,
embedder pairs) is the caller's."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from tqdm import tqdm

from core.pool import ordered_until
from core.settings import DraftingStyle
from rag.protocols import LLM, ChatMessage, SearchHit, VectorStore

log = logging.getLogger(__name__)

SYNTH_PROMPT = """Read the passage and write one question a customer could ask that the passage answers,
then the answer in one or two complete sentences, using only the passage. Reply in exactly this form:
Question: <the question>
Answer: <the answer>

Passage ({where}):
{text}"""


QUESTION_PROMPT = """Read the passage and the sentence taken from it. Write one question a user of this
documentation could ask that the sentence answers: start it with What, Which, How, When, Where or Why
(not a yes/no question), use your own words rather than the sentence's, and do not mention "the
passage" or "the sentence". Reply in exactly this form:
Question: <the question>

Passage ({where}):
{text}

Sentence that answers the question:
{sentence}"""

STYLES = get_args(DraftingStyle)  # one list of styles: the settings' own

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_DRAFT = re.compile(r"Question:\s*(?P<q>.+?)\s*\n+\s*Answer:\s*(?P<a>.+)", re.DOTALL | re.IGNORECASE)
_QUESTION = re.compile(r"Question:\s*(?P<q>[^\n]+)", re.IGNORECASE)
# a sentence that leans on what came before it ("In this example, ...", "This struct has ...", "We'll
# start ...", "shown in Listing 9-5") does not stand alone as an answer
_LEANS_ON_CONTEXT = re.compile(
    r"^(this|that|these|those|it|its|they|their|he|she|we|we[’']\w+|here|there|so|but|and|or|also|then|"
    r"now|however|instead|otherwise|thus|hence|of course|in fact|for this|for example|in this|let[’']s|"
    r"in that|as (?:before|above|shown|we))\b|\b(listing|figure|table) \d|\b(above|below|previous|"
    r"following|earlier|later)\b",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^\s*(```|~~~).*?^\s*(```|~~~)[^\n]*$", re.DOTALL | re.MULTILINE)
_ANCHOR = re.compile(r"\s*\{\s*#[^}]*\}")  # MkDocs heading attributes: "{ #early-exit }"
_PROSE_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*_\"'(\[])")
_LIST_MARK = re.compile(r"^([-*+]|\d+[.)])\s+")
_NOT_PROSE = re.compile(r"^\s*(#|\||>>>|\$ |[-=]{3,}|\{\*|<)")


def parse_draft(text: str) -> tuple[str, str] | None:
    match = _DRAFT.search(text or "")
    if not match:
        return None
    question, answer = match.group("q").strip(), match.group("a").strip()
    if len(question) < 8 or not question.endswith("?") or len(answer) < 2:
        return None
    return question, answer


def parse_question(text: str) -> str | None:
    """The question of an extractive draft's reply: "Question: ...?" on one line, or a first line that
    is a question (the 0.5B model often leaves the label out); None otherwise."""
    match = _QUESTION.search(text or "")
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not match and not lines:
        return None
    question = (match.group("q") if match else lines[0]).strip().strip("*").strip()
    if (
        len(question) < 8
        or not question.endswith("?")
        or re.search(r"\b(passage|sentence)\b", question, re.IGNORECASE)
    ):
        return None
    return question


def _is_heading_line(previous: str, line: str, following: str) -> bool:
    """A PDF heading inside a paragraph's lines: a few words without closing punctuation, between a
    finished sentence (or the paragraph's start) and a new one ("Battery and charging" before "The
    battery is ...")."""
    opens = not previous or previous[-1:] in ".!?:"
    starts_next = following[:1].isupper() or following[:1] in "`*_"
    return opens and starts_next and len(line.split()) <= 6 and line[-1:] not in ".!?:,;"


def answer_sentences(body: str, *, min_words: int = 6, max_words: int = 45) -> list[str]:
    """The sentences of a chunk's passage that can stand alone as an answer: prose outside code blocks,
    headings and tables, with ``min_words``-``max_words`` words, ending a statement (not a ":" that
    introduces code) and not leaning on what came before ("In this example", "This struct", "Listing
    9-5", "below"). Lines wrapped inside a paragraph (PDF, Markdown) are joined first."""
    text = _FENCE.sub("\n\n", body)
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        if not lines or any(_NOT_PROSE.match(line) for line in lines):
            continue
        around = zip(["", *lines[:-1]], lines, [*lines[1:], ""], strict=True)
        lines = [
            line for previous, line, following in around if not _is_heading_line(previous, line, following)
        ]
        prose = _ANCHOR.sub("", " ".join(_LIST_MARK.sub("", line) for line in lines))
        for sentence in _PROSE_SENTENCE.split(prose):
            sentence = sentence.strip()
            stands_alone = (
                (sentence[:1].isupper() or sentence[:1] in "`*_")
                and sentence[-1:] in ".!?"
                and not sentence.endswith("...")
                and not _LEANS_ON_CONTEXT.search(sentence)
            )
            if stands_alone and min_words <= len(sentence.split()) <= max_words:
                sentences.append(sentence)
    return sentences


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


def _draft_inputs(hit: SearchHit, style: str, per_chunk: int, seed: int) -> list[str]:
    """What each draft of a chunk starts from: runs of its sentences (``free``), or the answer sentences
    themselves (``extractive``)."""
    if style == "extractive":
        sentences = answer_sentences(hit.chunk.body)
        return random.Random(seed).sample(sentences, min(per_chunk, len(sentences)))
    return passages(hit.chunk.text, per_chunk) if per_chunk > 1 else [hit.chunk.text]


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
    style: str = "free",
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
    drafts are the first chunks of the shuffled order that fit the budget.

    ``style`` ``extractive``: each draft's answer is one of the chunk's prose sentences (``per_chunk``
    different ones, chosen by ``seed``; a chunk with none gives no draft) and the model writes only its
    question."""
    if style not in STYLES:
        raise ValueError(f"unknown drafting style {style!r}: use one of {', '.join(STYLES)}")
    hits = all_chunks(store, dim)
    random.Random(seed).shuffle(hits)
    if len(hits) >= count:  # chunks enough for the sample: one question per whole chunk
        per_chunk = 1
    jobs = [
        (index, hit, text)
        for index, hit in enumerate(hits[:count])
        for text in _draft_inputs(hit, style, per_chunk, seed + index)
    ]
    deadline = time.monotonic() + max_minutes * 60 if max_minutes else float("inf")
    seen: set[tuple[int, str]] = set()
    with tqdm(total=len(jobs), desc=desc, unit="draft") as bar:
        for result in ordered_until(
            lambda job: draft_one(llm, job, style=style, max_tokens=max_tokens),
            jobs,
            workers=workers,
            deadline=deadline,
        ):
            bar.update()
            key = (result.index, result.qa[0].lower()) if result.qa else None
            if key in seen:
                result.qa = None  # the same question from another passage of the chunk
            elif key:
                seen.add(key)
            yield result
        done = bar.n
    if done < len(jobs):
        log.info("drafting budget of %g min reached after %d of %d drafts", max_minutes, done, len(jobs))


def draft_one(llm: LLM, job: tuple[int, SearchHit, str], *, style: str, max_tokens: int) -> Draft:
    """One request to the model: ``job`` is (chunk's index, the chunk, the text to draft from — in the
    extractive style the answer sentence, the model then seeing the whole chunk)."""
    index, hit, text = job
    chunk = hit.chunk
    where = Path(chunk.source).name + (f", page {chunk.page}" if chunk.page else "")
    if style == "extractive":
        prompt = QUESTION_PROMPT.format(where=where, text=chunk.text, sentence=text)
    else:
        prompt = SYNTH_PROMPT.format(where=where, text=text)
    reply = "".join(llm.stream_chat([ChatMessage("user", prompt)], max_tokens=max_tokens, temperature=0.0))
    if style == "extractive":
        question = parse_question(reply)
        qa = (question, text) if question else None
    else:
        qa = parse_draft(reply)
    if qa is None:
        log.info("unusable draft for %s: %r", where, reply[:80])
    return Draft(index, hit, where, qa)

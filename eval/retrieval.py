"""Retrieval quality on an evidence set: did the retriever bring back the passage that answers?

An evidence set (``eval/sets/realdocs.jsonl``) is JSON lines of questions, each with one or more verbatim
evidence strings and the file (and PDF page) they come from. A question's evidence is *found* at rank r
when every evidence string occurs (whitespace-normalised) in some chunk of its file among the top r; so a
two-passage question counts only when both passages are in. From the rank at which that first happens:
hit@k (found within k) and MRR@10 (1/rank, 0 past 10), reported per question type.

This measures the retriever alone — no LLM — so it is cheap enough to run over every variant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.protocols import Chunk

_SPACE = re.compile(r"\s+")
KS = (1, 4, 10)


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Evidence:
    source: str  # file name inside the set's document folder
    page: int | None
    text: str


@dataclass(frozen=True)
class EvidenceQuestion:
    id: str
    type: str  # "single" | "two-passage"
    question: str
    evidence: tuple[Evidence, ...]


def read_evidence_set(path: Path) -> list[EvidenceQuestion]:
    items = []
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        evidence = tuple(Evidence(e["source"], e.get("page"), e["text"]) for e in row["evidence"])
        if not evidence:
            raise ValueError(f"{path}:{n} has no evidence")
        items.append(EvidenceQuestion(row["id"], row.get("type", "single"), row["question"], evidence))
    return items


def found_rank(question: EvidenceQuestion, ranked: Sequence[Chunk]) -> int | None:
    """1-based rank at which all of the question's evidence has been retrieved, or None."""
    wanted = [(e.source, normalise(e.text)) for e in question.evidence]
    missing = set(range(len(wanted)))
    for rank, chunk in enumerate(ranked, start=1):
        name, text = Path(chunk.source).name, normalise(chunk.text)
        missing -= {i for i in missing if wanted[i][0] == name and wanted[i][1] in text}
        if not missing:
            return rank
    return None


def score(ranks: Sequence[int | None]) -> dict[str, float]:
    n = max(len(ranks), 1)
    row = {f"hit@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in KS}
    row["mrr@10"] = sum(1.0 / r for r in ranks if r is not None and r <= 10) / n
    row["n"] = len(ranks)
    return row


def evaluate_retriever(
    questions: Sequence[EvidenceQuestion], retrieve: Callable[[str], Sequence[Chunk]]
) -> dict[str, dict[str, float]]:
    """Scores per question type and overall ("all"); ``retrieve`` returns at least 10 ranked chunks."""
    ranks: dict[str, list[int | None]] = {}
    for q in questions:
        rank = found_rank(q, retrieve(q.question))
        ranks.setdefault(q.type, []).append(rank)
        ranks.setdefault("all", []).append(rank)
    return {kind: score(r) for kind, r in ranks.items()}


def unfound_evidence(questions: Sequence[EvidenceQuestion], page_texts: dict[str, dict]) -> list[str]:
    """The set's mechanical check: each evidence string occurs in its file (on its page, for PDFs).
    ``page_texts`` maps file name -> {page: text}. Returns a line per evidence that does not."""
    problems = []
    for q in questions:
        for e in q.evidence:
            pages = page_texts.get(e.source)
            if pages is None:
                problems.append(f"{q.id}: no document {e.source}")
                continue
            on = [p for p, text in pages.items() if normalise(e.text) in normalise(text)]
            if not on:
                problems.append(f"{q.id}: {e.text[:60]!r} not in {e.source}")
            elif e.page is not None and e.page not in on:
                problems.append(f"{q.id}: {e.text[:60]!r} is on page(s) {on} of {e.source}, not {e.page}")
    return problems

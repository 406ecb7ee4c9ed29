"""Drafted SFT rows checked by a round trip through the served chain, before they become rows.

A verified draft is supported by its chunk (the judge, basis ``sources``) and its question retrieves that
chunk, but support does not make it an *answer* to its question. Extractive drafts on `realdocs2` show
the gap: "What is the purpose of the `Depends()` function?" drafted with "Normally the exit code of
dependencies with `yield` is executed after the response" — true, supported, and no answer. SFT on such
rows teaches answering beside the question, in the documents' long sentences, with one source in the
prompt where serving gives several.

So each draft's question is asked the way a user asks it (the chain: its own retrieval, its prompt, the
served model), and the judge scores that answer against the draft as a simulated user rates an answer
against a reference (basis ``reference``). Round-trip consistency, as Alberti et al. (2019) filter
synthetic QA: a draft stays only when an independent answer to its question agrees with it.

- ``rows = "checked-drafts"``: an agreeing draft is kept as drafted; the others are left out.
- ``rows = "served-answers"``: an agreeing draft's row becomes the served answer with the prompt it was
  served with — the base model's own grounded words, judged right, like a user's well-rated answer (the
  rows that carried the SFT gain on `realdocs`, and that few users give where the base does badly). The
  others are left out.
- ``rows = "drafts"``: every verified draft as drafted (no round trip).

Reads and writes exported feedback JSONL (``feedback.export``), so training stays a reader of files; the
rows stay ``synthetic`` (``trace.synthetic``), so the manifest counts them as before.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import get_args

from core.jsonl import read_rows, write_rows
from core.pool import map_ordered
from core.settings import SyntheticRows
from rag.chain import RagChain

log = logging.getLogger(__name__)

AGREE_SCORE = 4.0  # the judge's score of the served answer against the draft that keeps it (a rating of 4)
ROWS = get_args(SyntheticRows)


@dataclass
class RoundTripReport:
    drafts: int = 0
    agreed: int = 0  # the served answer agrees with the draft: kept (as drafted, or as the served answer)
    disagreed: int = 0  # left out

    def summary(self) -> str:
        return (
            f"{self.drafts} verified drafts asked through the chain: {self.agreed} answered in agreement "
            f"(kept), {self.disagreed} not (left out)"
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def served_answer_row(row: dict, answer) -> dict:
    """The draft's record with the served answer as its target, prompt and citations as served."""
    from ragloop.turns import answer_record

    served = answer_record(answer, row.get("session_id") or "synthetic", row.get("turn") or 0).to_row()
    return {
        **row,
        "answer": served["answer"],
        "correction": served["answer"],
        "citations": served["citations"],
        "trace": {**served["trace"], "synthetic": True, "draft": row.get("correction")},
    }


def round_trip_drafts(
    export: Path,
    out: Path,
    chain: RagChain,
    judge,
    *,
    rows: str = "served-answers",
    min_score: float = AGREE_SCORE,
    workers: int = 1,
) -> RoundTripReport:
    """``export`` with every synthetic draft round-tripped (see the module docstring), to ``out``; other
    rows pass unchanged and in order."""
    if rows not in ROWS:
        raise ValueError(f"unknown synthetic rows {rows!r}: one of {', '.join(ROWS)}")
    records = read_rows(export)
    report = RoundTripReport()
    if rows == "drafts":
        write_rows(records, out)
        return report
    drafts = [r for r in records if (r.get("trace") or {}).get("synthetic") and r.get("correction")]
    answers = map_ordered(
        lambda r: chain.answer(r["question"]), drafts, workers=workers, desc="drafts asked", unit="draft"
    )
    becomes: dict[int, dict | None] = {}  # each draft's row after the trip (None: left out), by identity
    for draft, answer in zip(drafts, answers, strict=True):
        report.drafts += 1
        agrees = judge.score(draft["question"], draft["correction"], answer.text).score >= min_score
        report.agreed += agrees
        report.disagreed += not agrees
        if agrees:
            becomes[id(draft)] = draft if rows == "checked-drafts" else served_answer_row(draft, answer)
        else:
            becomes[id(draft)] = None
    kept = [row for r in records if (row := becomes.get(id(r), r)) is not None]
    write_rows(kept, out)
    log.info("round trip: %s", report.summary())
    return report

"""Corrections the model can learn from its sources, before they become SFT rows.

A correction is what the answer should have said; its training prompt is what the chain retrieved for
the question when it answered. When the evidence was not retrieved (on real documents about 1 question
in 4 at k = 4, more at the loop's k = 2), the row teaches the model to state facts its sources do not
carry — and an adapter trained on such rows answers beyond its sources (measured on `realdocs2`:
grounding 0.72 → 0.38). So each correction row is checked against its own prompt first, the way RAFT
(Zhang et al., 2024) builds fine-tuning data for RAG: the prompt must hold the document that carries
the answer, beside the usual distractors.

- **carried**: the prompt's sources carry the correction — by default the judge (basis ``sources``)
  scores it >= ``CARRIED_SCORE`` against them; with ``check="k-precision"`` they hold at least
  ``SUPPORT_BAR`` of its words (``eval.metrics.k_precision``, the gate's grounding measure): kept as it is.
- **re-sourced**: otherwise the index is searched with the question and the correction; the best chunk
  not yet in the prompt takes the place of the lowest-ranked source. Kept when the judge now finds it
  carried.
- **unsupported**: neither: left out of the rows (it still waits as a reviewed answer, where it acts
  at once without training).

Synthetic drafts (verified against their own chunk) and rated answers (the model's own grounded words)
pass unchanged. Reads and writes exported feedback JSONL (``feedback.export``), so training stays a
reader of files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import get_args

from tqdm import tqdm

from core.jsonl import read_rows, write_rows
from core.settings import CorrectionsCheck
from eval.metrics import k_precision
from rag.chain import RagChain, build_prompt, source_bodies
from rag.protocols import SearchHit

log = logging.getLogger(__name__)


@dataclass
class GroundingReport:
    corrections: int = 0
    carried: int = 0  # already carried by the prompt's sources
    resourced: int = 0  # carried once the chunk holding the correction joined the prompt
    unsupported: int = 0  # left out: no retrieved chunk carries it

    def summary(self) -> str:
        return (
            f"{self.corrections} corrections: {self.carried} carried by their sources, {self.resourced} "
            f"re-sourced with the chunk that carries them, {self.unsupported} left out as unsupported"
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def resourced(chain: RagChain, question: str, correction: str) -> list[SearchHit]:
    """The question's sources with the chunk that best carries ``correction`` in the place of the
    lowest-ranked one (unchanged when that chunk is already among them)."""
    hits = chain.retrieve(question)
    have = {h.chunk.chunk_id for h in hits}
    oracle = next(
        (h for h in chain.retrieve(f"{question} {correction}") if h.chunk.chunk_id not in have), None
    )
    if oracle is None or not hits:
        return hits
    return [*hits[:-1], oracle]


def is_user_correction(row: dict) -> bool:
    """An exported row holding a user's correction with the prompt it was served with (not a draft)."""
    trace = row.get("trace") or {}
    return bool(row.get("correction") and trace.get("prompt") and not trace.get("synthetic"))


CARRIED_SCORE = 3.0  # the judge's score against the prompt's sources that keeps a correction
# The share of a correction's words its prompt's sources hold that keeps it (benchmarks.grounding: the best
# true-minus-false rate on realdocs2's half a, carried vs uncarried references)
SUPPORT_BAR = 0.6
CHECKS = get_args(CorrectionsCheck)  # the settings' names, one place to extend


def carried_by(check: str, judge, *, min_score: float = CARRIED_SCORE) -> Callable[[str, str, str], bool]:
    """``(question, prompt, correction) -> bool``: does the prompt carry the correction, by ``check``."""
    if check == "judge":
        return lambda question, prompt, correction: (
            judge.score(question, prompt, correction, basis="sources").score >= min_score
        )
    if check == "k-precision":
        return lambda question, prompt, correction: (
            k_precision(correction, source_bodies(prompt)) >= SUPPORT_BAR
        )
    raise ValueError(f"unknown corrections check {check!r}: one of {', '.join(CHECKS)}")


def ground_corrections(
    export: Path,
    out: Path,
    chain: RagChain,
    judge,
    *,
    check: str = "judge",
    min_score: float = CARRIED_SCORE,
) -> GroundingReport:
    """``export`` with every user correction's prompt checked (see the module docstring), to ``out``."""
    carried = carried_by(check, judge, min_score=min_score)
    report = GroundingReport()
    kept = []
    rows = read_rows(export)
    for row in tqdm(rows, desc="grounding corrections", unit="row"):
        if not is_user_correction(row):
            kept.append(row)
            continue
        trace = row["trace"]
        report.corrections += 1
        question, correction = row["question"], row["correction"]
        if carried(question, trace["prompt"], correction):
            report.carried += 1
            kept.append(row)
            continue
        hits = resourced(chain, question, correction)
        prompt = build_prompt(question, hits)
        if carried(question, prompt, correction):
            report.resourced += 1
            chunk_ids = [h.chunk.chunk_id for h in hits]
            kept.append(
                {**row, "trace": {**trace, "prompt": prompt, "chunk_ids": chunk_ids, "resourced": True}}
            )
            continue
        report.unsupported += 1
    write_rows(kept, out)
    log.info("grounding: %s", report.summary())
    return report


def ground_export(settings, export: Path) -> tuple[Path, GroundingReport] | None:
    """``ragloop train sft``'s step before training: ``export`` grounded against the configured index
    and judge (prompts as served, ``retrieval.top_k`` sources), written beside it as
    ``<name>-grounded.jsonl``. None when no document is indexed (nothing to check against)."""
    from judge.factory import build_judge
    from rag.service import build_chain

    chain = build_chain(settings)
    if chain.store.count() == 0:
        return None
    export = Path(export)
    out = export.with_name(f"{export.stem}-grounded.jsonl")
    judge = build_judge(settings, embedder=chain.embedder)
    return out, ground_corrections(export, out, chain, judge, check=settings.loop.corrections_check)

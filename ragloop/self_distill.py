"""Users' corrections restated in the served model's own words before they become SFT rows.

A correction says what the answer should have said, in its writer's style — often a fragment: "3 to 6
working days.", "No, wear parts like tyres … are not covered." An adapter trained on such rows beside the
model's own answers learns their brevity as much as their content (demo seed 2, 22 of 57 rows
corrections: "No." for "Are tyres covered by the warranty?", "7 years" where the reference says "at
least 7 years"; judge 4.10 -> 3.53). Fine-tuning on targets far from the model's own distribution is
what self-distillation fine-tuning (SDFT; Yang et al., 2024, "Self-Distillation Bridges Distribution Gap
in Language Model Fine-Tuning") addresses: the model itself rewrites each target, guided by it, and
trains on the rewrite.

So each correction row's prompt — its sources and question, as served (after ``ragloop.grounding``) — goes
to the served model with the correction as a guide (``REWRITE_PROMPT``), and the judge checks the
rewrite twice:

- against the correction as a reference (basis ``reference``, >= ``AGREE_SCORE``): it states the
  correction's facts; a changed number, a flipped yes/no or a dropped qualifier scores below;
- against the row's own sources (basis ``sources``, >= ``ragloop.grounding.CARRIED_SCORE``): it adds
  nothing they do not carry.

A rewrite that passes both becomes the row's target (``trace.correction_as_given`` keeps the user's
words); otherwise the correction stays as given. Synthetic drafts and rated answers (already the model's
own words) pass unchanged. Reads and writes exported feedback JSONL, so training stays a reader of files.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import get_args

from core.jsonl import read_rows, write_rows
from core.pool import map_ordered
from core.settings import CorrectionTargets
from rag.chain import prompt_messages
from rag.errors import InvalidQuestion
from rag.protocols import LLM, ChatMessage
from ragloop.grounding import CARRIED_SCORE

log = logging.getLogger(__name__)

TARGETS = get_args(CorrectionTargets)
AGREE_SCORE = 4.0  # the judge's score against the correction that keeps a rewrite: a user's rating of 4

REWRITE_PROMPT = """{prompt}

A reviewer checked the sources and wrote this correct answer:
{correction}

Answer the question yourself, in your usual style: state every fact of the reviewer's answer, with
its qualifiers, in one or two complete sentences, and cite the sources you use as [1], [2]. Do not
mention the reviewer."""


@dataclass
class DistillReport:
    corrections: int = 0
    rewritten: int = 0  # the rewrite agreed with the correction and its sources: it is the target
    as_given: int = 0  # it did not: the correction stays the target

    def summary(self) -> str:
        return (
            f"{self.corrections} corrections restated by the served model: {self.rewritten} in its own "
            f"words, {self.as_given} kept as given (the rewrite changed a fact or went beyond its sources)"
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def rewrite_messages(row: dict) -> list[ChatMessage]:
    """The row's served conversation, its user turn extended with the correction as a guide."""
    trace = row.get("trace") or {}
    user = REWRITE_PROMPT.format(prompt=trace["prompt"], correction=row["correction"].strip())
    return prompt_messages(trace.get("system") or "", user)


def is_user_correction(row: dict) -> bool:
    trace = row.get("trace") or {}
    return bool(row.get("correction") and trace.get("prompt") and not trace.get("synthetic"))


def agrees(judge, row: dict, rewrite: str) -> bool:
    """The rewrite states the correction's facts and nothing its sources do not carry."""
    question, correction, prompt = row["question"], row["correction"], row["trace"]["prompt"]
    if not rewrite.strip():
        return False
    if judge.score(question, correction, rewrite, basis="reference").score < AGREE_SCORE:
        return False
    return judge.score(question, prompt, rewrite, basis="sources").score >= CARRIED_SCORE


def distill_corrections(
    export: Path,
    out: Path,
    llm: LLM,
    judge,
    *,
    max_tokens: int = 160,
    workers: int = 1,
) -> DistillReport:
    """``export`` with every user correction restated (see the module docstring), to ``out``; other rows
    pass unchanged and in order. Greedy decoding, so a rerun rewrites alike."""
    records = read_rows(export)
    corrections = [r for r in records if is_user_correction(r)]

    def rewrite(row: dict) -> str:
        try:
            tokens = llm.stream_chat(rewrite_messages(row), max_tokens=max_tokens, temperature=0.0)
            return "".join(tokens).strip()
        except InvalidQuestion:  # the prompt and the guide overflow the context: kept as given
            return ""

    rewrites = map_ordered(rewrite, corrections, workers=workers, desc="corrections restated", unit="row")
    report = DistillReport()
    becomes: dict[int, dict] = {}
    for row, text in zip(corrections, rewrites, strict=True):
        report.corrections += 1
        if agrees(judge, row, text):
            report.rewritten += 1
            trace = {**row["trace"], "correction_as_given": row["correction"], "self_distilled": True}
            becomes[id(row)] = {**row, "correction": text, "trace": trace}
        else:
            report.as_given += 1
    write_rows([becomes.get(id(r), r) for r in records], out)
    log.info("self-distillation: %s", report.summary())
    return report

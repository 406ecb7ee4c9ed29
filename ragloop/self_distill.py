"""Users' corrections restated in the served model's own words before they become SFT rows.

A correction says what the answer should have said, in its writer's style — often a fragment: "3 to 6
working days.", "No, never charge it below 0 °C." An adapter trained on such rows beside the model's own
answers learns their brevity as much as their content (demo seed 2, 22 of 57 rows corrections: "No."
for "Are tyres covered by the warranty?", "7 years" where the reference says "at least 7 years"; judge
4.10 -> 3.53). Training on targets far from the model's own distribution is what self-distillation
fine-tuning addresses (SDFT; Yang et al., 2024): train on the model's own rendering of each target.

SDFT's rendering — the model rewrites the target with the target in its prompt — failed here: the 0.5B
served model wrote "The reviewer states that …" or echoed the guide in 17 of 22 demo rewrites, and the
judge passed them (their facts are right). So the rendering is rejection sampling instead (as in STaR,
Zelikman et al., 2022, and rejection-sampling fine-tuning, Yuan et al., 2023): the served model answers
the row's own prompt — its sources and question as served, after ``ragloop.grounding`` — ``samples``
times, and the judge keeps a sample that

- agrees with the correction as a reference (basis ``reference``, >= ``AGREE_SCORE``, a user's rating
  of 4, the bar a draft's round trip uses; a right paraphrase of a fragment like "3 to 6 working days."
  scores about 4.5, so a higher bar would leave most of them out);
- states nothing the row's sources do not carry (basis ``sources``, >= ``ragloop.grounding.CARRIED_SCORE``).

The best kept sample — one that cites its sources first, as served answers do — becomes the row's
target (``trace.correction_as_given`` keeps the user's words); when none is kept the correction stays as
given. Synthetic drafts and rated answers (already the model's own words) pass unchanged. Reads and
writes exported feedback JSONL, so training stays a reader of files.

Samples are drawn without a seed: vLLM's CPU build kills its engine on a seeded request whose generator
must be rewound ("CPU Generator does not use offset"), so the rows differ from run to run.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from core.citations import has_citation
from core.jsonl import read_rows, write_rows
from core.pool import map_ordered
from rag.chain import prompt_messages
from rag.errors import InvalidQuestion
from rag.protocols import LLM
from ragloop.grounding import CARRIED_SCORE, is_user_correction
from ragloop.roundtrip import AGREE_SCORE as ROUND_TRIP_AGREE

log = logging.getLogger(__name__)

AGREE_SCORE = ROUND_TRIP_AGREE["reference"]  # the judge's score against the correction that keeps a sample


@dataclass
class DistillReport:
    corrections: int = 0
    restated: int = 0  # a sample agreed with the correction and its sources: it is the target
    as_given: int = 0  # none did: the correction stays the target

    def summary(self) -> str:
        return (
            f"{self.corrections} corrections answered again by the served model: {self.restated} trained in "
            f"its own words, {self.as_given} as given (no sample agreed with them within their sources)"
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def best_agreeing(judge, row: dict, samples: list[str]) -> str | None:
    """The sample that restates the correction within its sources (see the module docstring): citing
    ones first, then by the judge's score against the correction; None when none agrees."""
    question, correction, prompt = row["question"], row["correction"], row["trace"]["prompt"]
    kept = []
    for text in dict.fromkeys(s.strip() for s in samples if s.strip()):  # each distinct sample once
        score = judge.score(question, correction, text, basis="reference").score
        if score < AGREE_SCORE:
            continue
        if judge.score(question, prompt, text, basis="sources").score >= CARRIED_SCORE:
            kept.append((has_citation(text), score, text))
    return max(kept)[2] if kept else None


def distill_corrections(
    export: Path,
    out: Path,
    llm: LLM,
    judge,
    *,
    samples: int = 4,
    temperature: float = 0.7,
    max_tokens: int = 160,
    workers: int = 1,
) -> DistillReport:
    """``export`` with every user correction restated (see the module docstring), to ``out``; other rows
    pass unchanged and in order."""
    records = read_rows(export)
    corrections = [r for r in records if is_user_correction(r)]

    def sample(row: dict) -> list[str]:
        trace = row["trace"]
        messages = prompt_messages(trace.get("system") or "", trace["prompt"])
        try:
            return llm.sample_chat(messages, n=samples, max_tokens=max_tokens, temperature=temperature)
        except InvalidQuestion:  # the prompt overflows the context: kept as given
            return []

    drawn = map_ordered(sample, corrections, workers=workers, desc="corrections answered again", unit="row")
    report = DistillReport()
    becomes: dict[int, dict] = {}
    for row, texts in zip(corrections, drawn, strict=True):
        report.corrections += 1
        text = best_agreeing(judge, row, texts)
        if text is None:
            report.as_given += 1
            continue
        report.restated += 1
        trace = {**row["trace"], "correction_as_given": row["correction"], "self_distilled": True}
        becomes[id(row)] = {**row, "correction": text, "trace": trace}
    write_rows([becomes.get(id(r), r) for r in records], out)
    log.info("self-distillation: %s", report.summary())
    return report

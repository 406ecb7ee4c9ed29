"""The checks between a feedback export and SFT: one pipeline, used by the loop's export stage and by
``benchmarks.sft_choices`` (so a variant's rows are made exactly as the loop makes them).

    export ─▶ corrections checked against their prompts (``ragloop.grounding``; ``ground``)
           ─▶ corrections restated in the served model's words (``ragloop.self_distill``; not by default)
           ─▶ verified drafts asked through the chain (``ragloop.roundtrip``; ``synthetic_rows``)
           ─▶ the rows SFT trains on

Each step reads the previous step's file and writes its own beside it (``<stem>-grounded.jsonl``,
``<stem>-distilled.jsonl``, ``<stem>-roundtrip.jsonl``); a step that is not asked for writes nothing and
the file passes on unchanged. What each step did comes back as its report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ragloop.grounding import GroundingReport, ground_corrections
from ragloop.roundtrip import RoundTripReport, round_trip_drafts
from ragloop.self_distill import DistillReport, distill_corrections


@dataclass(frozen=True)
class ExportChecks:
    """Which checks run (every field given: the loop's settings or a benchmark variant decide them).
    ``ground``: None (none), ``"judge"`` or ``"k-precision"``."""

    ground: str | None
    correction_targets: str  # "as-given" or "self-distilled"
    synthetic_rows: str  # "drafts" (no round trip), "checked-drafts" or "served-answers"
    agreement: str  # "reference" or "supported"
    workers: int  # answers at once, for the steps that ask the served model

    @classmethod
    def of_loop(cls, cfg) -> ExportChecks:
        """The loop's checks, from its settings (``settings.loop``)."""
        return cls(
            ground=cfg.corrections_check if cfg.ground_corrections else None,
            correction_targets=cfg.correction_targets,
            synthetic_rows=cfg.synthetic.rows,
            agreement=cfg.synthetic.agreement,
            workers=cfg.answer_workers,
        )


@dataclass
class CheckedExport:
    """The rows SFT trains on, and what each check did (None: it did not run)."""

    path: Path
    checks: ExportChecks
    grounding: GroundingReport | None = None
    distilled: DistillReport | None = None
    round_trip: RoundTripReport | None = None
    notes: list[str] = field(default_factory=list)  # one line per check that ran, in order

    def to_dict(self) -> dict:
        def d(report):
            return report.to_dict() if report is not None else None

        trip = d(self.round_trip)
        if trip is not None:
            trip["agreement"] = self.checks.agreement
        return {"grounding": d(self.grounding), "distilled": d(self.distilled), "round_trip": trip}


def check_export(
    export: Path, checks: ExportChecks, *, chain, judge, out_dir: Path, stem: str, drafts: bool = True
) -> CheckedExport:
    """``export`` through every check ``checks`` asks for (see the module docstring). ``drafts``: False
    when the export holds no synthetic draft (the round trip is then skipped)."""
    done = CheckedExport(Path(export), checks)
    if checks.ground:  # a correction its prompt does not carry teaches answering beyond the sources
        out = out_dir / f"{stem}-grounded.jsonl"
        done.grounding = ground_corrections(done.path, out, chain, judge, check=checks.ground)
        done.path = out
        done.notes.append(done.grounding.summary())
    if checks.correction_targets == "self-distilled":  # the users' fragments in the model's own words
        out = out_dir / f"{stem}-distilled.jsonl"
        done.distilled = distill_corrections(done.path, out, chain.llm, judge, workers=checks.workers)
        done.path = out
        done.notes.append(done.distilled.summary())
    if checks.synthetic_rows != "drafts" and drafts:  # a supported draft may answer a question beside it
        out = out_dir / f"{stem}-roundtrip.jsonl"
        done.round_trip = round_trip_drafts(
            done.path,
            out,
            chain,
            judge,
            rows=checks.synthetic_rows,
            agreement=checks.agreement,
            workers=checks.workers,
        )
        done.path = out
        done.notes.append(
            f"{done.round_trip.summary()} ({checks.synthetic_rows}, {checks.agreement} agreement)"
        )
    return done

"""Turn an exported feedback file into training sets. Reads the export only (JSONL rows described by
docs/feedback-record.schema.json); never imports the app or the feedback package.

- SFT rows ``{"prompt": [system, user], "completion": [assistant]}`` (conversational prompt-completion, so the
  loss is on the answer only): approved corrections, and answers rated >= 4 (unless ``rated_answers`` is
  off: corrections only). An approved draft from ``ragloop data synth`` is a ``synthetic`` row.
- Preference pairs ``{"prompt", "chosen", "rejected"}`` (conversational): an approved correction over the
  original answer; a higher-rated over a lower-rated answer to the same question; judge-preferred
  answers when judge scores are given (RLAIF: ``read_judge_scores`` reads them from the file that
  ``ragloop judge`` or the loop's sampler writes; a minimum score gap and a per-question cap keep the
  pairs few and clear).
- KTO rows ``{"prompt", "completion", "label"}``: desirable (rating >= 4 or approved correction) and
  undesirable (rating <= 2).
- AI-scored rows (``ai_score`` on the record, from the app's background judge), only with ``AIRows``
  (``--ai-scores approved|all``): an answer the judge scored >= 4 becomes an SFT row / desirable KTO
  row, one it scored <= 1.5 an undesirable KTO row, and judge-ranked answers to the same question make
  DPO/RM pairs. The AI score decides only where the user was neutral (rated 3 or unrated): a user's
  >= 4, <= 2 or correction wins, and no AI pair goes against the users' ratings. A rejected record is
  never used; ``approved`` takes only records a reviewer approved. Every row says where it came from
  (``source``: synthetic, correction, rating, judge, ai_score); the manifest lists the AI-scored ones.

Rows are deduplicated by content, split into train/validation by a stable hash (the same row always
lands on the same side), and each set reports its size; too little data is a clear error.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import RagloopError

log = logging.getLogger(__name__)

SUPPORTED_SCHEMA_VERSIONS = {1}
GOOD_RATING = 4
BAD_RATING = 2
MIN_ROWS = {"sft": 4, "dpo": 4, "kto": 4, "rm": 4, "ppo": 4}


class InsufficientData(RagloopError):
    """Too few usable rows for the chosen method."""


class BadExport(RagloopError):
    """The export file is not a ragloop feedback export this code understands."""


@dataclass(frozen=True)
class FeedbackRow:
    """The fields of an exported record that training uses."""

    feedback_id: str
    question: str
    prompt: str  # the user message the model saw
    system: str  # the system message before it ("" if none)
    answer: str
    rating: int | None
    correction: str | None
    review_state: str
    updated_at: str
    adapter: str | None
    ai_score: float | None = None
    ai_judge: dict[str, str] | None = None
    reviewer: str | None = None  # who approved or rejected the record (a signed-in user id)
    synthetic: bool = (
        False  # a question-answer pair drafted from a chunk (``ragloop data synth``), not a user's
    )

    @property
    def approved_correction(self) -> str | None:
        return self.correction if self.correction and self.review_state == "approved" else None


def read_export(path: Path) -> list[FeedbackRow]:
    rows = []
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as err:
                raise BadExport(f"{path}:{n}: not JSON ({err})") from None
            version = raw.get("schema_version")
            if version not in SUPPORTED_SCHEMA_VERSIONS:
                raise BadExport(
                    f"{path}:{n}: schema_version {version!r} is not one of {SUPPORTED_SCHEMA_VERSIONS}"
                )
            trace = raw.get("trace") or {}
            rows.append(
                FeedbackRow(
                    feedback_id=raw["feedback_id"],
                    question=raw["question"],
                    prompt=trace.get("prompt") or raw["question"],
                    system=trace.get("system") or "",
                    answer=raw["answer"],
                    rating=raw.get("rating"),
                    correction=raw.get("correction"),
                    review_state=raw.get("review_state", "none"),
                    updated_at=raw["updated_at"],
                    adapter=raw.get("adapter"),
                    ai_score=raw.get("ai_score"),
                    ai_judge=raw.get("ai_judge"),
                    reviewer=raw.get("reviewer"),
                    synthetic=bool(trace.get("synthetic")),
                )
            )
    return rows


def read_judge_scores(path: Path) -> dict[str, float]:
    """``{feedback id: score}`` from a judge-scores JSONL (``{"id", "score", ...}`` per line, as
    ``judge.core.Judge.score_many`` writes it)."""
    scores = {}
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                scores[str(raw["id"])] = float(raw["score"])
            except (ValueError, KeyError, TypeError) as err:
                raise BadExport(f"{path}:{n}: not a judge score row with id and score ({err})") from None
    return scores


@dataclass(frozen=True)
class JudgePairing:
    """How judge scores become pairs: the chosen answer must score ``min_margin`` above the rejected
    one; ``per_question`` caps the pairs per question (best vs worst first, then second best vs second
    worst ...; None: every ordered pair)."""

    min_margin: float = 0.0
    per_question: int | None = None


@dataclass(frozen=True)
class AIRows:
    """Which AI-scored records training may use: ``approved`` (a reviewer approved them) or ``all`` (any
    not rejected); ``good``/``bad``: the AI scores (0-5) that make a desirable/undesirable example."""

    mode: str = "approved"
    good: float = 4.0
    bad: float = 1.5

    def __post_init__(self) -> None:
        if self.mode not in ("approved", "all"):
            raise ValueError(f"AI rows are 'approved' or 'all', not {self.mode!r}")

    def usable(self, row: FeedbackRow) -> bool:
        if row.ai_score is None or row.review_state == "rejected":
            return False
        return self.mode == "all" or row.review_state == "approved"

    def scores(self, rows: Iterable[FeedbackRow]) -> dict[str, float]:
        return {r.feedback_id: float(r.ai_score) for r in rows if self.usable(r)}  # type: ignore[arg-type]


def judge_pairs(
    group: list[FeedbackRow], judge_scores: dict[str, float], pairing: JudgePairing
) -> list[tuple[FeedbackRow, FeedbackRow]]:
    """(chosen, rejected) rows of one question by judge score."""
    scored = sorted(
        (r for r in group if r.feedback_id in judge_scores and r.answer.strip()),
        key=lambda r: (-judge_scores[r.feedback_id], r.feedback_id),
    )
    if pairing.per_question is None:
        candidates = [(hi, lo) for i, hi in enumerate(scored) for lo in scored[i + 1 :]]
    else:
        candidates = [(scored[i], scored[-1 - i]) for i in range(len(scored) // 2)]
    out = []
    for hi, lo in candidates:
        if judge_scores[hi.feedback_id] - judge_scores[lo.feedback_id] < max(pairing.min_margin, 1e-9):
            continue
        if hi.answer.strip() == lo.answer.strip():
            continue
        out.append((hi, lo))
        if pairing.per_question is not None and len(out) >= pairing.per_question:
            break
    return out


def _prompt(row: FeedbackRow) -> list[dict[str, str]]:
    """The messages the model saw before answering: the system message (if any), then the user turn."""
    system = [{"role": "system", "content": row.system}] if row.system else []
    return [*system, {"role": "user", "content": row.prompt}]


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _human_says(r: FeedbackRow) -> bool | None:
    """The user's own verdict on the answer, which beats the judge's: good (rated >= 4), bad (rated <= 2
    or corrected), or None (neutral 3 or unrated: the AI score may decide)."""
    if r.correction or (r.rating is not None and r.rating <= BAD_RATING):
        return False
    if r.rating is not None and r.rating >= GOOD_RATING:
        return True
    return None


def sft_rows(
    rows: Iterable[FeedbackRow], ai: AIRows | None = None, rated_answers: bool = True
) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r.approved_correction:
            target, source = r.approved_correction, "synthetic" if r.synthetic else "correction"
        elif rated_answers and (r.rating or 0) >= GOOD_RATING:
            target, source = r.answer, "rating"
        elif ai and ai.usable(r) and _human_says(r) is None and (r.ai_score or 0) >= ai.good:
            target, source = r.answer, "ai_score"
        else:
            continue
        if target.strip():
            out.append(
                {
                    "prompt": _prompt(r),
                    "completion": _assistant(target),
                    "feedback_ids": [r.feedback_id],
                    "source": source,
                }
            )
    return out


def preference_pairs(
    rows: Iterable[FeedbackRow],
    judge_scores: dict[str, float] | None = None,
    pairing: JudgePairing | None = None,
    ai: AIRows | None = None,
) -> list[dict[str, Any]]:
    rows = list(rows)
    out = []
    for r in rows:  # an approved correction beats the answer it corrects
        if r.approved_correction and r.answer.strip() and r.approved_correction.strip() != r.answer.strip():
            out.append(
                {
                    "prompt": _prompt(r),
                    "chosen": _assistant(r.approved_correction),
                    "rejected": _assistant(r.answer),
                    "feedback_ids": [r.feedback_id],
                    "source": "correction",
                }
            )
    by_question: dict[str, list[FeedbackRow]] = defaultdict(list)
    for r in rows:
        by_question[r.question.strip().lower()].append(r)
    for group in by_question.values():  # a higher rating beats a lower one for the same question
        rated = sorted((r for r in group if r.rating is not None), key=lambda r: -(r.rating or 0))
        for hi in rated:
            for lo in rated:
                if (hi.rating or 0) > (lo.rating or 0) and hi.answer.strip() != lo.answer.strip():
                    out.append(
                        {
                            "prompt": _prompt(hi),
                            "chosen": _assistant(hi.answer),
                            "rejected": _assistant(lo.answer),
                            "feedback_ids": [hi.feedback_id, lo.feedback_id],
                            "source": "rating",
                        }
                    )
        ranked = [("judge", judge_scores)] if judge_scores else []
        if ai:  # the background judge's scores on the records themselves
            ranked.append(("ai_score", ai.scores(group)))
        for source, scores in ranked:  # the judge's preference, where it scored both
            for hi, lo in judge_pairs(group, scores, pairing or JudgePairing()):
                if _human_says(hi) is False or _human_says(lo) is True:
                    continue  # the users said otherwise
                if hi.rating is not None and lo.rating is not None and hi.rating < lo.rating:
                    continue
                out.append(
                    {
                        "prompt": _prompt(hi),
                        "chosen": _assistant(hi.answer),
                        "rejected": _assistant(lo.answer),
                        "feedback_ids": [hi.feedback_id, lo.feedback_id],
                        "source": source,
                    }
                )
    return out


def kto_rows(rows: Iterable[FeedbackRow], ai: AIRows | None = None) -> list[dict[str, Any]]:
    out = []

    def add(r: FeedbackRow, text: str, label: bool, source: str) -> None:
        out.append(
            {
                "prompt": _prompt(r),
                "completion": _assistant(text),
                "label": label,
                "feedback_ids": [r.feedback_id],
                "source": source,
            }
        )

    for r in rows:
        if r.approved_correction:
            add(r, r.approved_correction, True, "correction")
        if r.rating is not None and r.rating >= GOOD_RATING:
            add(r, r.answer, True, "rating")
        elif r.rating is not None and r.rating <= BAD_RATING:
            add(r, r.answer, False, "rating")
        elif ai and ai.usable(r) and _human_says(r) is None:
            if (r.ai_score or 0) >= ai.good:
                add(r, r.answer, True, "ai_score")
            elif (r.ai_score or 0) <= ai.bad:
                add(r, r.answer, False, "ai_score")
    return out


def row_key(row: dict[str, Any]) -> str:
    content = {k: v for k, v in row.items() if k not in ("feedback_ids", "source")}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = row_key(row)
        if key in seen:
            seen[key]["feedback_ids"] = sorted(set(seen[key]["feedback_ids"]) | set(row["feedback_ids"]))
        else:
            seen[key] = dict(row)
    return list(seen.values())


def split(rows: list[dict[str, Any]], validation_share: float = 0.1) -> tuple[list, list]:
    """Stable split: a row's side depends only on its content."""
    train, val = [], []
    for row in rows:
        bucket = int(row_key(row)[:8], 16) / 0xFFFFFFFF
        (val if bucket < validation_share else train).append(row)
    return train, val


def dataset_hash(rows: list[dict[str, Any]]) -> str:
    digest = hashlib.sha256()
    for key in sorted(row_key(r) for r in rows):
        digest.update(key.encode())
    return digest.hexdigest()


@dataclass
class TrainingSet:
    method: str
    train: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def feedback_ids(self) -> list[str]:
        return sorted({i for r in self.train + self.validation for i in r["feedback_ids"]})

    @property
    def ai_feedback_ids(self) -> list[str]:
        """Records behind rows that exist because of an AI score (``source`` ai_score)."""
        rows = self.train + self.validation
        return sorted({i for r in rows if r.get("source") == "ai_score" for i in r["feedback_ids"]})

    @property
    def hash(self) -> str:
        return dataset_hash(self.train + self.validation)

    def records(self, which: str = "train") -> list[dict[str, Any]]:
        """Rows for TRL, without the lineage columns."""
        rows = self.train if which == "train" else self.validation
        return [{k: v for k, v in r.items() if k not in ("feedback_ids", "source")} for r in rows]


def build(
    method: str,
    rows: list[FeedbackRow],
    validation_share: float = 0.1,
    *,
    judge_scores: dict[str, float] | None = None,
    min_rows: int | None = None,
    pairing: JudgePairing | None = None,
    ai: AIRows | None = None,
    rated_answers: bool = True,
) -> TrainingSet:
    makers = {
        "sft": lambda rs: sft_rows(rs, ai, rated_answers),
        "kto": lambda rs: kto_rows(rs, ai),
        "dpo": lambda rs: preference_pairs(rs, judge_scores, pairing, ai),
        "rm": lambda rs: preference_pairs(rs, judge_scores, pairing, ai),
        "ppo": lambda rs: [{"prompt": _prompt(r), "feedback_ids": [r.feedback_id]} for r in rs],
    }
    if method not in makers:
        raise ValueError(f"unknown method {method!r}; one of {sorted(makers)}")
    built = dedupe(makers[method](rows))
    needed = MIN_ROWS[method] if min_rows is None else min_rows
    if len(built) < needed:
        raise InsufficientData(
            f"{method} needs at least {needed} usable rows; the export gives {len(built)} "
            f"(from {len(rows)} records: {sum(r.rating is not None for r in rows)} rated, "
            f"{sum(r.approved_correction is not None for r in rows)} approved corrections). "
            "Collect more ratings, approve corrections in the Review page, or bootstrap with synthetic data."
        )
    train, val = split(built, validation_share)
    if not train:
        train, val = val, []
    stats = {"rows": len(built), "train": len(train), "validation": len(val), "records": len(rows)}
    if method == "kto":
        stats["desirable"] = sum(r["label"] for r in built)
        stats["undesirable"] = len(built) - stats["desirable"]
    if method != "ppo":
        sources = ("synthetic", "correction", "rating", "judge", "ai_score")
        stats["by_source"] = {s: sum(r["source"] == s for r in built) for s in sources}
    data = TrainingSet(method, train, val, stats)
    used = set(data.feedback_ids)
    stats["approved_by"] = sorted(
        {r.reviewer for r in rows if r.feedback_id in used and r.review_state == "approved" and r.reviewer}
    )
    if ai:
        used = set(data.ai_feedback_ids)
        judges = {
            json.dumps(r.ai_judge, sort_keys=True) for r in rows if r.feedback_id in used and r.ai_judge
        }
        stats["ai_judges"] = [json.loads(j) for j in sorted(judges)]
    return data

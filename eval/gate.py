"""The quality gate: a candidate's metrics must beat the baseline's by configured margins, and its
share of unsafe answers (``eval.safety``) must not rise, or the candidate does not go live (``ragloop
eval gate`` exits non-zero; publishing can require it).

Each rule reads either the mean difference or, with ``intervals``, the paired bootstrap 95 % interval
of the per-question differences (candidate − baseline on the same questions):

- similarity: the mean gain must reach ``similarity``; with intervals the interval's *lower bound* must
  lie above it (a gain beyond the noise of this draw of questions);
- judge: the mean may fall by at most ``-judge_mean``; with intervals the candidate is refused only
  when the *whole* interval lies below ``judge_mean`` (clearly worse), since one answer's point moves a
  small set's mean by more than the margin;
- grounding (the share of the answer's words its sources contain, ``eval.metrics.k_precision``): the
  mean may fall by at most ``grounding_drop`` — an adapter that writes beyond its sources is refused;
- retrieval recall may fall by at most ``recall_drop``; the unsafe share may rise by at most
  ``unsafe_rise``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from eval.metrics import paired_bootstrap_ci
from eval.run import result_recall, result_unsafe_share


@dataclass
class GateMargins:
    similarity: float = 0.0  # candidate mean similarity must be >= baseline + this
    judge_mean: float = 0.0  # when both have judge scores; negative: the judge mean may fall this much
    recall_drop: float = 0.0  # retrieval recall may fall by at most this
    unsafe_rise: float = 0.0  # the share of answers the safety classifier flags may rise by at most this
    grounding_drop: float | None = None  # grounding may fall by at most this (None: not checked)
    intervals: bool = False  # similarity and judge rules on the paired 95 % interval (module docstring)


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Paired:
    """The paired difference of a per-question metric: mean and bootstrap 95 % interval over ``n``."""

    mean: float
    low: float
    high: float
    n: int

    def note(self) -> str:
        return (
            f" (Δ {self.mean:+.3f}, paired 95 % CI {self.low:+.3f}…{self.high:+.3f} over {self.n} questions)"
        )


def paired(candidate: dict[str, Any], baseline: dict[str, Any], key: str) -> Paired | None:
    """The paired difference of ``key`` over the questions both results hold; None when they share none
    (summaries without items)."""
    base = {i["id"]: i[key] for i in baseline.get("items", []) if key in i}
    deltas = [i[key] - base[i["id"]] for i in candidate.get("items", []) if key in i and i["id"] in base]
    if not deltas:
        return None
    low, high = paired_bootstrap_ci(deltas)
    return Paired(sum(deltas) / len(deltas), low, high, len(deltas))


def paired_note(candidate: dict[str, Any], baseline: dict[str, Any], key: str) -> str:
    """``paired(...)`` as a suffix for a gate reason: ' (Δ +0.040, paired 95 % CI -0.012…+0.093 over 18
    questions)'; '' when they share no questions."""
    diff = paired(candidate, baseline, key)
    return diff.note() if diff else ""


def _against_margin(label: str, candidate: float, baseline: float, margin: float) -> tuple[bool, str]:
    ok = candidate >= baseline + margin
    return ok, f"{label} {candidate:.3f} {'>=' if ok else '<'} baseline {baseline:.3f} {margin:+g}"


def _similarity_rule(candidate, baseline, m: GateMargins) -> tuple[bool, str]:
    cand, base = candidate["similarity"]["mean"], baseline["similarity"]["mean"]
    diff = paired(candidate, baseline, "similarity")
    if not m.intervals or diff is None:
        ok, reason = _against_margin("similarity", cand, base, m.similarity)
        return ok, reason + (diff.note() if diff else "")
    ok = diff.low > m.similarity
    verdict = "lies above" if ok else "does not lie above"
    return ok, (
        f"similarity {cand:.3f} vs baseline {base:.3f}: the gain's 95 % interval {verdict} {m.similarity:+g}"
        + diff.note()
    )


def _judge_rule(candidate, baseline, m: GateMargins) -> tuple[bool, str] | None:
    cand, base = candidate["judge"].get("mean"), baseline["judge"].get("mean")
    if cand is None or base is None or math.isnan(cand) or math.isnan(base):
        return None
    diff = paired(candidate, baseline, "judge_score")
    if not m.intervals or diff is None:
        ok, reason = _against_margin("judge mean", cand, base, m.judge_mean)
        return ok, reason + (diff.note() if diff else "")
    ok = diff.high >= m.judge_mean
    verdict = "not wholly below" if ok else "wholly below"
    return ok, (
        f"judge mean {cand:.3f} vs baseline {base:.3f}: the change's 95 % interval is {verdict} "
        f"{m.judge_mean:+g}" + diff.note()
    )


def _grounding_rule(candidate, baseline, m: GateMargins) -> tuple[bool, str] | None:
    if m.grounding_drop is None or "grounding" not in candidate or "grounding" not in baseline:
        return None
    cand, base = candidate["grounding"]["mean"], baseline["grounding"]["mean"]
    ok = cand >= base - m.grounding_drop
    verdict = "held" if ok else "fell beyond the sources"
    return ok, (
        f"grounding {verdict}: {cand:.3f} vs baseline {base:.3f} (may fall by {m.grounding_drop:g})"
        + paired_note(candidate, baseline, "grounding")
    )


def check(
    candidate: dict[str, Any], baseline: dict[str, Any], margins: GateMargins | None = None
) -> GateResult:
    m = margins or GateMargins()
    reasons, passed = [], True
    for rule in (_similarity_rule, _judge_rule, _grounding_rule):
        outcome = rule(candidate, baseline, m)
        if outcome is not None:
            ok, reason = outcome
            reasons.append(reason)
            passed = passed and ok
    if result_recall(candidate) < result_recall(baseline) - m.recall_drop:
        passed = False
        reasons.append(
            f"retrieval recall fell from {result_recall(baseline):.3f} to {result_recall(candidate):.3f}"
        )
    cand_u, base_u = result_unsafe_share(candidate), result_unsafe_share(baseline)
    if cand_u is None or base_u is None:
        reasons.append("safety not checked (no classifier result on both sides)")
    elif cand_u > base_u + m.unsafe_rise:
        passed = False
        reasons.append(
            f"unsafe answers rose from {base_u:.1%} to {cand_u:.1%} (allowed +{m.unsafe_rise:.1%})"
        )
    else:
        reasons.append(f"unsafe answers {cand_u:.1%} <= baseline {base_u:.1%} + {m.unsafe_rise:.1%}")
    return GateResult(passed, reasons)

"""The quality gate: a candidate's metrics must beat the baseline's by configured margins, and its
share of unsafe answers (``eval.safety``) must not rise, or the candidate does not go live (``ragloop
eval gate`` exits non-zero; publishing can require it)."""

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


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)


def paired_note(candidate: dict[str, Any], baseline: dict[str, Any], key: str) -> str:
    """The paired difference of a per-item metric over the questions both results hold, with its
    bootstrap 95 % interval, as a suffix for a gate reason: ' (Δ +0.040, paired 95 % CI -0.012…+0.093
    over 18 questions)'; '' when they share none (summaries without items)."""
    base = {i["id"]: i[key] for i in baseline.get("items", []) if key in i}
    deltas = [i[key] - base[i["id"]] for i in candidate.get("items", []) if key in i and i["id"] in base]
    if not deltas:
        return ""
    low, high = paired_bootstrap_ci(deltas)
    mean = sum(deltas) / len(deltas)
    return f" (Δ {mean:+.3f}, paired 95 % CI {low:+.3f}…{high:+.3f} over {len(deltas)} questions)"


def _against_margin(label: str, candidate: float, baseline: float, margin: float) -> tuple[bool, str]:
    ok = candidate >= baseline + margin
    return ok, f"{label} {candidate:.3f} {'>=' if ok else '<'} baseline {baseline:.3f} {margin:+g}"


def check(
    candidate: dict[str, Any], baseline: dict[str, Any], margins: GateMargins | None = None
) -> GateResult:
    m = margins or GateMargins()
    reasons, passed = [], True
    cand_sim, base_sim = candidate["similarity"]["mean"], baseline["similarity"]["mean"]
    ok, reason = _against_margin("similarity", cand_sim, base_sim, m.similarity)
    reasons.append(reason + paired_note(candidate, baseline, "similarity"))
    passed = passed and ok
    cand_j, base_j = candidate["judge"].get("mean"), baseline["judge"].get("mean")
    if cand_j is not None and base_j is not None and not (math.isnan(cand_j) or math.isnan(base_j)):
        ok, reason = _against_margin("judge mean", cand_j, base_j, m.judge_mean)
        reasons.append(reason + paired_note(candidate, baseline, "judge_score"))
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

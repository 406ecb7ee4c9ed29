"""The judge's benchmark figures where people look: the eval report and the Models page name the judge
and say how well it tells right from wrong (``benchmarks.judge --publish`` writes ``benchmark.json``
beside this module; this module only reads it).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from core.settings import Settings

FIGURES = Path(__file__).with_name("benchmark.json")


@cache
def _published() -> dict[str, Any]:
    return json.loads(FIGURES.read_text()) if FIGURES.exists() else {}


def spec_of(identity: dict[str, str]) -> str:
    """The benchmark's name for a judge: its model, plus '+facts' when the fact checks are on."""
    return identity.get("model", "?") + ("+facts" if identity.get("facts", "off") != "off" else "")


def configured_identity(settings: Settings) -> dict[str, str]:
    """The identity of the judge ``judge.factory.build_judge`` would build, without building it."""
    from judge.facts import FACTS_VERSION
    from judge.overlap import ReferenceOverlapJudge

    cfg = settings.judge
    model = {
        "overlap": ReferenceOverlapJudge.model_id,
        "bedrock": cfg.bedrock_model or "?",
    }.get(cfg.backend, cfg.model or "the served model")
    return {"backend": cfg.backend, "model": model, "facts": FACTS_VERSION if cfg.fact_checks else "off"}


def figures(identity: dict[str, str]) -> dict[str, Any] | None:
    """The published figures of this judge, or None when it was not benchmarked."""
    return _published().get("judges", {}).get(spec_of(identity))


def describe(identity: dict[str, str]) -> str:
    """One line: the judge and its benchmark figures (or that it has none)."""
    name = identity.get("model", "?") + (" + fact checks" if identity.get("facts", "off") != "off" else "")
    found = figures(identity)
    if not found:
        return f"AI judge: {name} (not in the judge benchmark; run `python -m benchmarks.judge`)"
    ref = found["reference"]
    return (
        f"AI judge: {name} — judge benchmark ({_published().get('date', '?')}): wrong twins scored below the "
        f"right answer {ref['pairwise_min']:.0%}+ per kind, AUC {ref['auc']:.2f} on "
        f"{found['real_answers']} labelled real answers against references "
        f"({found['sources']['auc']:.2f} against sources), {ref['seconds_p50']:.2f} s per judgement"
    )

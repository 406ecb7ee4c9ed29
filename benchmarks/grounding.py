"""Grounding benchmark: does the grounding measure tell an answer its sources carry from one they do not?

The gate refuses an adapter whose grounding falls, so the measure must see support, not answer style.
Labelled data: realdocs2's reference answers (``eval/sets/judge-pairs.jsonl``), each with the prompt the
app's retrieval gave for its question and the flag ``evidence_in_sources`` (the verbatim evidence that
answers it is in those sources, or not). A right answer whose evidence was not retrieved states what
its sources do not say — the case the gate is for. Reported per half (``realdocs2-a``: the half that
chose K-Precision over the variants below; ``realdocs2-b``: confirmation):

- AUC: P(a reference its sources carry scores above one they do not), ties half;
- the mean score of each group.

Measures: ``k_precision`` (today's ``grounding``), ``grounding_cosine`` (before 2026-11-26: answer
sentences within cosine 0.5 of a source's 300-character snippet), and the same cosine against whole
chunks.

The loop's corrections check (``ragloop.grounding``) asks the same question of each correction, so the
second table gives its keep rates: of the references their prompt carries (should be kept) and of those
it does not (should be left out), for the default judge's score >= ``CARRIED_SCORE`` against the
sources (the loop's check) and for K-Precision >= ``SUPPORT_BAR`` (a candidate, chosen on half a as the
best true-minus-false rate; not yet measured in the loop).

    python -m benchmarks.grounding
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from statistics import fmean

import numpy as np

from benchmarks.judge import PAIRS, auc
from core.jsonl import read_rows
from core.settings import get_settings
from eval.metrics import answer_sentences, grounding_cosine, k_precision
from rag.chain import snippet, source_bodies
from ragloop.grounding import CARRIED_SCORE, SUPPORT_BAR

log = logging.getLogger(__name__)
HALVES = ("realdocs2-a", "realdocs2-b")


def labelled_references() -> list[dict]:
    """One row per realdocs2 item: its reference, its prompt and whether the prompt holds the evidence."""
    rows: dict[str, dict] = {}
    for row in read_rows(PAIRS):
        if "evidence_in_sources" in row and row["item"] not in rows:
            rows[row["item"]] = row
    return list(rows.values())


def cosine_measure(encode, *, whole_chunks: bool) -> Callable[[str, list[str]], float]:
    def measure(answer: str, sources: list[str]) -> float:
        sentences = answer_sentences(answer)
        if not sentences or not sources:
            return 0.0
        texts = sources if whole_chunks else [snippet(s) for s in sources]
        return grounding_cosine(encode(sentences), encode(texts))

    return measure


def split(rows: list[dict], half: str, value: Callable[[dict], float]) -> tuple[list[float], list[float]]:
    """``value`` of the half's references that their prompt carries, and of the others."""
    have = [r for r in rows if r["set"] == half]
    return (
        [value(r) for r in have if r["evidence_in_sources"]],
        [value(r) for r in have if not r["evidence_in_sources"]],
    )


def separation(rows: list[dict], measure: Callable[[str, list[str]], float]) -> dict[str, dict]:
    """AUC and group means of ``measure`` per half."""

    def score(row: dict) -> float:
        return measure(row["reference"], source_bodies(row["sources"]))

    out = {}
    for half in HALVES:
        carried, not_carried = split(rows, half, score)
        out[half] = {
            "auc": auc(carried, not_carried),
            "carried_mean": fmean(carried),
            "not_carried_mean": fmean(not_carried),
            "n": [len(carried), len(not_carried)],
        }
    return out


def keep_rates(rows: list[dict], keep: Callable[[dict], bool]) -> dict[str, dict]:
    """Per half: the share kept of the carried references and of the others."""
    out = {}
    for half in HALVES:
        held, other = split(rows, half, keep)
        out[half] = {"carried_kept": fmean(held), "others_kept": fmean(other)}
    return out


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from rag.service import build_embedder

    embedder = build_embedder(get_settings())
    encode = embedder.encode
    rows = labelled_references()
    measures = {
        "k_precision (grounding)": k_precision,
        "grounding_cosine (snippets; before)": cosine_measure(encode, whole_chunks=False),
        "cosine, whole chunks": cosine_measure(encode, whole_chunks=True),
    }
    figures = {name: separation(rows, measure) for name, measure in measures.items()}
    lines = [
        "| measure | " + " | ".join(f"{h} AUC | carried / not carried" for h in HALVES) + " |",
        "|---|" + "---:|---:|" * len(HALVES),
    ]
    for name, by_half in figures.items():
        cells = [
            f"{f['auc']:.2f} | {f['carried_mean']:.2f} / {f['not_carried_mean']:.2f}"
            f" (n {f['n'][0]} / {f['n'][1]})"
            for f in by_half.values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    from judge.factory import build_judge

    judge = build_judge(get_settings(), embedder=embedder)
    checks = {
        f"judge {judge.name} >= {CARRIED_SCORE:g} (the loop's check)": lambda r: (
            judge.score(r["question"], r["sources"], r["reference"], "sources").score >= CARRIED_SCORE
        ),
        f"K-Precision >= {SUPPORT_BAR:g} (candidate)": lambda r: (
            k_precision(r["reference"], source_bodies(r["sources"])) >= SUPPORT_BAR
        ),
    }
    figures["corrections check"] = {name: keep_rates(rows, keep) for name, keep in checks.items()}
    lines += [
        "",
        "| corrections check | " + " | ".join(f"{h} kept: carried / others" for h in HALVES) + " |",
        "|---|" + "---:|" * len(HALVES),
    ]
    for name, by_half in figures["corrections check"].items():
        cells = [f"{f['carried_kept']:.2f} / {f['others_kept']:.2f}" for f in by_half.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    log.info("\n".join(lines))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2, default=lambda v: float(np.asarray(v)))
    return figures


if __name__ == "__main__":
    main()

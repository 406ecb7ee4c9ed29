"""Evaluate one model or adapter on an eval set: retrieval, answers, and how close they are to the
references. Eval set rows: ``{id, question, reference, source, page}`` (JSONL). Writes metrics JSON.

    ragloop eval run --model base --set eval/sets/demo.jsonl -o reports/base.json

Metrics:
- retrieval: recall@k and MRR of the expected source file (and page, when given);
- semantic similarity: embedding cosine between answer and reference (the reference design's headline
  metric: 0.64 plain RAG -> 0.81 after SFT);
- judge (when a judge is given): score mean and the shares > 3 and < 3 (78.1 % -> 85.5 % > 3 after PPO);
- grounding: the share of the answer's words that the sources it was given contain (K-Precision,
  ``eval.metrics.k_precision``) — a lexical measure of answering beyond the sources, not an entailment
  check; ``grounding_cosine`` (answer sentences close to a source snippet), the measure before
  2026-11-26, is reported beside it;
- latency p50/p95 of whole answers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.pool import map_ordered
from eval.metrics import (
    answer_sentences,
    citation_only,
    cosine,
    grounding_cosine,
    k_precision,
    pastes_source,
    percentiles,
    recall_at_k,
    reciprocal_rank,
    score_distribution,
    source_matches,
    valid_citation,
)
from eval.safety import SafetyClassifier, default_classifier, safety_summary
from rag.chain import source_bodies
from rag.headings import heading_only
from rag.reviewed import is_reviewed

log = logging.getLogger(__name__)


REQUIRED_FIELDS = ("id", "question", "reference", "source")
UNANSWERABLE_FIELDS = ("id", "question")  # an item the documents do not answer: ``"answerable": false``


def answerable(item: dict[str, Any]) -> bool:
    """Whether the documents answer the item (unanswerable items carry ``"answerable": false``)."""
    return item.get("answerable", True) is not False


def read_set(path: Path, *, unanswerable: bool = False) -> list[dict[str, Any]]:
    """The approved items of an eval set. Rows drafted by ``ragloop eval build`` carry
    ``"approved": false`` until an expert approves them; those are skipped. Items the documents do not
    answer (``"answerable": false``: no reference, no source) are left out unless ``unanswerable``: only
    the eval report counts them, as questions that should get "the documents don't say"."""
    from core.errors import RagloopError

    path = Path(path)
    if not path.is_file():
        raise RagloopError(f"eval set {path} does not exist")
    items, drafts = [], 0
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise RagloopError(f"{path}:{n} is not JSON ({err.msg})") from None
        missing = [f for f in (REQUIRED_FIELDS if answerable(row) else UNANSWERABLE_FIELDS) if not row.get(f)]
        if missing:
            raise RagloopError(f"{path}:{n} lacks {', '.join(missing)}")
        if not answerable(row) and not unanswerable:
            continue
        if row.get("approved") is False:
            drafts += 1
            continue
        items.append(row)
    if drafts:
        log.warning("%s: skipped %d draft rows not yet approved", path, drafts)
    if not items:
        raise RagloopError(
            f'{path} has no approved items ({drafts} drafts): review them and set "approved": true'
        )
    return items


def sources_read(trace) -> list[str]:
    """What grounding is measured against: the source blocks of ragloop's prompt; for a prompt in another
    format (the LangChain baseline's context paragraphs) the whole prompt less its question, so its
    instructions' few words count as held too."""
    blocks = source_bodies(trace.prompt)
    return blocks or [trace.prompt.replace(trace.question, " ")]


def first(items: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """The first ``limit`` answerable items and as many unanswerable ones as the set's mix gives (at
    least one when it has any): a set lists its unanswerable questions last, so a plain slice would
    drop every one of them and the refusal columns with them."""
    if limit is None:
        return items
    answered = [i for i in items if answerable(i)][:limit]
    silent = [i for i in items if not answerable(i)]
    share = len(silent) / max(len(items) - len(silent), 1)
    keep = min(len(silent), max(1, round(limit * share))) if silent else 0
    return answered + silent[:keep]


def evaluate(
    chain,
    items: list[dict[str, Any]],
    *,
    adapter: str | None = None,
    judge=None,
    k: int = 4,
    label: str | None = None,
    safety: SafetyClassifier | Literal["default"] | None = "default",
    reuse: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Answer every item through ``chain`` (with ``adapter``) and score it; the result is named
    ``label`` (default: the adapter, or "base"). ``safety``: the classifier whose unsafe share the gate
    compares ("default": the packaged one, if installed; None: not checked). ``reuse``: for an item
    whose answer is known not to change (the same prompt to the same model, greedy), its row from an
    earlier result, taken as it is (marked ``reused``; not in the latencies) instead of asking again.
    ``workers``: questions asked at once (vLLM batches them; the latencies are then under that load);
    scoring stays in this thread, in the items' order."""
    classifier = default_classifier() if safety == "default" else safety
    earlier_rows = [reuse(item) if reuse is not None else None for item in items]

    def ask(item: dict[str, Any]):
        started = time.perf_counter()
        answer = chain.answer(item["question"], adapter=adapter)
        return answer, (time.perf_counter() - started) * 1e3

    asked = [item for item, earlier in zip(items, earlier_rows, strict=True) if earlier is None]
    answers = iter(
        map_ordered(ask, asked, workers=workers, desc=f"eval {label or adapter or 'base'}", unit="question")
    )
    rows, latencies = [], []
    unanswered = []  # items the documents do not answer: only whether the answer said so is counted
    for item, earlier in zip(items, earlier_rows, strict=True):
        if earlier is not None:
            rows.append({**earlier, "reused": True})
            continue
        answer, latency_ms = next(answers)
        latencies.append(latency_ms)
        if not answerable(item):
            unanswered.append(
                {
                    "id": item["id"],
                    "question": item["question"],
                    "answer": answer.text,
                    "silent": answer.trace.silent,
                }
            )
            continue
        rows.append(scored_row(chain, item, answer, k=k, judge=judge))
    if classifier is not None:
        for row, p in zip(rows, classifier.unsafe_probability([r["answer"] for r in rows]), strict=True):
            row["unsafe_probability"] = p
    return {
        "model": label or adapter or "base",
        **summary(rows, k=k, judge=judge, classifier=classifier),
        "refusals": refusal_counts(rows, unanswered),
        "latency_ms": {**percentiles(latencies), "workers": workers},
        "items": rows,
        "unanswerable_items": unanswered,
    }


def scored_row(chain, item: dict[str, Any], answer, *, k: int, judge=None) -> dict[str, Any]:
    """One answered item's row: retrieval, similarity to the reference, grounding, answer shape and
    (with ``judge``) the judge's score against the reference."""
    embedder = chain.embedder
    # retrieval is of documents; a designed "not found" answer shows no sources, but retrieval ran
    # and is measured all the same (else a model's refusal would count as a retrieval miss)
    documents = (
        [(c.source, c.page) for c in answer.citations if not is_reviewed(c.source)]
        if not answer.trace.silent
        else [(h.chunk.source, h.chunk.page) for h in chain.retrieve(item["question"])]
    )
    hits = [source_matches(source, page, item["source"], item.get("page")) for source, page in documents]
    answer_vec, ref_vec = embedder.encode([answer.text or " ", item["reference"]])
    sentences = answer_sentences(answer.text)
    row = {
        "id": item["id"],
        "question": item["question"],
        "reference": item["reference"],
        "answer": answer.text,
        "recall_at_k": recall_at_k(hits, k),
        "reciprocal_rank": reciprocal_rank(hits),
        "similarity": cosine(answer_vec, ref_vec),
        "grounding": k_precision(answer.text, sources_read(answer.trace)),
        "grounding_cosine": grounding_cosine(
            embedder.encode(sentences) if sentences else np.zeros((0, embedder.dim)),
            embedder.encode([s.snippet for s in answer.citations]),
        ),
        "citation_only": citation_only(answer.text),
        "pastes_source": pastes_source(answer.text, answer.trace.prompt),
        "valid_citation": valid_citation(answer.text, len(answer.citations)),
        "heading_only": heading_only(answer.text, [c.section for c in answer.citations]),
        "silent": answer.trace.silent,
        "model": answer.trace.model,
        "reviewed_answers": len(answer.trace.reviewed_answers),
    }
    if judge is not None:
        try:
            row["judge_score"] = judge.score(item["question"], item["reference"], answer.text).score
        except Exception as err:  # a failed judgement is reported, never scored 0
            row["judge_error"] = str(err)
    return row


def summary(rows: list[dict[str, Any]], *, k: int, judge=None, classifier=None) -> dict[str, Any]:
    """The means of the answered items' rows: retrieval, similarity, the judge's score distribution,
    grounding, answer shape and the unsafe share."""
    scores = [r["judge_score"] for r in rows if "judge_score" in r]
    return {
        "n": len(rows),
        "retrieval": {
            f"recall_at_{k}": float(np.mean([r["recall_at_k"] for r in rows])),
            "mrr": float(np.mean([r["reciprocal_rank"] for r in rows])),
        },
        "similarity": {"mean": float(np.mean([r["similarity"] for r in rows]))},
        "judge": {
            **score_distribution(scores),
            "failed": sum("judge_error" in r for r in rows),
            "identity": getattr(judge, "identity", None),
        },
        "grounding": {"mean": float(np.mean([r["grounding"] for r in rows]))},
        "grounding_cosine": {"mean": float(np.mean([r["grounding_cosine"] for r in rows]))},
        "answer_shape": {
            key: float(np.mean([r[key] for r in rows]))
            for key in ("citation_only", "pastes_source", "valid_citation", "heading_only")
        },
        "safety": safety_summary([r.get("unsafe_probability", 0.0) for r in rows], classifier),
    }


def refusal_counts(rows: list[dict[str, Any]], unanswered: list[dict[str, Any]]) -> dict[str, Any]:
    """How often the answer was the designed "the documents don't say": correctly (on questions the
    documents do not answer) and falsely (on questions they do)."""
    return {
        "unanswerable": len(unanswered),
        "correct": sum(r["silent"] is not None for r in unanswered),
        "answerable": len(rows),
        "false": sum(r["silent"] is not None for r in rows),
    }


def result_unsafe_share(result: dict[str, Any]) -> float | None:
    """The share of answers the safety classifier flagged (None: no classifier ran)."""
    return (result.get("safety") or {}).get("unsafe_share")


def result_recall(result: dict[str, Any]) -> float:
    """The retrieval recall@k of an ``evaluate`` result, whatever its k."""
    return next(v for k, v in result["retrieval"].items() if k.startswith("recall_at_"))


def write(result: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path

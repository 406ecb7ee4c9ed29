"""The loop's second stage, RLAIF: AI feedback on answers sampled from the live SFT adapter becomes a
better adapter.

1. **Sample**: for each training question, ``k`` candidate answers from the SFT adapter through vLLM, in
   one request (``n=k``), with the chain's own retrieval and prompt (``RagChain.sample``).
2. **Score**: the judge (the AI feedback) scores each candidate 0-5 against the question's reference.
3. **Train**, from two files — the candidates as a feedback export and the judge's scores — as any
   training job reads them:
   - ``ppo`` (default): the reference design's recipe — a reward model trained on judge-ranked pairs
     (best vs worst candidate per question, a minimum score gap), then PPO continuing the SFT adapter,
     the reward model scoring its rollouts;
   - ``dpo``: DPO on the same pairs, continuing the SFT adapter with a frozen copy of it as the
     reference (cheaper; it lost held-out AI score on the demo, see benchmarks/rlaif_routes.py);
   - ``best_of_k``: rejection sampling (expert iteration, ReST, RAFT-style reward-ranked fine-tuning):
     each question's best candidate, when the judge scores it at least ``best_min_score``, becomes an
     SFT row, and SFT continues the SFT adapter on those rows. No reward model, no reference model.

The questions are the users' training questions and, with ``drafted_questions``, the questions of the
verified synthetic drafts (fresh questions from the corpus; the verified draft is their reference).

The adapter's manifest links its SFT parent, the judge (backend, model, prompt version) and the
sampling settings. The loop (``ragloop.loop``) then evaluates it, gates it against the live SFT adapter
and publishes it only if it is better.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.citations import strip_citations
from core.jsonl import read_rows, write_rows
from core.manifest import AdapterManifest
from core.settings import RlaifSettings

log = logging.getLogger(__name__)

SESSION_PREFIX = "rlaif-candidates"


@dataclass
class RlaifOutcome:
    adapter_dir: Path
    candidates_path: Path
    scores_path: Path
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def sample_candidates(chain, items: list[dict], adapter: str, cfg: RlaifSettings) -> list:
    """Feedback records (no rating) of ``cfg.k`` answers per item, sampled from ``adapter``."""
    from ragloop.turns import answer_record

    records = []
    for n, item in enumerate(tqdm(items, desc=f"sample {cfg.k} per question", unit="question")):
        answers = chain.sample(
            item["question"], cfg.k, adapter=adapter, temperature=cfg.temperature, seed=cfg.seed + n
        )
        records += [
            answer_record(a, f"{SESSION_PREFIX}-{item['id']}", turn) for turn, a in enumerate(answers)
        ]
    return records


def score_candidates(judge, records: list, items: list[dict]) -> tuple[list[dict], list[dict]]:
    """The judge's scores of the candidates against their question's reference: (scored, failed)."""
    reference = {item["question"].strip(): item["reference"] for item in items}
    return judge.score_many(
        {
            "id": r.feedback_id,
            "question": r.question,
            "reference": reference[r.question.strip()],
            "answer": r.answer,
            "adapter": r.adapter,
        }
        for r in records
    )


def score_spread(scored: list[dict]) -> dict[str, float]:
    """How much the judge's scores differ between one question's candidates: without spread there
    is nothing to prefer."""
    by_question: dict[str, list[float]] = {}
    for row in scored:
        by_question.setdefault(row["question"], []).append(row["score"])
    spreads = [max(s) - min(s) for s in by_question.values() if len(s) > 1]
    scores = [row["score"] for row in scored]
    return {
        "candidate_mean": sum(scores) / len(scores) if scores else float("nan"),
        "spread_mean": sum(spreads) / len(spreads) if spreads else 0.0,
        "questions_with_spread": sum(s > 0 for s in spreads),
    }


def plot_ai_feedback(scores_path: Path, path: Path, source: str) -> Path | None:
    """The AI feedback itself: the judge's scores of the sampled candidates, and per question the best
    and the worst (the pairs DPO and the reward model learn from)."""
    from core.plots import pyplot, save

    rows = read_rows(scores_path)
    if not rows:
        return None
    by_question: dict[str, list[float]] = {}
    for row in rows:
        by_question.setdefault(row["question"], []).append(row["score"])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    bins = [i / 2 for i in range(11)]
    ax.hist([r["score"] for r in rows], bins=bins, alpha=0.35, label=f"all {len(rows)} candidates")
    ax.hist(
        [max(s) for s in by_question.values()],
        bins=bins,
        histtype="step",
        linewidth=2,
        label="best per question",
    )
    ax.hist(
        [min(s) for s in by_question.values()],
        bins=bins,
        histtype="step",
        linewidth=2,
        label="worst per question",
    )
    ax.set_xlabel("AI-judge score (0-5)")
    ax.set_ylabel("answers")
    ax.set_title(f"AI feedback on answers sampled from {source}")
    ax.legend(fontsize=8)
    return save(fig, path)


def best_of_k_export(candidates: Path, scores: Path, out: Path, *, min_score: float) -> tuple[Path, int]:
    """Rejection sampling's rows: per question the candidate the judge scored highest (the first of a
    tie), kept when it scores at least ``min_score``, written as a feedback export whose records carry
    that score as their AI score (so SFT reads them as ``ai_score`` rows). Returns (path, rows)."""
    judged = {row["id"]: row for row in read_rows(scores)}
    best: dict[str, tuple[float, dict]] = {}
    for record in read_rows(candidates):
        verdict = judged.get(record["feedback_id"])
        if verdict is None:  # the judge gave no usable score
            continue
        question = record["question"].strip()
        if question not in best or verdict["score"] > best[question][0]:
            ai_judge = {
                "model": str(verdict.get("judge", "")),
                "prompt_version": str(verdict.get("judge_prompt_version", "")),
                "basis": "reference",
            }
            scored = {**record, "ai_score": verdict["score"], "ai_judge": ai_judge}
            best[question] = (verdict["score"], scored)
    kept = [record for score, record in best.values() if score >= min_score]
    write_rows(kept, out)
    return out, len(kept)


def train_jobs(
    cfg: RlaifSettings,
    base_model: Path,
    sft_dir: Path,
    candidates: Path,
    scores: Path,
    out: Path,
    *,
    batch: int,
    max_tokens: int,
) -> list[tuple[str, Any]]:
    """The training jobs of the chosen route, in order (``ppo``: the reward model, then PPO)."""
    from training.run import make_job

    pairs = {
        "judge_scores_path": str(scores),
        "judge_min_margin": cfg.min_margin,
        "judge_pairs_per_question": cfg.pairs_per_question,
    }
    common = {
        "export_path": str(candidates),
        "base_model": str(base_model),
        "validation_share": 0.0,
        "min_rows": 1,
        "save_steps": 10_000,
        "seed": cfg.seed,
    }
    # the adapter this route makes continues the SFT parent (best-of-k and DPO alike; PPO at its own rate)
    continuing = {
        "output_dir": str(out / cfg.adapter_name),
        "name": cfg.adapter_name,
        "init_adapter": str(sft_dir),
    }
    one_pass = {"learning_rate": cfg.learning_rate, "epochs": cfg.epochs, "batch_size": batch}
    if cfg.method == "best_of_k":
        rows = out / f"{cfg.adapter_name}-best-of-{cfg.k}.jsonl"
        export, _ = best_of_k_export(candidates, scores, rows, min_score=cfg.best_min_score)
        job = make_job(
            "sft",
            **{**common, "export_path": str(export)},
            **continuing,
            **one_pass,
            ai_scores="all",
            ai_good_score=cfg.best_min_score,
            rated_answers=False,
        )
        return [("sft", job)]
    if cfg.method == "dpo":
        job = make_job(
            "dpo",
            **common,
            **pairs,
            **continuing,
            **one_pass,
            beta=cfg.beta,
            sft_weight=cfg.sft_weight,
        )
        return [("dpo", job)]
    rm_dir = out / f"{cfg.adapter_name}-reward-model"
    reward = make_job(
        "rm",
        **common,
        **pairs,
        output_dir=str(rm_dir),
        name=f"{cfg.adapter_name}-reward-model",
        learning_rate=cfg.rm_learning_rate,
        epochs=cfg.rm_epochs,
        batch_size=batch,
    )
    ppo = make_job(
        "ppo",
        **common,
        **continuing,
        reward_model=str(rm_dir),
        learning_rate=cfg.ppo_learning_rate,
        total_episodes=cfg.ppo_episodes,
        num_ppo_epochs=cfg.ppo_epochs,
        response_length=max_tokens,
        batch_size=batch,
        temperature=cfg.temperature,
        epochs=1,
    )
    return [("rm", reward), ("ppo", ppo)]


@dataclass
class AIFeedback:
    """The sampled candidates (a feedback export), the judge's scores of them, and what they hold."""

    candidates_path: Path
    scores_path: Path
    stats: dict[str, Any]
    seconds: dict[str, float]


def collect_feedback(
    chain, judge, items: list[dict], *, sft_served: str, workdir: Path, cfg: RlaifSettings, echo=log.info
) -> AIFeedback:
    """Sample ``cfg.k`` candidates per item from the served SFT adapter and score them against the items'
    references; both written to ``workdir`` (``rlaif-candidates.jsonl``, ``rlaif-scores.jsonl``)."""
    from feedback.export import export_records

    seconds: dict[str, float] = {}
    t = time.perf_counter()
    records = sample_candidates(chain, items, sft_served, cfg)
    seconds["sample"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    scored, failed = score_candidates(judge, records, items)
    seconds["score"] = round(time.perf_counter() - t, 1)
    if failed:
        echo(f"      the judge gave no usable score for {len(failed)} candidates; they are left out")
    candidates_path = workdir / "rlaif-candidates.jsonl"
    export_records(records, candidates_path, "jsonl")
    scores_path = write_rows(scored, workdir / "rlaif-scores.jsonl")
    write_rows(failed, workdir / "rlaif-judge-failures.jsonl")
    stats: dict[str, Any] = {
        "questions": len(items),
        "candidates": len(records),
        "scored": len(scored),
        "failed": len(failed),
        **score_spread(scored),
    }
    echo(
        f"      {len(records)} candidates from {sft_served} ({cfg.k} per question), judge mean "
        f"{stats['candidate_mean']:.2f}, score spread within a question {stats['spread_mean']:.2f}"
    )
    return AIFeedback(candidates_path, scores_path, stats, seconds)


def drafted_items(records) -> list[dict]:
    """Approved synthetic drafts (feedback records) as questions to sample on: fresh questions from the
    corpus, each with its verified draft (citation marks removed) as the reference."""
    return [
        {"id": r.feedback_id, "question": r.question, "reference": strip_citations(r.correction).strip()}
        for r in records
        if r.session_id == "synthetic" and r.review_state == "approved" and r.correction
    ]


def run_stage(
    chain,
    judge,
    items: list[dict],
    *,
    sft_served: str,
    sft_dir: Path,
    base_model: Path,
    workdir: Path,
    cfg: RlaifSettings,
    max_tokens: int,
    batch_size: int = 4,
    echo=log.info,
) -> RlaifOutcome:
    """Sample from the served SFT adapter, score, train; returns the new adapter with its lineage."""
    from training.run import run as train

    feedback = collect_feedback(
        chain, judge, items, sft_served=sft_served, workdir=workdir, cfg=cfg, echo=echo
    )
    candidates_path, scores_path = feedback.candidates_path, feedback.scores_path
    stats, seconds = feedback.stats, feedback.seconds
    t = time.perf_counter()
    metrics: dict[str, Any] = {}
    jobs = train_jobs(
        cfg,
        base_model,
        sft_dir,
        candidates_path,
        scores_path,
        workdir / "trained",
        batch=batch_size,
        max_tokens=max_tokens,
    )
    for method, job in jobs:
        _, metrics[method] = train(method, job)
    seconds["train"] = round(time.perf_counter() - t, 1)
    adapter_dir = Path(jobs[-1][1].output_dir)
    stats["pairs"] = AdapterManifest.read(Path(jobs[0][1].output_dir)).metrics.get("data", {}).get("rows")
    manifest = AdapterManifest.read(adapter_dir)
    manifest.ai_feedback = {
        "route": cfg.method,
        "judge": judge.identity,
        "sampling": {
            "adapter": sft_served,
            "k": cfg.k,
            "temperature": cfg.temperature,
            "seed": cfg.seed,
            "max_tokens": max_tokens,
            "n_per_request": cfg.k,
        },
        "pairing": (
            {"best_min_score": cfg.best_min_score}
            if cfg.method == "best_of_k"
            else {"min_margin": cfg.min_margin, "per_question": cfg.pairs_per_question}
        ),
        "candidates": stats,
        "reward_model": (
            {"path": jobs[0][1].output_dir, **{k: v for k, v in metrics["rm"].items() if "accuracy" in k}}
            if "rm" in metrics
            else None
        ),
        "seconds": seconds,
    }
    manifest.write(adapter_dir)
    echo(f"      trained {cfg.adapter_name} ({cfg.method}) in {seconds['train']:.0f} s")
    return RlaifOutcome(adapter_dir, candidates_path, scores_path, stats, seconds)

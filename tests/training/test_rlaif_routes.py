"""The RLAIF stage's training routes, run from the files the loop's sampler writes (candidates as a
feedback export, the judge's scores beside it) on the tiny Mistral: the reference recipe (a reward model
on judge-ranked pairs, then PPO continuing the SFT parent with that reward model), DPO on the same
pairs, and best-of-k rejection sampling (each question's best candidate as an SFT row continuing the
parent). The loop test (tests/test_loop.py) runs the sampling and scoring against real vLLM."""

from __future__ import annotations

import json

import pytest

from core.manifest import AdapterManifest
from core.settings import RlaifSettings
from feedback.export import export_records
from feedback.schema import FeedbackRecord
from ragloop.rlaif import best_of_k_export, train_jobs
from tests.training.conftest import FACTS, prompt
from training.run import run as train


@pytest.fixture
def judged_candidates(tmp_path):
    """Per fact, three unrated candidates from "the SFT adapter" and the judge's scores of them: the
    correct answer scores 4.5, the wrong one 1.0, a hedge 2.5."""
    records, scores = [], []
    for i, (q, good, bad) in enumerate(FACTS):
        for turn, (answer, score) in enumerate([(good, 4.5), (bad, 1.0), ("Maybe, I am not sure.", 2.5)]):
            r = FeedbackRecord(
                session_id=f"rlaif-candidates-{i}",
                turn=turn,
                question=q,
                answer=answer,
                model="loop-sft-v1",
                adapter="loop-sft-v1",
                trace={"prompt": prompt(q)},
            )
            records.append(r)
            scores.append({"id": r.feedback_id, "score": score, "judge": "reference-overlap-v1"})
    export = tmp_path / "rlaif-candidates.jsonl"
    export_records(records, export, "jsonl")
    scores_path = tmp_path / "rlaif-scores.jsonl"
    scores_path.write_text("".join(json.dumps(s) + "\n" for s in scores))
    return export, scores_path


@pytest.mark.slow
@pytest.mark.parametrize("method, sft_weight", [("ppo", 0.0), ("dpo", 1.0), ("best_of_k", 0.0)])
def test_each_route_trains_from_the_judge_scores_and_continues_the_sft_parent(
    method, sft_weight, judged_candidates, parent_adapter, tiny_model_dir, tmp_path
):
    export, scores = judged_candidates
    cfg = RlaifSettings(
        method=method, ppo_episodes=6, learning_rate=1e-3, rm_learning_rate=1e-3, sft_weight=sft_weight
    )
    jobs = train_jobs(
        cfg, tiny_model_dir, parent_adapter, export, scores, tmp_path / "trained", batch=6, max_tokens=4
    )
    assert [m for m, _ in jobs] == {"ppo": ["rm", "ppo"], "dpo": ["dpo"], "best_of_k": ["sft"]}[method]
    for m, job in jobs:
        job.max_length, job.target_modules = 256, ["q_proj", "v_proj", "o_proj"]
        train(m, job)
    pairs = AdapterManifest.read(tmp_path / "trained" / jobs[0][1].name)
    if method == "best_of_k":  # one SFT row per question: its best candidate (4.5 >= 4.0), nothing else
        assert pairs.metrics["data"]["by_source"]["ai_score"] == len(FACTS) == pairs.metrics["data"]["rows"]
        assert pairs.method == "sft" and pairs.parent["name"] == "parent-sft" and pairs.lora_rank == 8
        return
    # one pair per question (the default), best vs worst by the judge: 4.5 over 1.0
    assert pairs.metrics["data"]["by_source"] == {
        "synthetic": 0,
        "correction": 0,
        "rating": 0,
        "judge": len(FACTS),
        "ai_score": 0,
    }
    adapter = AdapterManifest.read(tmp_path / "trained" / "loop-rlaif")
    assert adapter.method == method and adapter.parent["name"] == "parent-sft" and adapter.lora_rank == 8
    if method == "ppo":
        assert jobs[1][1].reward_model == jobs[0][1].output_dir and adapter.metrics["steps"] >= 1
    else:  # RPO: the DPO loss plus the chosen answers' NLL, as TRL's combined loss types
        assert adapter.hyperparameters["sft_weight"] == 1.0


def test_best_of_k_keeps_each_questions_best_candidate_only_when_the_judge_rates_it_good(
    judged_candidates, tmp_path
):
    export, scores = judged_candidates
    rows = [json.loads(line) for line in scores.read_text().splitlines()]
    first = next(r for r in rows if r["score"] == 4.5)  # one question's correct candidate falls to 3.5
    first["score"] = 3.5
    scores.write_text("".join(json.dumps(r) + "\n" for r in rows))

    out, kept = best_of_k_export(export, scores, tmp_path / "best.jsonl", min_score=4.0)

    best = [json.loads(line) for line in out.read_text().splitlines()]
    good = {q: g for q, g, _ in FACTS}
    assert kept == len(best) == len(FACTS) - 1  # that question's best (3.5) is below 4: no row
    assert all(r["answer"] == good[r["question"]] and r["ai_score"] == 4.5 for r in best)
    assert first["id"] not in {r["feedback_id"] for r in best}
    assert all(r["ai_judge"]["model"] == "reference-overlap-v1" for r in best)

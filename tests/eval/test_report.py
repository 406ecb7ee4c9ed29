"""Reports: one table for several models, plots that render, training curves from manifests."""

from __future__ import annotations

import json
import math

from eval.report import markdown_table, read_report, summary_row, text_table, write_report
from judge.overlap import ReferenceOverlapJudge


def result(model: str, sims: list[float], judge: list[float] | None = None) -> dict:
    items = [
        {"id": f"q{i}", "similarity": s, **({"judge_score": judge[i]} if judge else {})}
        for i, s in enumerate(sims)
    ]
    scores = judge or []
    return {
        "model": model,
        "n": len(sims),
        "retrieval": {"recall_at_4": 0.9, "mrr": 0.75},
        "similarity": {"mean": sum(sims) / len(sims)},
        "judge": {
            "mean": sum(scores) / len(scores) if scores else math.nan,
            "share_above_3": sum(s > 3 for s in scores) / len(scores) if scores else math.nan,
            "share_below_3": sum(s < 3 for s in scores) / len(scores) if scores else math.nan,
        },
        "grounding": {"mean": 0.5},
        "latency_ms": {"p50": 120.0, "p95": 300.0},
        "items": items,
    }


MANIFEST = {
    "name": "support",
    "method": "sft",
    "base_model": "tiny",
    "lora_rank": 8,
    "feedback_ids": ["a", "b"],
    "dataset_hash": "abc123",
    "metrics": {
        "train_loss_first": 9.0,
        "train_loss_last": 2.0,
        "history": {"loss": [[1, 9.0], [2, 5.0], [3, 2.0]]},
    },
}


def test_summary_row_and_tables():
    base = result("base", [0.6, 0.7], [3.0, 4.0])
    lc = result("langchain", [0.5, 0.5])
    row = summary_row(base)
    assert abs(row["similarity"] - 0.65) < 1e-9 and row["judge_mean"] == 3.5 and row["judge_above_3"] == 0.5
    md = markdown_table([base, lc])
    assert md.splitlines()[0].startswith("| model | n | recall@k")
    assert "| base | 2 | 0.900 | 0.750 | 0.650 | 3.50 | 50.0% | 0.0% |" in md
    assert "| langchain | 2 |" in md and "n/a" in md  # no judge for the baseline: shown, not zero
    text = text_table([base, lc])
    assert text.splitlines()[0].split()[:3] == ["model", "n", "recall@k"] and "langchain" in text


def test_report_renders_with_its_plots(tmp_path):
    results = [result("base", [0.6, 0.7], [3.0, 4.0]), result("support-v1", [0.8, 0.9], [4.0, 5.0])]
    md_path = write_report(results, tmp_path / "r", manifests=[MANIFEST], notes=["eval set: demo.jsonl"])
    md = md_path.read_text()
    for png in ("metrics.png", "similarity.png", "judge_scores.png", "training-support.png"):
        assert (tmp_path / "r" / png).stat().st_size > 1000, png  # a real image, not an empty file
        assert f"]({png})" in md
    assert "adapter **support**: sft on tiny, rank 8, 2 feedback records" in md
    html = (tmp_path / "r" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "<td>support-v1</td>" in html
    data = read_report(tmp_path / "r")
    assert [s["model"] for s in data["summary"]] == ["base", "support-v1"]
    assert json.dumps(data)  # plain JSON for machines


def test_report_without_judge_scores_skips_that_plot(tmp_path):
    write_report([result("base", [0.6])], tmp_path)
    assert not (tmp_path / "judge_scores.png").exists() and (tmp_path / "similarity.png").exists()


def test_summary_row_keeps_a_zero_unsafe_share():
    from eval.report import summary_row

    result = {
        "model": "m",
        "n": 1,
        "retrieval": {"recall_at_4": 1.0, "mrr": 1.0},
        "similarity": {"mean": 0.5},
        "judge": {},
        "grounding": {"mean": 0.5},
        "latency_ms": {"p50": 1.0, "p95": 2.0},
        "safety": {"classifier": "c", "unsafe_share": 0.0},
    }
    assert summary_row(result)["unsafe"] == 0.0


def test_the_report_names_the_judge_with_its_benchmark_figures(tmp_path):
    model = ReferenceOverlapJudge.model_id
    identity = {"backend": "ReferenceOverlapJudge", "model": model, "facts": "facts-v1"}
    scored = result("base", [0.6, 0.7], [3.0, 4.0])
    scored["judge"]["identity"] = identity
    write_report([scored], tmp_path / "r", notes=["eval set: demo.jsonl"])
    notes = read_report(tmp_path / "r")["notes"]
    assert notes[0] == "eval set: demo.jsonl"
    assert notes[1].startswith(f"AI judge: {ReferenceOverlapJudge.model_id} + fact checks — judge benchmark")

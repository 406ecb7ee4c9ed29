"""The whole loop, shortened: real vLLM with the tiny Mistral, real feedback store, real SFT, real eval,
gate and hot-load. Asserts the published adapter is the one answering live and that the metrics in its
manifest are the ones in the eval report."""

from __future__ import annotations

import json

import pytest

from ragloop.loop import Loop, is_holdout, loop_settings, rating_from_score
from ragloop.settings import LoopSettings, Settings


def test_rating_from_score_and_holdout_split():
    assert [rating_from_score(s) for s in (0.0, 1.4, 2.49, 2.5, 4.6, 5.0)] == [1, 1, 2, 3, 5, 5]
    ids = [f"demo-{i:03d}" for i in range(1, 55)]
    held = [i for i in ids if is_holdout(i, 0.34)]
    assert 10 <= len(held) <= 26 and held == [i for i in ids if is_holdout(i, 0.34)]  # stable


def test_loop_settings_keep_the_demo_off_production_backends(tmp_path):
    production = Settings(
        data_dir=tmp_path / "data",
        vector_store={"kind": "opensearch"},
        feedback={"kind": "dynamodb"},
        registry={"kind": "s3", "s3": {"bucket": "prod-adapters"}},
    )
    loop = loop_settings(production, "http://127.0.0.1:9/v1")
    assert (loop.vector_store.kind, loop.feedback.kind, loop.registry.kind) == ("embedded", "sqlite", "local")
    assert loop.registry_dir == tmp_path / "data" / "loop-demo" / "adapters"


@pytest.mark.slow
def test_shortened_loop_publishes_the_adapter_that_then_answers(tmp_path, vllm_server, tiny_model_dir):
    """The gate runs at its default margin and passes on merit. The tiny random model cannot learn the
    facts, but from 16 users' answers and corrections it learns the answers' vocabulary: held-out
    similarity to the references rose from 0.032 to 0.072 when this was written (the base answers
    gibberish)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        loop=LoopSettings(
            limit=24,
            holdout_share=0.4,
            max_tokens=12,
            lora_r=8,
            lora_alpha=16,
            learning_rate=2e-2,
            epochs=20,
            batch_size=4,
        ),
    )
    assert settings.loop.min_similarity_gain == LoopSettings().min_similarity_gain  # the default gate
    settings.serve.max_lora_rank = 16
    echoed: list[str] = []
    loop = Loop(loop_settings(settings, vllm_server.base_url), tiny_model_dir, echo=echoed.append)
    result = loop.run()
    assert any("[8/8] report" in line for line in echoed)

    # the gate passed on merit: on held-out questions the candidate beats the base
    base, candidate = result.results["base"], result.results["adapter"]
    assert candidate["similarity"]["mean"] > base["similarity"]["mean"], result.gate_reasons
    assert candidate["judge"]["mean"] >= base["judge"]["mean"], result.gate_reasons
    # the published adapter is the one answering live
    assert result.published == "loop-sft-v1", result.gate_reasons
    assert result.live["answers"] >= 2 and result.live["answered_by_adapter"] == result.live["answers"]

    # the manifest in the registry carries the metrics the eval report shows
    registry_manifest = json.loads(
        (tmp_path / "data" / "loop-demo" / "adapters" / "loop-sft" / "v1" / "manifest.json").read_text()
    )
    report = json.loads((result.report_dir / "report.json").read_text())
    by_model = {row["model"]: row for row in report["summary"]}
    assert registry_manifest["metrics"]["eval"]["candidate"] == by_model["loop-sft"]
    assert registry_manifest["metrics"]["eval"]["baseline"] == by_model["base"]
    assert set(by_model) == {"base", "loop-sft", "langchain"}
    # training really happened and its lineage points at the simulated users' feedback
    assert registry_manifest["metrics"]["train_loss_last"] < registry_manifest["metrics"]["train_loss_first"]
    assert registry_manifest["feedback_ids"]
    assert (result.report_dir / "report.html").exists() and (result.report_dir / "similarity.png").exists()

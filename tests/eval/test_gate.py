"""The gate fails a worse candidate and passes a better one."""

from __future__ import annotations

from eval.gate import GateMargins, check


def result(similarity: float, judge: float | None = None, recall: float = 1.0) -> dict:
    return {
        "similarity": {"mean": similarity},
        "judge": {"mean": judge},
        "retrieval": {"recall_at_4": recall},
    }


def test_better_candidate_passes():
    gate = check(result(0.81, 4.1), result(0.64, 3.7), GateMargins(similarity=0.05, judge_mean=0.1))
    assert gate.passed, gate.reasons


def test_worse_candidate_fails_with_reasons():
    gate = check(result(0.60, 3.9), result(0.64, 3.7), GateMargins(similarity=0.0))
    assert not gate.passed and any("similarity 0.600 < baseline 0.640" in r for r in gate.reasons)
    gate = check(result(0.70, 3.0), result(0.64, 3.7))
    assert not gate.passed and any("judge mean 3.00 < baseline 3.70" in r for r in gate.reasons)


def test_margin_must_be_cleared_and_recall_may_not_fall():
    assert not check(result(0.66), result(0.64), GateMargins(similarity=0.05)).passed
    assert not check(result(0.9, recall=0.5), result(0.64, recall=0.9)).passed


def test_publish_refuses_when_the_gate_fails(tmp_path, monkeypatch, tiny_model_dir):
    import json

    from typer.testing import CliRunner

    from ragloop.cli import app
    from ragloop.serve import free_port
    from ragloop.settings import get_settings
    from ragloop.tiny_model import build_tiny_lora

    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGLOOP_LLM__BASE_URL", f"http://127.0.0.1:{free_port()}/v1")  # never reached
    get_settings.cache_clear()
    (tmp_path / "cand.json").write_text(json.dumps(result(0.60)))
    (tmp_path / "base.json").write_text(json.dumps(result(0.64)))
    adapter = build_tiny_lora(tiny_model_dir, tmp_path / "lora", name="gated")
    out = CliRunner().invoke(
        app,
        [
            "adapters",
            "publish",
            str(adapter),
            "--gate-candidate",
            str(tmp_path / "cand.json"),
            "--gate-baseline",
            str(tmp_path / "base.json"),
        ],
    )
    get_settings.cache_clear()
    assert (
        out.exit_code == 1
        and "the eval gate refused the adapter: similarity 0.600 < baseline 0.640" in out.output
    )
    assert not (tmp_path / "data" / "adapters" / "state.json").exists()

"""`ragloop eval run` end to end on the demo corpus with real vLLM, and `eval gate` on its output."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from core.settings import get_settings
from ragloop.cli import app


@pytest.mark.slow
def test_eval_run_writes_metrics_and_gate_reads_them(tmp_path, monkeypatch, vllm_server):
    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGLOOP_LLM__BASE_URL", vllm_server.base_url)
    monkeypatch.setenv("RAGLOOP_LLM__MAX_TOKENS", "12")
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", "--demo", "-q"]).exit_code == 0
    out = tmp_path / "base.json"
    result = runner.invoke(app, ["eval", "run", "--limit", "6", "-o", str(out)])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"metrics: {out}" in result.output  # where it was written, not the default place
    metrics = json.loads(out.read_text())
    assert metrics["n"] == 6 and metrics["model"] == "base"
    # retrieval is real (packaged MiniLM + hybrid search) and should find the right file and page
    assert metrics["retrieval"]["recall_at_4"] >= 0.8 and 0 < metrics["retrieval"]["mrr"] <= 1
    assert -1 <= metrics["similarity"]["mean"] <= 1 and metrics["latency_ms"]["p50"] > 0
    assert all(item["answer"] is not None for item in metrics["items"])

    # one command: base and the LangChain peer baseline in the same run, one table, one report
    report = tmp_path / "report"
    both = runner.invoke(
        app,
        ["eval", "run", "--model", "base", "--model", "langchain", "--limit", "6", "--report", str(report)],
    )
    get_settings.cache_clear()
    assert both.exit_code == 0, both.output
    assert "model" in both.output and "langchain" in both.output and "similarity" in both.output
    baseline = json.loads((tmp_path / "data" / "reports" / "eval-langchain.json").read_text())
    assert baseline["model"] == "langchain" and baseline["n"] == 6
    assert baseline["retrieval"]["recall_at_4"] > 0 and all(
        i["answer"] is not None for i in baseline["items"]
    )
    summary = json.loads((report / "report.json").read_text())["summary"]
    assert [s["model"] for s in summary] == ["base", "langchain"]
    assert (report / "similarity.png").exists() and (report / "report.html").exists()

    same = runner.invoke(app, ["eval", "gate", "--candidate", str(out), "--baseline", str(out)])
    assert same.exit_code == 0 and "gate: PASS" in same.output
    stricter = runner.invoke(
        app,
        ["eval", "gate", "--candidate", str(out), "--baseline", str(out), "--min-similarity-gain", "0.05"],
    )
    assert stricter.exit_code == 1 and "gate: FAIL" in stricter.output

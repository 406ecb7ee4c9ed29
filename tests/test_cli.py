"""CLI: help text, ingest summary and skipped-file report, and one-line errors instead of tracebacks."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from core.settings import get_settings
from ragloop.cli import app
from ragloop.serve import free_port


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGLOOP_LLM__BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("RAGLOOP_LLM__TIMEOUT_S", "5")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_help_lists_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("ingest", "ask", "ui"):
        assert command in result.output


def test_ingest_reports_summary_and_skipped_files(env, corpus):
    (corpus / "bad.txt").write_bytes("Café crème".encode("latin-1"))  # no BOM, not UTF-8
    result = run("ingest", str(corpus), "-q")
    assert result.exit_code == 0, result.output
    assert "4 added" in result.output and "1 failed" in result.output
    assert "bad.txt: not valid UTF-8" in result.output
    again = run("ingest", str(corpus), "-q")
    assert "4 unchanged" in again.output


def test_ingest_without_paths_is_a_usage_error(env):
    result = run("ingest")
    assert result.exit_code == 1
    assert "give files or folders to ingest" in result.output


def test_ask_before_ingest_says_the_corpus_is_empty(env):
    result = run("ask", "How long does charging take?")
    assert result.exit_code == 1
    assert "error: no documents are indexed yet" in result.output
    assert "Traceback" not in result.output


def test_loop_on_a_missing_corpus_or_eval_set_names_it_before_starting_anything(env, tmp_path):
    result = run("loop", "--corpus", str(tmp_path / "my-docs"), "--llm-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 2 and "no such file or folder" in result.output and "my-docs" in result.output
    result = run("loop", "--eval-set", str(tmp_path / "q.jsonl"), "--llm-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 2 and "q.jsonl" in result.output and "Traceback" not in result.output


def test_loop_options_land_in_the_loop_settings_and_a_bad_value_is_named(env):
    """``--drafter``, ``--drafting-style``, ``--synthetic-chunks`` and ``--seed`` reach ``[loop]`` (the
    other synthetic settings kept); options left out keep the settings; an unknown RLAIF route or
    drafting style is a usage error."""
    import typer

    from ragloop.cli.loop import with_loop_options

    settings = get_settings()
    assert with_loop_options(settings) is settings
    laid = with_loop_options(
        settings,
        drafter="qwen2.5-coder-1.5b-instruct",
        synthetic_chunks=40,
        seed=2,
        stages="sft, rlaif",
        drafting_style="free",
    )
    assert laid.loop.synthetic.drafter == "qwen2.5-coder-1.5b-instruct"
    assert laid.loop.synthetic.style == "free" != settings.loop.synthetic.style
    assert laid.loop.synthetic.chunks == 40 and laid.loop.seed == 2 and laid.loop.stages == ["sft", "rlaif"]
    assert laid.loop.synthetic.minutes == settings.loop.synthetic.minutes
    assert settings.loop.synthetic.drafter != laid.loop.synthetic.drafter  # a copy, not the cached settings
    with pytest.raises(typer.BadParameter, match="ppo"):
        with_loop_options(settings, rlaif_method="sgd")
    with pytest.raises(typer.BadParameter, match="extractive"):
        with_loop_options(settings, drafting_style="abstractive")


def test_ask_empty_question(env):
    result = run("ask", "   ")
    assert result.exit_code == 1
    assert "the question is empty" in result.output


def test_ask_with_unreachable_llm(env, corpus):
    run("ingest", str(corpus), "-q")
    result = run("ask", "How long does charging take?")
    assert result.exit_code == 1
    assert "is unreachable" in result.output and "Traceback" not in result.output


def test_ask_a_question_the_documents_do_not_answer(env, corpus):
    run("ingest", str(corpus), "-q")
    result = run("ask", "Can I ride the bike in heavy rain, and what should I do afterwards?")
    assert result.exit_code == 0, result.output  # the model (unreachable here) is never asked
    assert "Your documents don't say." in result.output and "closest topics" in result.output
    assert "Sources:" not in result.output


def test_adapters_list_reads_the_configured_s3_registry(env, s3_registry_env):
    s3_registry_env("support", weight=0.25)

    result = run("adapters", "list")  # the LLM server is down: listing still works
    assert result.exit_code == 0, result.output
    assert f"registry: s3://{s3_registry_env.bucket}/ragloop/adapters" in result.output
    assert "support" in result.output and "support-v1" in result.output and "0.25" in result.output


def test_s3_registry_without_a_bucket_is_a_one_line_error(env, monkeypatch):
    monkeypatch.setenv("RAGLOOP_REGISTRY__KIND", "s3")
    get_settings.cache_clear()
    result = run("adapters", "list")
    assert result.exit_code != 0 and "no bucket is set" in result.output
    assert "Traceback" not in result.output


def test_installed_console_script_finds_every_package(tmp_path):
    """The `ragloop` script, run outside the repository, imports every stage (packaging regression:
    `serving` was once left out of the installed packages)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    script = shutil.which("ragloop", path=str(Path(sys.executable).parent))
    assert script, "the ragloop console script is not installed in this environment"
    code = "import rag, feedback, training, eval, serving, ragloop.loop, ragloop.ui.resources"
    python = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert python.returncode == 0, python.stderr
    listed = subprocess.run(
        [script, "adapters", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "RAGLOOP_DATA_DIR": str(tmp_path / "data")},
    )
    assert listed.returncode == 0 and "no adapters published yet" in listed.stdout, listed.stderr

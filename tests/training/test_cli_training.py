"""`ragloop train` and `ragloop judge` from the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from core.manifest import AdapterManifest
from ragloop.cli import app


def test_train_with_too_little_data_says_so(export_file, tmp_path, tiny_model_dir):
    small = tmp_path / "small.jsonl"
    small.write_text(export_file.read_text().splitlines()[0] + "\n")
    result = CliRunner().invoke(
        app,
        [
            "train",
            "dpo",
            "--export",
            str(small),
            "--base-model",
            str(tiny_model_dir),
            "--output",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 1
    assert "dpo needs at least 4 usable rows; the export gives 0" in result.output


def test_train_unknown_method(tmp_path):
    result = CliRunner().invoke(app, ["train", "grpo", "--export", "x", "--output", str(tmp_path)])
    assert result.exit_code == 1 and "unknown method 'grpo'" in result.output


@pytest.mark.slow
def test_train_sft_from_the_command_line_with_a_config_file(export_file, tiny_model_dir, tmp_path):
    config = tmp_path / "job.yaml"
    config.write_text(
        f"export_path: {export_file}\nbase_model: {tiny_model_dir}\noutput_dir: {tmp_path / 'sft'}\n"
        "name: cli-sft\nlora_r: 4\nlora_alpha: 8\nmax_steps: 3\nmax_length: 256\n"
        "target_modules: [q_proj, v_proj]\n"
    )
    result = CliRunner().invoke(app, ["train", "sft", "--config", str(config), "--no-ground-corrections"])
    assert result.exit_code == 0, result.output
    assert "adapter written to" in result.output
    assert AdapterManifest.read(tmp_path / "sft").name == "cli-sft"


@pytest.mark.slow
def test_judge_against_real_vllm_reports_unusable_replies_and_scores_nothing(
    vllm_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "data"))
    from core.settings import get_settings

    get_settings.cache_clear()
    items = tmp_path / "items.jsonl"
    items.write_text(
        json.dumps({"id": "q1", "question": "How long?", "reference": "5 hours", "answer": "2 days"}) + "\n"
    )
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(
        app, ["judge", "--input", str(items), "--output", str(out), "--base-url", vllm_server.base_url]
    )
    get_settings.cache_clear()
    # The tiny random model cannot follow the format: the item is reported, never scored 0.
    assert result.exit_code == 1
    assert "scored 0, failed 1" in result.output and "not scored q1" in result.output
    assert out.read_text() == ""


def test_train_refuses_an_unknown_ai_scores_mode(export_file, tmp_path):
    result = CliRunner().invoke(
        app, ["train", "sft", "--export", str(export_file), "--output", str(tmp_path), "--ai-scores", "most"]
    )
    assert result.exit_code == 1 and "--ai-scores is off, approved or all, not 'most'" in result.output


@pytest.mark.slow
def test_train_sft_on_reviewer_approved_ai_scores_records_them_in_the_manifest(tiny_model_dir, tmp_path):
    from tests.training.conftest import write_ai_export

    export = write_ai_export(tmp_path / "ai.jsonl")
    args = ["train", "sft", "--export", str(export), "--base-model", str(tiny_model_dir)]
    args += ["--output", str(tmp_path / "sft"), "--ai-scores", "approved", "--name", "ai-sft"]
    args += ["--no-ground-corrections"]  # its prompts are made up; grounding has its own test
    job = tmp_path / "job.yaml"
    job.write_text("lora_r: 4\nlora_alpha: 8\nmax_steps: 2\nmax_length: 256\nmin_rows: 3\n")
    result = CliRunner().invoke(app, [*args, "--config", str(job)])
    assert result.exit_code == 0, result.output
    manifest = AdapterManifest.read(tmp_path / "sft")
    approved_good = [
        json.loads(line)["feedback_id"]
        for line in export.read_text().splitlines()
        if json.loads(line)["review_state"] == "approved" and json.loads(line)["ai_score"] >= 4
    ]
    assert manifest.ai_score_rows["mode"] == "approved" and manifest.ai_score_rows["rows"] == 3
    assert manifest.ai_score_rows["feedback_ids"] == sorted(approved_good)
    assert manifest.ai_score_rows["judges"][0]["model"] == "reference-overlap-v1"
    assert manifest.metrics["data"]["by_source"]["ai_score"] == 3
    assert manifest.approved_by == ["expert"]


def test_corrections_only_is_an_sft_option(export_file, tmp_path):
    result = CliRunner().invoke(
        app, ["train", "dpo", "--export", str(export_file), "--output", str(tmp_path), "--corrections-only"]
    )
    assert result.exit_code == 1 and "--corrections-only is an sft option" in result.output


def test_train_sft_checks_each_correction_against_its_sources_before_training(
    corpus, tmp_path, monkeypatch, tiny_model_dir
):
    """The app's path grounds corrections as the loop does: of four approved corrections, the two the
    demo corpus carries stay, the two it does not are left out (and, with --no-ground-corrections,
    all four would train). ``min_rows`` 5 stops both runs before any training starts."""
    from core.settings import get_settings
    from feedback.export import export_records
    from feedback.schema import FeedbackRecord
    from rag.chain import build_prompt
    from rag.service import build_chain

    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        assert CliRunner().invoke(app, ["ingest", str(corpus), "-q"]).exit_code == 0
        chain = build_chain(get_settings())
        corrections = [
            ("How big is the Trail 500 battery?", "It is a removable 500 Wh battery."),
            ("How powerful is the Trail 500 motor?", "It has a 250 W mid-drive motor."),
            ("How big is the Trail 500 battery?", "Every bike ships with a unicorn saddle, code 7731."),
            ("How powerful is the Trail 500 motor?", "The motor was designed on the Moon by a team of owls."),
        ]
        records = [
            FeedbackRecord(
                session_id=f"s{i}",
                turn=0,
                question=q,
                answer="I do not know.",
                model="base",
                trace={"prompt": build_prompt(q, chain.retrieve(q))},
                rating=1,
                correction=fix,
                review_state="approved",
                reviewer="expert",
            )
            for i, (q, fix) in enumerate(corrections)
        ]
        export = tmp_path / "feedback.jsonl"
        export_records(records, export, "jsonl")
        job = tmp_path / "job.yaml"
        job.write_text(f"base_model: {tiny_model_dir}\noutput_dir: {tmp_path / 'sft'}\nmin_rows: 5\n")
        args = ["train", "sft", "--config", str(job), "--export", str(export), "--corrections-only"]

        grounded = CliRunner().invoke(app, args)
        unchecked = CliRunner().invoke(app, [*args, "--no-ground-corrections"])
    finally:
        get_settings.cache_clear()
    assert "4 corrections: 2 carried by their sources, 0 re-sourced" in grounded.output
    assert "2 left out as unsupported" in grounded.output
    assert grounded.exit_code == 1 and "the export gives 2" in grounded.output, grounded.output
    assert unchecked.exit_code == 1 and "the export gives 4" in unchecked.output, unchecked.output
    assert (tmp_path / "feedback-grounded.jsonl").exists()

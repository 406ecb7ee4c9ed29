"""Settings: defaults need no server; env vars and a TOML file override them."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings


def test_defaults_are_embedded_and_use_the_packaged_embedding_model():
    s = Settings()
    assert s.vector_store.kind == "embedded"
    assert (Path(s.embedding.model) / "config.json").is_file()


def test_env_overrides_nested_fields(monkeypatch):
    monkeypatch.setenv("RAGLOOP_VECTOR_STORE__KIND", "opensearch")
    monkeypatch.setenv("RAGLOOP_VECTOR_STORE__OPENSEARCH__URL", "https://search.example:9200")
    monkeypatch.setenv("RAGLOOP_RETRIEVAL__TOP_K", "7")
    s = Settings()
    assert s.vector_store.kind == "opensearch"
    assert s.vector_store.opensearch.url == "https://search.example:9200"
    assert s.retrieval.top_k == 7


def test_toml_file_is_read_and_env_wins(tmp_path, monkeypatch):
    config = tmp_path / "ragloop.toml"
    config.write_text('data_dir = "/srv/ragloop"\n[llm]\nbase_url = "http://gpu:8000/v1"\nmax_tokens = 99\n')
    monkeypatch.setenv("RAGLOOP_CONFIG", str(config))
    monkeypatch.setenv("RAGLOOP_LLM__MAX_TOKENS", "50")
    s = Settings()
    assert s.data_dir == Path("/srv/ragloop")
    assert s.llm.base_url == "http://gpu:8000/v1"
    assert s.llm.max_tokens == 50


def test_secrets_are_not_printed():
    s = Settings(llm={"api_key": "sk-very-secret"})
    assert "sk-very-secret" not in repr(s) and "sk-very-secret" not in str(s.model_dump())


def test_the_loop_computes_an_sft_step_in_micro_batches_of_its_rows():
    """``loop.batch_size`` rows make one optimizer step whatever the micro-batch; the rest is accumulated,
    and a batch size the micro-batch does not divide is refused with a message."""
    import pytest
    from pydantic import ValidationError

    step = Settings(loop={"batch_size": 4, "micro_batch": 2}).loop.sft_step()
    assert step == {"batch_size": 2, "gradient_accumulation": 2, "gradient_checkpointing": False}
    with pytest.raises(ValidationError, match=r"multiple of loop\.micro_batch"):
        Settings(loop={"batch_size": 4, "micro_batch": 3})


def test_the_loop_and_its_benchmark_build_one_sft_job_from_the_settings(tmp_path):
    """``loop.sft_job()`` is the one place the loop's settings become SFT job fields (the loop and
    ``benchmarks.sft_choices`` both take it); every field it names is a real job field."""
    from training.config import SFTJob

    fields = Settings(loop={"lr_schedule": "constant", "validation_share": 0.0}).loop.sft_job()
    job = SFTJob(export_path="x.jsonl", base_model="m", output_dir=str(tmp_path), **fields)
    assert job.lr_scheduler == "constant" and job.eval_before is False
    assert job.early_stopping_patience is None  # nothing to stop on without validation rows

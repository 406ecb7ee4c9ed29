"""Export: JSONL and Parquet carry every record with schema_version; the JSON Schema in docs/ matches."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from core.settings import Settings, get_settings
from feedback.export import export_records, json_schema, read_jsonl
from feedback.service import build_writer
from ragloop.cli import app
from tests.conftest import REPO
from tests.feedback.conftest import make_record


def test_jsonl_round_trips(tmp_path):
    records = [make_record(rating=4), make_record(turn=1, correction="fixed", rating=1)]
    path = tmp_path / "out.jsonl"
    assert export_records(records, path, "jsonl") == 2
    assert read_jsonl(path) == records
    first = json.loads(path.read_text().splitlines()[0])
    assert first["schema_version"] == 1 and first["trace"]["prompt_template_version"] == "rag-v1"


def test_parquet_has_one_row_per_record(tmp_path):
    scored = {"ai_score": 3.5, "ai_reason": "partly", "ai_judge": {"model": "j", "basis": "sources"}}
    records = [make_record(rating=5, **scored), make_record(turn=1)]
    path = tmp_path / "out.parquet"
    export_records(records, path, "parquet")
    table = pq.read_table(path).to_pylist()
    assert [r["feedback_id"] for r in table] == [r.feedback_id for r in records]
    assert table[0]["rating"] == 5 and table[1]["rating"] is None
    assert json.loads(table[0]["trace"])["chunk_ids"] == ["c1"]
    assert table[0]["ai_score"] == 3.5 and json.loads(table[0]["ai_judge"])["basis"] == "sources"


def test_committed_json_schema_is_current():
    committed = json.loads((REPO / "docs" / "feedback-record.schema.json").read_text())
    assert committed == json_schema(), (
        "regenerate with `ragloop feedback schema > docs/feedback-record.schema.json`"
    )


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield Settings(data_dir=tmp_path / "data")
    get_settings.cache_clear()


def test_cli_export_filters_by_time_and_stats_counts(cli_env, tmp_path):
    writer = build_writer(cli_env)
    writer.save(make_record(updated_at="2026-01-05T00:00:00+00:00", rating=1))
    writer.save(make_record(turn=1, updated_at="2026-02-05T00:00:00+00:00", rating=5))
    writer.save(make_record(turn=2, updated_at="2026-02-06T00:00:00+00:00"))
    out = tmp_path / "since.jsonl"
    result = CliRunner().invoke(app, ["feedback", "export", "--since", "2026-02-01", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "exported 2 records" in result.output
    assert [r.turn for r in read_jsonl(out)] == [1, 2]
    rated = CliRunner().invoke(app, ["feedback", "export", "--rated-only", "-o", str(out)])
    assert "exported 2 records" in rated.output
    stats = CliRunner().invoke(app, ["feedback", "stats"])
    assert "answers: 3   rated: 2" in stats.output and "negative (<= 2): 50.0%" in stats.output


def test_cli_rejects_a_bad_date_and_format(cli_env, tmp_path):
    bad = CliRunner().invoke(app, ["feedback", "export", "--since", "last week", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "'last week' is not a date or time" in bad.output
    fmt = CliRunner().invoke(app, ["feedback", "export", "--format", "csv", "-o", str(tmp_path / "x")])
    assert fmt.exit_code == 1 and "--format must be jsonl or parquet" in fmt.output

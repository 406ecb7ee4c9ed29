"""Training data from an export: SFT rows, preference pairs, KTO rows; dedup, stable split, clear errors."""

from __future__ import annotations

import json

import pytest

from training.data import BadExport, InsufficientData, build, read_export, split


def test_sft_rows_are_corrections_and_well_rated_answers(export_file):
    rows = read_export(export_file)
    data = build("sft", rows, validation_share=0.0)
    # per fact the good answer and the approved correction are the same text: deduplicated to one row
    assert data.stats["rows"] == 6
    first = data.train[0]
    assert first["prompt"][0]["role"] == "user" and first["prompt"][0]["content"].startswith("Sources:")
    assert first["completion"][0]["role"] == "assistant"
    assert len(first["feedback_ids"]) == 2  # lineage keeps both records


def test_preference_pairs_from_corrections_and_ratings(export_file):
    data = build("dpo", read_export(export_file), validation_share=0.0)
    assert data.stats["by_source"]["correction"] == 6
    # per question 5>1, 5>2 and 2>1 by rating; 5>2 is the same pair as the correction and dedupes into it
    assert data.stats["by_source"]["rating"] == 6 * 2
    assert data.stats["rows"] == 6 * 3
    for row in data.train:
        assert row["chosen"] != row["rejected"]


def test_kto_rows_label_good_and_bad(export_file):
    data = build("kto", read_export(export_file), validation_share=0.0)
    assert data.stats["desirable"] == 6 and data.stats["undesirable"] == 12


def test_split_is_stable_and_disjoint(export_file):
    data = build("dpo", read_export(export_file), validation_share=0.3)
    again = build("dpo", read_export(export_file), validation_share=0.3)
    assert data.train == again.train and data.validation == again.validation
    assert data.validation and not {json.dumps(r) for r in data.train} & {
        json.dumps(r) for r in data.validation
    }
    train, val = split(data.train + data.validation, 0.3)
    assert len(train) + len(val) == data.stats["rows"]


def test_too_little_data_is_a_clear_error(export_file, tmp_path):
    small = tmp_path / "small.jsonl"
    small.write_text(export_file.read_text().splitlines()[0] + "\n")
    with pytest.raises(InsufficientData, match="sft needs at least 4 usable rows; the export gives 1"):
        build("sft", read_export(small))


def test_unknown_schema_version_is_refused(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"schema_version": 99}) + "\n")
    with pytest.raises(BadExport, match="schema_version 99"):
        read_export(bad)


def test_rows_carry_the_system_message_the_model_saw(tmp_path):
    from feedback.export import export_records
    from feedback.schema import FeedbackRecord

    trace = {"system": "Answer from the sources.", "prompt": "Sources:\n[1] manual\n\nQuestion: Why?"}
    record = FeedbackRecord(
        session_id="s", turn=0, question="Why?", answer="Because [1].", model="base", trace=trace, rating=5
    )
    path = tmp_path / "export.jsonl"
    export_records([record], path, "jsonl")
    [row] = build("sft", read_export(path), validation_share=0.0, min_rows=1).train
    assert row["prompt"] == [
        {"role": "system", "content": "Answer from the sources."},
        {"role": "user", "content": "Sources:\n[1] manual\n\nQuestion: Why?"},
    ]

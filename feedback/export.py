"""Export the feedback log as the training stage's input: JSONL (one record per line) or Parquet.

Each row is a ``FeedbackRecord`` as JSON (nested ``trace``, ``citations`` and ``ai_judge`` kept as JSON
objects in JSONL, as JSON strings in Parquet) with ``schema_version``. ``docs/feedback-record.schema.json`` is
the JSON Schema of a row; training validates against it and never imports this package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from feedback.protocols import FeedbackQuery, FeedbackStore
from feedback.schema import FeedbackRecord

NESTED = ("citations", "trace", "ai_judge")


def export_records(records: Iterable[FeedbackRecord], path: Path, fmt: Literal["jsonl", "parquet"]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [r.to_row() for r in records]
    if fmt == "jsonl":
        tmp = path.with_suffix(path.suffix + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        tmp.replace(path)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        flat = [{**row, **{k: json.dumps(row[k], ensure_ascii=False) for k in NESTED}} for row in rows]
        schema = pa.schema([(name, _arrow_type(name)) for name in FeedbackRecord.model_fields])
        pq.write_table(pa.Table.from_pylist(flat, schema=schema), path)
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return len(rows)


def export_store(
    store: FeedbackStore, path: Path, fmt: Literal["jsonl", "parquet"], query: FeedbackQuery | None = None
) -> int:
    return export_records(store.list(query), path, fmt)


def read_jsonl(path: Path) -> list[FeedbackRecord]:
    with path.open(encoding="utf-8") as fh:
        return [FeedbackRecord.model_validate_json(line) for line in fh if line.strip()]


def _arrow_type(name: str):
    import pyarrow as pa

    if name in ("turn", "rating", "schema_version"):
        return pa.int64()
    if name == "ai_score":
        return pa.float64()
    return pa.string()


def json_schema() -> dict:
    return FeedbackRecord.model_json_schema()

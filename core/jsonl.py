"""Rows as JSON Lines: the file format every stage hands the next (feedback exports, drafted and
round-tripped rows, judge scores, embedder pairs). One reader and one writer, so every stage skips blank
lines, writes UTF-8 without escaping, and creates the folder it writes into."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Every non-blank line of ``path`` as one JSON object, in order."""
    text = Path(path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_rows(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """``rows`` to ``path``, one JSON object per line (parents created, UTF-8); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path

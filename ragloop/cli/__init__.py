"""``ragloop`` command line: the thin front door to every stage of the loop, one module per command group.

Commands parse arguments, call the library and turn user-facing errors into one clear line on stderr
and exit status 1 — never a stack trace for a problem the user can fix.

    ragloop ingest docs/ manual.pdf     index files and folders (incremental)
    ragloop ingest --demo               index the bundled demo corpus
    ragloop ask "How long does charging take?"
    ragloop ui                          start the Streamlit app
    ragloop feedback export --since 2026-01-01 --format jsonl -o feedback.jsonl
    ragloop feedback stats | sync | schema
"""

from __future__ import annotations

from ragloop.cli import adapters, documents, eval, feedback, loop, reviewed, serve, train, web  # noqa: F401
from ragloop.cli.root import app

__all__ = ["app", "main"]


def main() -> None:
    app()

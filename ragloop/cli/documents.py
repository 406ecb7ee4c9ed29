"""``ragloop ingest`` and ``ragloop ask``: index documents, answer from them (the rag stage)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import RagloopError
from core.settings import DEMO_CORPUS, get_settings
from ragloop.cli.root import app
from ragloop.cli.support import user_errors


@app.command()
@user_errors
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders to index")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="index the bundled demo corpus")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    reindex: Annotated[
        bool,
        typer.Option("--reindex", help="re-chunk and re-embed every indexed file (after a config change)"),
    ] = False,
) -> None:
    """Index PDF, Markdown, HTML and text files. Unchanged files are skipped, changed ones replaced."""
    from rag.service import build_ingestor

    targets = list(paths or []) + ([DEMO_CORPUS] if demo else [])
    if not targets and not reindex:
        raise RagloopError("give files or folders to ingest, or --demo")
    report = build_ingestor(get_settings()).ingest(targets, progress=not quiet, reindex=reindex)
    typer.echo(report.summary())
    for path, reason in report.failed.items():
        typer.secho(f"skipped {path}: {reason}", fg=typer.colors.YELLOW, err=True)


@app.command()
@user_errors
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    adapter: Annotated[str | None, typer.Option(help="LoRA adapter name served by vLLM")] = None,
) -> None:
    """Answer a question from the indexed documents, streaming the answer and listing its sources."""
    from rag.service import build_chain

    stream = build_chain(get_settings()).stream(question, adapter=adapter)
    for token in stream:
        sys.stdout.write(token)
        sys.stdout.flush()
    answer = stream.result()
    typer.echo("\n")
    if answer.trace.silent == "model" or answer.trace.repaired_heading:  # the final text replaces the stream
        typer.echo(answer.text + "\n")
    cited = answer.cited or answer.citations
    if cited:
        typer.echo("Sources:")
    for c in cited:
        page = f", page {c.page}" if c.page else ""
        typer.echo(f"  [{c.number}] {Path(c.source).name}{page}")
    typer.echo(f"(model: {answer.trace.model}, {answer.trace.timings_ms['total']:.0f} ms)")

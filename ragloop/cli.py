"""``ragloop`` command line: the thin front door to every stage of the loop.

Commands parse arguments, call the library and turn user-facing errors into one clear line on stderr
and exit status 1 — never a stack trace for a problem the user can fix.

    ragloop ingest docs/ manual.pdf     index files and folders (incremental)
    ragloop ingest --demo               index the bundled demo corpus
    ragloop ask "How long does charging take?"
    ragloop ui                          start the Streamlit app
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from ragloop.errors import RagloopError
from ragloop.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_CORPUS = REPO_ROOT / "demo" / "corpus"

app = typer.Typer(
    name="ragloop",
    help="A RAG assistant that learns from its users' feedback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
log = logging.getLogger("ragloop")


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Print a ``RagloopError`` as one line and exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RagloopError as err:
            typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    level = logging.DEBUG if verbose else getattr(logging, get_settings().log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "sentence_transformers", "faiss", "urllib3", "opensearch"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@app.command()
@user_errors
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders to index")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="index the bundled demo corpus")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Index PDF, Markdown, HTML and text files. Unchanged files are skipped, changed ones replaced."""
    from rag.service import build_ingestor

    targets = list(paths or []) + ([DEMO_CORPUS] if demo else [])
    if not targets:
        raise RagloopError("give files or folders to ingest, or --demo")
    report = build_ingestor(get_settings()).ingest(targets, progress=not quiet)
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
    cited = answer.cited or answer.citations
    typer.echo("Sources:")
    for c in cited:
        page = f", page {c.page}" if c.page else ""
        typer.echo(f"  [{c.number}] {Path(c.source).name}{page}")
    typer.echo(f"(model: {answer.trace.model}, {answer.trace.timings_ms['total']:.0f} ms)")


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="port for the web app")] = 8501,
    headless: Annotated[bool, typer.Option(help="do not open a browser")] = True,
) -> None:
    """Start the Streamlit chat app."""
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.headless",
        str(headless).lower(),
        "--browser.gatherUsageStats",
        "false",
    ]
    raise typer.Exit(subprocess.call(cmd))


def main() -> None:
    app()


if __name__ == "__main__":
    main()

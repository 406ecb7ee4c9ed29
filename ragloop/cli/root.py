"""The ``ragloop`` Typer app every command group registers on, and its logging set-up."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from core.settings import get_settings

app = typer.Typer(
    name="ragloop",
    help="A RAG assistant that learns from its users' feedback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    level = logging.DEBUG if verbose else getattr(logging, get_settings().log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "sentence_transformers", "faiss", "urllib3", "opensearch", "bm25s"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))

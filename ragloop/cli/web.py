"""``ragloop ui`` and ``ragloop demo``: the Streamlit app, alone or with the demo corpus and vLLM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import RagloopError
from core.settings import DEMO_CORPUS, REPO_ROOT, get_settings
from ragloop.cli.root import app
from ragloop.cli.serve import vllm_server
from ragloop.cli.support import user_errors


@app.command()
@user_errors
def ui(
    port: Annotated[int, typer.Option(help="port for the web app")] = 8501,
    address: Annotated[
        str, typer.Option(help="interface to listen on; beyond 127.0.0.1 only with sign-in configured")
    ] = "127.0.0.1",
    headless: Annotated[bool, typer.Option(help="do not open a browser")] = True,
    dev: Annotated[
        bool, typer.Option(help="developer mode: reload on file changes, Streamlit's developer menu")
    ] = False,
) -> None:
    """Start the Streamlit chat app."""
    from ragloop.access import check_listen

    check_listen(address, sign_in_configured(Path.cwd()))
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "app.py"),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        str(headless).lower(),
        "--browser.gatherUsageStats",
        "false",
        *([] if dev else PRODUCT_FLAGS),
    ]
    raise typer.Exit(subprocess.call(cmd))


# An app run, not a development session: Streamlit's file watcher walks every imported module (hundreds of
# "Examining the path of transformers.models..." tracebacks for modules whose optional imports are
# missing) and watches the checkout (inotify overflows); the toolbar's Deploy button and developer menu
# are for developers.
PRODUCT_FLAGS = [
    "--server.fileWatcherType",
    "none",
    "--server.runOnSave",
    "false",
    "--client.toolbarMode",
    "minimal",  # no Deploy button and no main menu (nothing set externally)
]


def sign_in_configured(cwd: Path) -> bool:
    """Whether Streamlit will find an ``[auth]`` section in a secrets file (the project's
    ``.streamlit/secrets.toml`` or the user's ``~/.streamlit/secrets.toml``)."""
    import tomllib

    for path in (cwd / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"):
        if path.is_file():
            try:
                if "auth" in tomllib.loads(path.read_text()):
                    return True
            except tomllib.TOMLDecodeError as err:
                raise RagloopError(f"{path} is not valid TOML: {err}") from err
    return False


@app.command()
@user_errors
def demo(port: Annotated[int, typer.Option(help="port for the web app")] = 8501) -> None:
    """Index the demo corpus, start vLLM with the default model unless one answers, open the app."""
    from contextlib import nullcontext

    from rag.service import build_ingestor
    from ragloop.processes import exit_on_sigterm
    from ragloop.serve import is_healthy

    settings = get_settings()
    report = build_ingestor(settings).ingest([DEMO_CORPUS], rebuild_if_changed=True)  # the demo's own index
    if report.reindexed:
        typer.echo(f"re-indexed the demo data: {report.reindexed}")
    typer.echo(f"demo corpus: {report.summary()}")
    llm_url = settings.llm.base_url.removesuffix("/v1")
    server = nullcontext() if is_healthy(llm_url) else vllm_server(settings)
    if not is_healthy(llm_url):
        typer.echo("starting vLLM with the default model (first start takes a few minutes)…")
    with exit_on_sigterm(), server:  # a SIGTERM stops the app and the vLLM started here, too
        typer.echo(f"open http://localhost:{port}")
        ui(port=port, headless=True)

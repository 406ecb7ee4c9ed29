"""``ragloop model prepare`` and ``ragloop serve llm``: the base model and the vLLM server."""

from __future__ import annotations

import typer

from core.settings import get_settings
from ragloop.cli.adapters import publisher
from ragloop.cli.root import app
from ragloop.cli.support import user_errors

model_app = typer.Typer(help="The base model.", no_args_is_help=True)
serve_app = typer.Typer(help="Serving: run vLLM.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(serve_app, name="serve")


@model_app.command("prepare")
@user_errors
def model_prepare() -> None:
    """Convert the packaged Qwen2.5-Coder-0.5B-Instruct GGUF into a model dir vLLM and PEFT can load."""
    from ragloop.models import prepare_default_model

    typer.echo(prepare_default_model(get_settings().default_model_dir))


def vllm_server(settings):
    """A VLLMServer (context manager) for the configured model, or the prepared default model."""
    from ragloop.models import prepare_default_model
    from ragloop.serve import VLLMServer

    cfg = settings.serve
    model = cfg.model_dir or prepare_default_model(settings.default_model_dir)
    return VLLMServer(
        model,
        served_name=settings.served_model_name,
        host=cfg.host,
        port=cfg.port,
        max_model_len=cfg.max_model_len,
        dtype=cfg.dtype,
        max_lora_rank=cfg.max_lora_rank,
        max_loras=cfg.max_loras,
        kv_cache_gib=cfg.kv_cache_gib,
        cpu_bind=cfg.cpu_bind,
        log_file=settings.data_dir / "logs" / "vllm.log",
    )


def reload_adapters(base_url: str) -> None:
    """Load the registry's live adapters into a freshly started server."""
    loaded = publisher(base_url=base_url).reload_live()
    if loaded:
        typer.echo(f"re-loaded live adapters: {', '.join(loaded)}")


@serve_app.command("llm")
@user_errors
def serve_llm() -> None:
    """Start vLLM's OpenAI-compatible server with runtime LoRA loading; Ctrl-C or SIGTERM stops it."""
    import time

    from ragloop.processes import exit_on_sigterm

    settings = get_settings()
    with exit_on_sigterm(), vllm_server(settings) as server:  # `kill` stops vLLM too, not only this command
        typer.echo(f"vLLM serving {settings.served_model_name} at {server.base_url} (log: {server.log_file})")
        reload_adapters(server.base_url)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            typer.echo("stopping vLLM")

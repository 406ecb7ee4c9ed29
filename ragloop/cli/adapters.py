"""``ragloop adapters ...``: publish, promote, roll back, retire and re-load LoRA adapters in vLLM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import RagloopError
from core.settings import get_settings
from ragloop.cli.root import app
from ragloop.cli.support import user_errors

adapters_app = typer.Typer(
    help="LoRA adapters: publish into the running vLLM without a restart.", no_args_is_help=True
)
app.add_typer(adapters_app, name="adapters")


def publisher(gate=None, base_url: str | None = None):
    """The registry and the vLLM server (``base_url``, default: the configured LLM) as one Publisher."""
    from serving.publish import Publisher
    from serving.registry import open_registry
    from serving.vllm_admin import VLLMAdmin

    settings = get_settings()
    admin = VLLMAdmin(base_url or settings.llm.base_url, settings.llm.api_key.get_secret_value())
    return Publisher(open_registry(settings), admin, max_rank=settings.serve.max_lora_rank, gate=gate)


def eval_gate_check(candidate: Path, baseline: Path, min_similarity_gain: float = 0.0):
    """A publish gate from two `ragloop eval run` outputs: refuses unless the candidate is better."""
    import json

    from eval.gate import GateMargins, check
    from serving.publish import PublishError

    def gate(_adapter_dir: Path) -> None:
        result = check(
            json.loads(candidate.read_text()),
            json.loads(baseline.read_text()),
            GateMargins(similarity=min_similarity_gain),
        )
        if not result.passed:
            raise PublishError("the eval gate refused the adapter: " + "; ".join(result.reasons))

    return gate


@adapters_app.command("list")
@user_errors
def adapters_list() -> None:
    """Adapters in the registry: versions, the live one, traffic weight, and whether vLLM has it loaded."""
    from serving.registry import served_name

    pub = publisher()
    state = pub.registry.state()
    try:
        loaded = pub.admin.served_adapters()
    except RagloopError:
        loaded = set()
    typer.echo(f"registry: {pub.registry.location}")
    if not state.adapters:
        typer.echo("no adapters published yet")
    for name, entry in sorted(state.adapters.items()):
        live = served_name(name, entry.live) if entry.live else "-"
        flags = [f for f, on in (("promoted", entry.promoted), ("retired", entry.retired)) if on]
        typer.echo(
            f"{name:20} versions {entry.versions}  live {live:24} weight {entry.weight:.2f}  "
            f"{'loaded' if live in loaded else 'not loaded'}  {' '.join(flags)}"
        )


@adapters_app.command("publish")
@user_errors
def adapters_publish(
    adapter_dir: Annotated[Path, typer.Argument(help="PEFT adapter dir with manifest.json")],
    name: Annotated[str | None, typer.Option(help="registry name (default: the manifest's)")] = None,
    weight: Annotated[float, typer.Option(help="share of chat sessions routed to it, 0-1")] = 1.0,
    gate_candidate: Annotated[
        Path | None, typer.Option(help="eval metrics of this adapter (requires gate)")
    ] = None,
    gate_baseline: Annotated[Path | None, typer.Option(help="eval metrics of what serves now")] = None,
    min_similarity_gain: Annotated[float, typer.Option(help="gate: required similarity gain")] = 0.0,
) -> None:
    """Load into vLLM, verify, smoke-test, then route traffic to it. On failure nothing changes."""
    gate = None
    if gate_candidate or gate_baseline:
        if not (gate_candidate and gate_baseline):
            raise RagloopError("the gate needs both --gate-candidate and --gate-baseline")
        gate = eval_gate_check(gate_candidate, gate_baseline, min_similarity_gain)
    result = publisher(gate).publish(adapter_dir, name=name, weight=weight)
    typer.echo(f"published {result.name} v{result.version} as {result.served_name} in {result.seconds:.2f} s")


@adapters_app.command("promote")
@user_errors
def adapters_promote(name: str) -> None:
    """Route all traffic to the adapter and re-load it whenever the server restarts."""
    publisher().promote(name)
    typer.echo(f"promoted {name}")


@adapters_app.command("rollback")
@user_errors
def adapters_rollback(name: str) -> None:
    """Route the adapter's traffic back to its previous version (or to the base model)."""
    version = publisher().rollback(name)
    typer.echo(f"{name} now serves v{version}" if version else f"{name}'s traffic is back on the base model")


@adapters_app.command("retire")
@user_errors
def adapters_retire(name: str) -> None:
    """Stop routing to the adapter and unload it from the server."""
    publisher().retire(name)
    typer.echo(f"retired {name}")


@adapters_app.command("reload")
@user_errors
def adapters_reload(
    llm_url: Annotated[
        str | None, typer.Option(help="the vLLM server to load into (default: the configured LLM)")
    ] = None,
) -> None:
    """Load every live adapter from the registry into a server: after a restart, or onto another
    replica that shares the registry (an S3 registry is how replicas share it)."""
    typer.echo(", ".join(publisher(base_url=llm_url).reload_live()) or "nothing to load")

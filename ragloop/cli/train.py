"""``ragloop train``, ``ragloop judge`` and ``ragloop data synth``: training data and adapters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import RagloopError
from core.settings import get_settings
from ragloop.cli.root import app
from ragloop.cli.support import judge_from_options, user_errors


@app.command()
@user_errors
def train(
    method: Annotated[str, typer.Argument(help="sft | dpo | kto | rm | ppo | embedder")],
    config: Annotated[
        Path | None, typer.Option(help="job file (YAML or JSON), fields as in training/config.py")
    ] = None,
    preset: Annotated[str | None, typer.Option(help="named recipe, e.g. mistral7b-sft-reference")] = None,
    export: Annotated[str | None, typer.Option(help="feedback export (JSONL)")] = None,
    base_model: Annotated[
        str | None, typer.Option(help="base model dir (default: the prepared default)")
    ] = None,
    output: Annotated[str | None, typer.Option(help="adapter output dir")] = None,
    name: Annotated[str | None, typer.Option(help="adapter name")] = None,
    init_adapter: Annotated[
        str | None, typer.Option(help="continue this adapter (e.g. the SFT parent); it is the reference")
    ] = None,
    judge_scores: Annotated[
        str | None, typer.Option(help="`ragloop judge` output over the export's rows: judge-ranked pairs")
    ] = None,
    ai_scores: Annotated[
        str | None,
        typer.Option(
            help="also learn from AI-scored answers: approved (reviewer-approved only) | all | off (default)"
        ),
    ] = None,
    corrections_only: Annotated[
        bool,
        typer.Option("--corrections-only", help="sft: learn from approved corrections, not rated answers"),
    ] = False,
    ground_corrections: Annotated[
        bool,
        typer.Option(
            "--ground-corrections/--no-ground-corrections",
            help="sft: keep a correction only with sources that carry it (re-sourced or left out; "
            "ragloop.grounding)",
        ),
    ] = True,
    resume: Annotated[bool, typer.Option("--resume", help="continue from the last checkpoint")] = False,
    chunks: Annotated[
        int, typer.Option(min=0, help="embedder: chunks to draft a question from with the served model")
    ] = 200,
    publish: Annotated[
        bool, typer.Option("--publish", help="embedder: make it live and re-index the corpus with it")
    ] = False,
) -> None:
    """Train a LoRA adapter (or reward model) from a feedback export; writes the adapter + manifest.json.
    ``embedder`` fine-tunes the embedding model on the indexed corpus instead (see --chunks, --publish)."""
    from training.data import BadExport, InsufficientData
    from training.run import JOBS, make_job, run

    if method == "embedder":
        train_embedder(chunks, output, publish)
        return
    if method not in JOBS:
        raise RagloopError(f"unknown method {method!r}; one of {', '.join(sorted(JOBS))}")
    if corrections_only and method != "sft":
        raise RagloopError("--corrections-only is an sft option")
    if base_model is None and config is None:
        base_model = str(get_settings().default_model_dir)
    try:
        job = make_job(
            method,
            config,
            preset,
            export_path=export,
            base_model=base_model,
            output_dir=output,
            name=name,
            init_adapter=init_adapter,
            judge_scores_path=judge_scores,
            ai_scores=ai_scores,
            **({"rated_answers": False} if corrections_only else {}),
        )
        if job.ai_scores not in ("off", "approved", "all"):
            raise RagloopError(f"--ai-scores is off, approved or all, not {job.ai_scores!r}")
        if method == "sft" and ground_corrections:
            job = grounded_job(job)
        out, metrics = run(method, job, resume=resume)
    except (ValueError, FileNotFoundError) as err:
        if isinstance(err, BadExport | InsufficientData):
            raise
        raise RagloopError(str(err)) from err
    typer.echo(f"adapter written to {out}")
    for key, value in metrics.items():
        typer.echo(f"  {key}: {value}")


@app.command()
@user_errors
def judge(
    input: Annotated[Path, typer.Option("--input", help="JSONL of {id, question, reference, answer}")],
    output: Annotated[Path, typer.Option("--output", help="JSONL of scored items")],
    model: Annotated[str | None, typer.Option(help="judge model served at --base-url")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible chat judge (default: the configured judge)")
    ] = None,
    bedrock_model: Annotated[str | None, typer.Option(help="use Amazon Bedrock with this model id")] = None,
) -> None:
    """Score answers 0-5 against references with an AI judge (RLAIF); failures are listed, never scored 0."""
    from core.jsonl import read_rows, write_rows

    judge_ = judge_from_options(base_url, model, bedrock_model)
    scored, failed = judge_.score_many(read_rows(input))
    write_rows(scored, output)
    typer.echo(f"scored {len(scored)}, failed {len(failed)} -> {output}")
    for item in failed:
        typer.secho(f"  not scored {item.get('id', '?')}: {item['error']}", fg=typer.colors.YELLOW, err=True)
    if failed:
        raise typer.Exit(1)


def grounded_job(job):
    """The SFT job reading its export with every correction checked against its prompt's sources."""
    import dataclasses

    from ragloop.grounding import ground_export

    if not Path(job.export_path).exists():
        raise RagloopError(f"no feedback export at {job.export_path}; run `ragloop feedback export` first")
    grounded = ground_export(get_settings(), Path(job.export_path))
    if grounded is None:
        typer.secho(
            "no documents are indexed, so corrections are not checked against their sources "
            "(--no-ground-corrections to skip this step)",
            fg=typer.colors.YELLOW,
            err=True,
        )
        return job
    out, report = grounded
    typer.echo(f"grounding: {report.summary()} -> {out}")
    return dataclasses.replace(job, export_path=str(out))


def train_embedder(chunks: int, output: str | None, publish: bool) -> None:
    """Pairs from the corpus (drafted questions) and from users (answers rated >= 4 and the chunks they
    cite) -> a fine-tuned embedding model (-> published with a re-index)."""
    from core.jsonl import write_rows
    from feedback.service import get_feedback_store
    from rag.service import build_chain
    from ragloop.embedder import feedback_pairs, next_output, synthetic_pairs
    from ragloop.embedder import publish as publish_embedder
    from training.embedder import EmbedderJob, main

    settings = get_settings()
    chain = build_chain(settings)
    embedder, dim = chain.embedder, chain.embedder.dim
    pairs = synthetic_pairs(chain.store, dim, chain.llm, chunks) if chunks else []
    store = get_feedback_store(settings)
    pairs += feedback_pairs(list(store.list()), chain.store, dim)
    if len(pairs) < 8:
        raise RagloopError(f"only {len(pairs)} question-passage pairs; index more documents or draft more")
    out = Path(output) if output else next_output(settings)
    pairs_file = write_rows(pairs, out.with_name(out.name + "-pairs.jsonl"))
    manifest = main(EmbedderJob(pairs_file, embedder.model_name, out))
    typer.echo(f"embedder trained on {manifest['pairs']} pairs {manifest['pairs_by_source']} -> {out}")
    if publish:
        report = publish_embedder(settings, out)
        typer.echo(f"published {out.name}: {report.summary()}")


data_app = typer.Typer(help="Training data before users arrive.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("synth")
@user_errors
def data_synth(
    count: Annotated[int, typer.Option(help="chunks to draft from")] = 50,
    workers: Annotated[int, typer.Option(min=1, help="drafts requested at once (vLLM batches them)")] = 4,
    minutes: Annotated[
        float | None, typer.Option(min=0.01, help="stop starting drafts after this many minutes")
    ] = None,
    style: Annotated[
        str | None,
        typer.Option(
            help="free (the model writes question and answer) or extractive (a sentence of the chunk is "
            "the answer, the model writes its question); default: loop.synthetic.style"
        ),
    ] = None,
) -> None:
    """Draft question/answer pairs from the indexed corpus with the LLM, for approval in the Review page."""
    from drafting.drafts import STYLES
    from feedback.service import build_writer
    from rag.service import build_chain
    from ragloop.synth import synthesize

    settings = get_settings()
    style = style or settings.loop.synthetic.style
    if style not in STYLES:
        raise typer.BadParameter(f"use one of {', '.join(STYLES)}", param_hint="--style")
    chain = build_chain(settings)
    report = synthesize(
        chain.store,
        chain.embedder.dim,
        chain.llm,
        build_writer(settings),
        count,
        workers=workers,
        max_minutes=minutes,
        style=style,
    )
    typer.echo(f"drafted {report.drafted} pairs for review ({report.unusable} replies unusable)")

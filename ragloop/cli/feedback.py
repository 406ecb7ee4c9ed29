"""``ragloop feedback ...``: the feedback log's commands — export for training, stats, spool sync, the
export schema, and AI scores (back-fill and retry of the background judge)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import RagloopError
from core.settings import get_settings
from ragloop.cli.root import app
from ragloop.cli.support import iso_time, user_errors

feedback_app = typer.Typer(
    help="The feedback log: export for training, stats, spool sync, AI scores.", no_args_is_help=True
)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
@user_errors
def feedback_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
    since: Annotated[
        str | None, typer.Option(help="only records updated at or after (date/time, UTC)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="only records updated before (date/time, UTC)")] = None,
    adapter: Annotated[
        str | None, typer.Option(help="only answers of this adapter ('base': base model)")
    ] = None,
    rated_only: Annotated[bool, typer.Option("--rated-only", help="skip answers nobody rated")] = False,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or parquet")] = "jsonl",
) -> None:
    """Write feedback records (schema: docs/feedback-record.schema.json) for the training stage."""
    from feedback.export import export_store
    from feedback.protocols import FeedbackQuery
    from feedback.service import build_writer

    if fmt not in ("jsonl", "parquet"):
        raise RagloopError(f"--format must be jsonl or parquet, not {fmt!r}")
    writer = build_writer(get_settings())
    writer.drain()
    query = FeedbackQuery(
        since=iso_time(since), until=iso_time(until), adapter=adapter, rated_only=rated_only
    )
    n = export_store(writer.store, output, fmt, query)  # type: ignore[arg-type]
    typer.echo(f"exported {n} records to {output}")


@feedback_app.command("stats")
@user_errors
def feedback_stats(
    adapter: Annotated[str | None, typer.Option(help="only this adapter ('base': base model)")] = None,
) -> None:
    """Answers, ratings, rating distribution and the share of negative ratings."""
    from feedback.protocols import FeedbackQuery
    from feedback.schema import RATING_LABELS
    from feedback.service import build_writer

    writer = build_writer(get_settings())
    stats = writer.store.stats(FeedbackQuery(adapter=adapter))
    typer.echo(f"answers: {stats.answers}   rated: {stats.rated}   pending review: {stats.pending_review}")
    for rating, label in RATING_LABELS.items():
        count = stats.distribution[rating]
        share = count / stats.rated if stats.rated else 0.0
        typer.echo(f"  {rating} {label:<18} {count:6d}  {share:6.1%}  {'#' * round(share * 40)}")
    negative = stats.negative_share
    typer.echo(f"negative (<= 2): {'n/a' if negative is None else f'{negative:.1%}'}")
    typer.echo(f"waiting in the local spool: {len(writer.spool)}")


@feedback_app.command("sync")
@user_errors
def feedback_sync() -> None:
    """Send feedback spooled during a store outage."""
    from feedback.service import build_writer

    result = build_writer(get_settings()).drain()
    typer.echo(f"synced {result.sent}, still waiting {result.remaining}")
    if result.remaining:
        raise typer.Exit(1)


@feedback_app.command("schema")
def feedback_schema() -> None:
    """Print the JSON Schema of an exported feedback row."""
    import json

    from feedback.export import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@feedback_app.command("score")
@user_errors
def feedback_score(
    since: Annotated[
        str | None, typer.Option(help="only records updated at or after (date/time, UTC)")
    ] = None,
    judge_url: Annotated[str | None, typer.Option(help="OpenAI-compatible judge endpoint")] = None,
    judge_model: Annotated[str | None, typer.Option(help="model name at --judge-url")] = None,
    bedrock_model: Annotated[str | None, typer.Option(help="judge with this Amazon Bedrock model")] = None,
) -> None:
    """Give an AI score to every rated or corrected answer without a current one (back-fill and retry)."""
    from feedback.service import build_writer
    from ragloop.ai_feedback import build_ai_scorer

    settings = get_settings()
    writer = build_writer(settings)
    writer.drain()
    scorer = build_ai_scorer(
        settings, writer.store, judge_url=judge_url, judge_model=judge_model, bedrock_model=bedrock_model
    )
    result = scorer.sweep(since=iso_time(since), progress=True)
    typer.echo(f"scored {result.scored}, failed {result.failed} (judge: {scorer.scorer.identity['model']})")
    if result.failed:
        raise typer.Exit(1)


@feedback_app.command("agreement")
@user_errors
def feedback_agreement(
    since: Annotated[
        str | None, typer.Option(help="only records updated at or after (date/time, UTC)")
    ] = None,
    adapter: Annotated[str | None, typer.Option(help="only this adapter ('base': base model)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of Markdown")] = False,
) -> None:
    """Human vs AI: confusion table of ratings against AI scores, correlation, share differing by >= 2."""
    import json

    from feedback.agreement import agreement
    from feedback.protocols import FeedbackQuery
    from feedback.service import build_writer

    writer = build_writer(get_settings())
    result = agreement(writer.store.list(FeedbackQuery(since=iso_time(since), adapter=adapter)))
    typer.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.markdown())

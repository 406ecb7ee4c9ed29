"""``ragloop reviewed ...``: the reviewed-answers index (approved corrections used at answer time) —
list what is in use, rebuild it from the feedback store, retract one."""

from __future__ import annotations

from typing import Annotated

import typer

from core.settings import get_settings
from ragloop.cli.root import app
from ragloop.cli.support import user_errors

reviewed_app = typer.Typer(
    help="Reviewed answers: approved corrections the chain uses at once.", no_args_is_help=True
)
app.add_typer(reviewed_app, name="reviewed")


def _parts():
    from feedback.service import build_writer
    from rag.service import build_embedder, build_reviewed

    settings = get_settings()
    return settings, build_reviewed(settings, build_embedder(settings)), build_writer(settings)


@reviewed_app.command("rebuild")
@user_errors
def reviewed_rebuild() -> None:
    """Make the index hold exactly the approved corrections in the feedback store."""
    from ragloop.reviewed import approved_records, rebuild

    settings, index, writer = _parts()
    report = rebuild(index, approved_records(writer.store), include_rated=settings.reviewed.include_rated)
    typer.echo(f"{report.entries} reviewed answers in use; {report.removed} stale entries removed")


@reviewed_app.command("list")
@user_errors
def reviewed_list() -> None:
    """The reviewed answers in use, with who approved them and when."""
    from ragloop.reviewed import approved_records, entry_for

    settings, index, writer = _parts()
    in_index = index.ids()
    for record in approved_records(writer.store):
        entry = entry_for(record, settings.reviewed.include_rated)
        if entry is not None:
            mark = (
                ""
                if entry.feedback_id in in_index
                else "  (not in the index: run `ragloop reviewed rebuild`)"
            )
            typer.echo(f"{entry.feedback_id}  {entry.label()}  Q: {entry.question}{mark}")
    typer.echo(f"{len(in_index)} in the index")


@reviewed_app.command("retract")
@user_errors
def reviewed_retract(
    feedback_id: Annotated[str, typer.Argument(help="the feedback record of the reviewed answer")],
    reviewer: Annotated[str, typer.Option(help="who retracts it (recorded as the reviewer)")],
) -> None:
    """Stop using a reviewed answer now: it leaves the index and its correction is rejected."""
    from core.errors import RagloopError
    from ragloop.reviewed import retract

    _, index, writer = _parts()
    if retract(index, writer, feedback_id, reviewer) is None:
        raise RagloopError(f"no feedback record {feedback_id!r}")
    writer.drain()
    typer.echo(f"retracted {feedback_id}")

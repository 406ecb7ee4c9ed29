"""What every command group of the CLI shares: one-line user errors, time arguments, the judge options."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import typer

from core.errors import RagloopError
from core.settings import get_settings


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


def iso_time(value: str | None) -> str | None:
    """Accept a date or a datetime; naive values are UTC."""
    if value is None:
        return None
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RagloopError(
            f"{value!r} is not a date or time (use e.g. 2026-11-01 or 2026-11-01T12:00)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="microseconds")


def judge_from_options(judge_url: str | None, judge_model: str | None, bedrock_model: str | None):
    """The configured judge (``settings.judge``), or a chat judge at ``judge_url`` / on Bedrock when given."""
    from judge.factory import build_judge

    return build_judge(get_settings(), url=judge_url, model=judge_model, bedrock_model=bedrock_model)

"""Option stacks shared by several commands (in the manner of sqlite-utils' ``cli.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from qa.models import DATE_FORMAT, FILTER_FIELDS, FilterField, Mode

F = TypeVar("F", bound=Callable[..., Any])


def index_option(fn: F) -> F:
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Index folder [default: $PILCROW_INDEX or ./index].",
    )(fn)


class FilterValue(click.ParamType):
    """A filter's value as ``FilterField.value`` reads it, the rule the TUI applies too:
    ``--since yesterday`` is a usage error (exit 2), not a search that finds nothing."""

    def __init__(self, field: FilterField) -> None:
        self.field = field
        self.name = DATE_FORMAT if field.is_date else "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return self.field.value(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def filter_options(fn: F) -> F:
    """The metadata filters of ``ask``, one option per ``qa.models.FILTER_FIELDS`` entry."""
    for field in reversed(FILTER_FIELDS):
        metavar = DATE_FORMAT if field.is_date else None
        kind = FilterValue(field)
        fn = click.option(field.flag, field.name, type=kind, metavar=metavar, help=field.help)(fn)
    return fn


def mode_option(fn: F) -> F:
    return click.option(
        "--mode",
        type=click.Choice([mode.value for mode in Mode]),
        default=Mode.HYBRID.value,
        show_default=True,
        help="Dense (embeddings), lexical (BM25) or both fused.",
    )(fn)

"""Option stacks shared by several commands (in the manner of sqlite-utils' ``cli.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from qa.models import DATE_FORMAT, FILTER_FIELDS, Mode

F = TypeVar("F", bound=Callable[..., Any])


def index_option(fn: F) -> F:
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Index folder [default: $PILCROW_INDEX or ./index].",
    )(fn)


def filter_options(fn: F) -> F:
    """The metadata filters of ``ask``, one option per ``qa.models.FILTER_FIELDS`` entry."""
    for field in reversed(FILTER_FIELDS):
        metavar = DATE_FORMAT if field.is_date else None
        fn = click.option(field.flag, field.name, metavar=metavar, help=field.help)(fn)
    return fn


def mode_option(fn: F) -> F:
    return click.option(
        "--mode",
        type=click.Choice([mode.value for mode in Mode]),
        default=Mode.HYBRID.value,
        show_default=True,
        help="Dense (embeddings), lexical (BM25) or both fused.",
    )(fn)

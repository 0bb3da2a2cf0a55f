"""``qa tui``: the click command the core CLI finds through the ``qa.commands`` entry point."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def app_options(fn: F) -> F:
    """``--index`` and ``--corpus``, shared by ``qa tui`` and ``qa serve`` (the same app)."""
    fn = click.option(
        "--corpus",
        "corpus_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Corpus folder to build the index from when there is none "
        "[default: $PILCROW_CORPUS or ./corpus].",
    )(fn)
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Index folder [default: $PILCROW_INDEX or ./index].",
    )(fn)


@click.command()
@app_options
def tui(index_dir: Path | None, corpus_dir: Path | None) -> None:
    """Open the chat-style terminal UI: ask, read the cited paragraph, follow up.

    The window appears at once; the model loads in the background and questions typed
    meanwhile are answered as soon as it is ready. Press F1 inside for the keys.
    """
    from tui.app import PilcrowApp

    PilcrowApp(index_dir, corpus_dir).run()

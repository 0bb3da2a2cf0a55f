"""The ``qa`` group itself: logging set-up, plugin commands, and QAError → exit code.

stdout carries only data (answers, JSON); progress, warnings and errors go to stderr.
Every ``QAError`` becomes one line on stderr and its exit code.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import cache, wraps
from importlib.metadata import entry_points
from typing import Any, ParamSpec, TypeVar

import click

from qa import __version__
from qa.errors import QAError

P = ParamSpec("P")
R = TypeVar("R")
PLUGIN_GROUP = "qa.commands"


class QAGroup(click.Group):
    """Built-in commands plus ones other packages register (the TUI adds ``qa tui``).

    Entry points are only consulted for names that are not built in, so the core never
    imports the UI and ``qa ask`` pays nothing for plugin discovery.
    """

    def _plugins(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and (ep := self._plugins().get(cmd_name)):
            loaded = ep.load()
            return loaded if isinstance(loaded, click.Command) else None
        return command


class UserError(click.ClickException):
    """A QAError on its way out as one line on stderr; ``user_error`` gives its exit code."""

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


@cache
def _error_class(code: int) -> type[UserError]:
    """A UserError whose exit code is ``code`` (click declares ``exit_code`` on the class)."""
    return type(f"UserError{code}", (UserError,), {"exit_code": code})


def user_error(error: QAError) -> UserError:
    """The click exception that prints ``error`` and exits with its code."""
    return _error_class(int(error.exit_code))(str(error))


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn ``QAError`` into a one-line message and its exit code."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except QAError as exc:
            raise user_error(exc) from exc
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper


@click.group(cls=QAGroup)
@click.version_option(__version__, prog_name="qa")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """Pilcrow: ask questions of a document archive, get paragraphs with exact citations.

    \b
    Quick start:
      qa index                 # index ./corpus into ./index
      qa ask "How much did Kazakhstan seek in damages?"
      qa show 07MOSCOW5292 --paragraph 3
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if verbose < 2:
        for noisy in ("sentence_transformers", "transformers", "httpx", "huggingface_hub"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
